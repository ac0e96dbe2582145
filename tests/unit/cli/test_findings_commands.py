"""`findings show|summary` against botocore's Stubber: one-line errors, the posture table, progress on stderr."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from ecr_governance_cli.main import main
from ecr_governance_cli.scan_samples import demo_basic_findings, scan_findings_response
from ecr_governance_cli.target import AwsTarget
from registry_builders import load_event

DIGEST = "sha256:" + "d" * 64
PUSHED = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def stubbed_ecr(monkeypatch):
    client = boto3.client("ecr", region_name="ap-southeast-1")
    stubber = Stubber(client)
    stubber.activate()
    monkeypatch.setattr(AwsTarget, "client", lambda self, service: client)
    yield stubber
    stubber.assert_no_pending_responses()


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code, err) -> str:
    assert code == 1 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("ecr-governance: error: ")
    return line


def test_show_an_unknown_repository_is_one_line(stubbed_ecr, capsys):
    stubbed_ecr.add_client_error("describe_images", "RepositoryNotFoundException", "no such repository")
    code, _, err = run(capsys, "findings", "show", "--repository", "team/nope", "--tag", "v1")
    assert "repository not found: team/nope" in one_line_error(code, err)


def test_show_an_image_never_scanned_is_one_line(stubbed_ecr, capsys):
    stubbed_ecr.add_response(
        "describe_images",
        {"imageDetails": [{"repositoryName": "team/app", "imageDigest": DIGEST, "imageTags": ["v1"]}]},
    )
    stubbed_ecr.add_client_error("describe_image_scan_findings", "ScanNotFoundException", "Image scan does not exist")
    code, _, err = run(capsys, "findings", "show", "--repository", "team/app", "--tag", "v1")
    assert "DescribeImageScanFindings on team/app: Image scan does not exist" in one_line_error(code, err)


def test_show_takes_a_tag_or_a_digest_not_both(capsys):
    assert main(["findings", "show", "--repository", "team/app", "--tag", "v1", "--digest", DIGEST]) == 2


def test_a_bad_threshold_in_the_environment_names_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("ALERT_SEVERITY_THRESHOLD", "SEVERE")
    code, _, err = run(capsys, "findings", "summary")
    assert "ALERT_SEVERITY_THRESHOLD='SEVERE' is not valid" in one_line_error(code, err)


def test_show_lists_the_findings_at_or_above_the_severity_asked(stubbed_ecr, capsys):
    stubbed_ecr.add_response(
        "describe_images",
        {"imageDetails": [{"registryId": "123456789012", "imageDigest": DIGEST, "imageTags": ["v1", "latest"]}]},
    )
    stubbed_ecr.add_response(
        "describe_image_scan_findings", scan_findings_response("team/app", DIGEST, demo_basic_findings())
    )
    code, out, _ = run(capsys, "findings", "show", "--repository", "team/app", "--tag", "v1", "--severity", "MEDIUM")
    assert code == 0
    assert out.startswith("[CRITICAL] team/app:v1 - 1 critical, 3 high, 2 medium\n")
    assert "Tags:        v1, latest" in out and "CVE-2023-39804" in out and "CVE-2022-48303" not in out


def _repository(name: str) -> dict:
    return {
        "repositoryName": name,
        "repositoryArn": f"arn:aws:ecr:ap-southeast-1:123456789012:repository/{name}",
        "registryId": "123456789012",
        "repositoryUri": f"123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/{name}",
    }


def test_summary_reports_every_tagged_image_with_progress_on_stderr_and_keeps_going_past_a_failure(stubbed_ecr, capsys):
    names = [f"team/service-{i:02d}" for i in range(12)]
    stubbed_ecr.add_response("describe_repositories", {"repositories": [_repository(n) for n in names]})
    older_digest = "sha256:" + "0" * 64
    for index, name in enumerate(names):
        if index == 3:
            stubbed_ecr.add_client_error("describe_images", "AccessDeniedException", "denied")
            continue
        older = {"imageDigest": older_digest, "imagePushedAt": PUSHED, "imageTags": ["old"]}
        newest = {"imageDigest": DIGEST, "imagePushedAt": PUSHED + timedelta(days=1), "imageTags": [f"v{index}"]}
        # A signature pushed after both: untagged, it has no row and hides neither image's findings.
        signature = {"imageDigest": "sha256:" + "5" * 64, "imagePushedAt": PUSHED + timedelta(days=2)}
        stubbed_ecr.add_response("describe_images", {"imageDetails": [older, signature, newest]})
        for digest, critical in ((DIGEST, index % 2), (older_digest, 4)):
            request = {"repositoryName": name, "imageId": {"imageDigest": digest}, "maxResults": 1}
            if index == 5 and digest == DIGEST:
                stubbed_ecr.add_client_error("describe_image_scan_findings", "ScanNotFoundException", "never scanned")
                continue
            counts = {"CRITICAL": critical, "HIGH": 2, "LOW": 7}
            stubbed_ecr.add_response(
                "describe_image_scan_findings",
                scan_findings_response(name, digest, [], severity_counts=counts),
                request,
            )
    code, out, err = run(capsys, "findings", "summary")
    assert code == 1  # one repository could not be read: its ERROR row, and the others still print
    assert err.splitlines() == ["read 10/12 repositories", "read 12/12 repositories"]
    lines = out.splitlines()
    assert lines[0].split() == ["REPOSITORY", "IMAGE", "PUSHED", "SCAN", "CRITICAL", "HIGH", ">=", "HIGH"]
    rows = [line.split() for line in lines if line.startswith("team/service-01 ")]
    assert rows == [  # oldest push first, as every command's rows
        ["team/service-01", "old", "2026-11-01T00:00:00Z", "COMPLETE", "4", "2", "6"],  # older: still reported
        ["team/service-01", "v1", "2026-11-02T00:00:00Z", "COMPLETE", "1", "2", "3"],
    ]
    unscanned = [line for line in lines if line.startswith("team/service-05 ")][-1].split()  # its newest image
    assert unscanned[3:] == ["NOT_SCANNED", "-", "-", "-"]  # unknown, not zero
    assert next(line for line in lines if line.startswith("team/service-03 ")).split()[1:] == [
        "-",
        "-",
        "ERROR",
        "-",
        "-",
        "-",
    ]
    assert "team/service-03: access denied: DescribeImages" in out
    assert lines[-1] == "22 tagged images in 12 repositories: 21 with findings at or above HIGH, 1 not scanned"


def test_summary_writes_no_control_sequence_to_the_terminal(stubbed_ecr, capsys):
    message = "bad \x1b[2J\x1b]8;;https://x\x07 request"
    stubbed_ecr.add_client_error("describe_images", "InvalidParameterException", message)
    code, out, _ = run(capsys, "findings", "summary", "--repository", "team/app")
    assert code == 1 and "\x1b" not in out and "\x07" not in out  # its ERROR row
    assert "bad [2J ]8;;https[:]//x request" in out  # shown, defanged, harmless


# ---- redrive ----------------------------------------------------------------------------------------------------
FAILURES = "https://sqs.ap-southeast-1.amazonaws.com/123456789012/ScanFindingsFailures"
FINDINGS_QUEUE = "https://sqs.ap-southeast-1.amazonaws.com/123456789012/InspectorFindingsQueue"
FUNCTION = "arn:aws:lambda:ap-southeast-1:123456789012:function:ecr-governance-ScanFindingsFunction-1"


def _failure_record() -> str:
    return json.dumps(
        {
            "version": "1.0",
            "requestContext": {"functionArn": f"{FUNCTION}:$LATEST", "condition": "RetriesExhausted"},
            "requestPayload": load_event("findings/basic-scan-complete.json"),
            "responsePayload": {"errorMessage": "Publish failed: InternalError"},
        }
    )


@pytest.fixture
def stubbed_clients(monkeypatch):
    clients = {service: boto3.client(service, region_name="ap-southeast-1") for service in ("sqs", "lambda")}
    stubbers = {service: Stubber(client) for service, client in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    monkeypatch.setattr(AwsTarget, "client", lambda self, service: clients[service])
    yield stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()


def _messages(*bodies: str) -> dict:
    return {"Messages": [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": b} for i, b in enumerate(bodies)]}


def test_redrive_is_a_dry_run_that_lists_what_it_would_send_back(stubbed_clients, capsys):
    sqs = stubbed_clients["sqs"]
    sqs.add_response("receive_message", _messages(_failure_record(), "not json"))
    sqs.add_response("receive_message", {})
    for receipt in ("r0", "r1"):  # a dry run leaves every message visible again at once
        release = {"QueueUrl": FAILURES, "ReceiptHandle": receipt, "VisibilityTimeout": 0}
        sqs.add_response("change_message_visibility", {}, release)
    code, out, _ = run(capsys, "findings", "redrive", "--queue-url", FAILURES)
    assert code == 0
    rows = [line.split() for line in out.splitlines()[2:4]]
    assert rows[0][:4] == ["m0", "invoke", FUNCTION, "ECR"] and out.count("would redrive") == 1
    assert rows[1][:3] == ["m1", "unknown", "-"] and "left in place" in out
    assert "dry run: nothing was replayed or deleted" in out


def test_redrive_apply_replays_each_event_then_deletes_it_and_keeps_what_failed(stubbed_clients, capsys):
    sqs, lambda_ = stubbed_clients["sqs"], stubbed_clients["lambda"]
    event = load_event("findings/inspector2-finding.json")
    sqs.add_response("receive_message", _messages(_failure_record(), json.dumps(event), _failure_record()))
    lambda_.add_response(
        "invoke",
        {"StatusCode": 202},
        {
            "FunctionName": FUNCTION,
            "InvocationType": "Event",
            "Payload": json.dumps(load_event("findings/basic-scan-complete.json")),
        },
    )
    sqs.add_response("delete_message", {}, {"QueueUrl": FAILURES, "ReceiptHandle": "r0"})
    sqs.add_response("send_message", {"MessageId": "x"}, {"QueueUrl": FINDINGS_QUEUE, "MessageBody": json.dumps(event)})
    sqs.add_response("delete_message", {}, {"QueueUrl": FAILURES, "ReceiptHandle": "r1"})
    lambda_.add_client_error("invoke", "TooManyRequestsException", "slow down", http_status_code=429)
    sqs.add_response("receive_message", {})
    release = {"QueueUrl": FAILURES, "ReceiptHandle": "r2", "VisibilityTimeout": 0}
    sqs.add_response("change_message_visibility", {}, release)  # the failed one stays, visible at once
    argv = [
        "findings",
        "redrive",
        "--queue-url",
        FAILURES,
        "--to-queue-url",
        FINDINGS_QUEUE,
        "--apply",
        "--output",
        "json",
    ]
    code, out, _ = run(capsys, *argv)
    report = json.loads(out)
    assert code == 1 and (report["redriven"], report["failed"]) == (2, 1)
    assert [m["result"][:8] for m in report["messages"]] == ["redriven", "redriven", "failed: "]
