"""`findings show|summary` against botocore's Stubber: one-line errors, the posture table, progress on stderr."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from ecr_governance_cli.main import main
from ecr_governance_cli.scan_samples import demo_basic_findings, scan_findings_response
from ecr_governance_cli.target import AwsTarget

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


def test_summary_walks_every_repository_with_progress_on_stderr_and_keeps_going_past_a_failure(stubbed_ecr, capsys):
    names = [f"team/service-{i:02d}" for i in range(12)]
    stubbed_ecr.add_response("describe_repositories", {"repositories": [_repository(n) for n in names]})
    for index, name in enumerate(names):
        if index == 3:
            stubbed_ecr.add_client_error("describe_images", "AccessDeniedException", "denied")
            continue
        older = {"imageDigest": "sha256:" + "0" * 64, "imagePushedAt": PUSHED, "imageTags": ["old"]}
        newest = {"imageDigest": DIGEST, "imagePushedAt": PUSHED + timedelta(days=1), "imageTags": [f"v{index}"]}
        stubbed_ecr.add_response("describe_images", {"imageDetails": [older, newest]})
        if index == 5:
            stubbed_ecr.add_client_error("describe_image_scan_findings", "ScanNotFoundException", "never scanned")
            continue
        response = scan_findings_response(
            name, DIGEST, [], severity_counts={"CRITICAL": index % 2, "HIGH": 2, "LOW": 7}
        )
        stubbed_ecr.add_response(
            "describe_image_scan_findings",
            response,
            {"repositoryName": name, "imageId": {"imageDigest": DIGEST}, "maxResults": 1},
        )
    code, out, err = run(capsys, "findings", "summary")
    assert code == 1  # one repository could not be read: its ERROR row, and the others still print
    assert err.splitlines() == ["read 10/12 repositories", "read 12/12 repositories"]
    lines = out.splitlines()
    assert lines[0].split() == ["REPOSITORY", "NEWEST", "IMAGE", "PUSHED", "SCAN", "CRITICAL", "HIGH", ">=", "HIGH"]
    row = next(line for line in lines if line.startswith("team/service-01 "))
    assert row.split() == ["team/service-01", "v1", "2026-11-02T00:00:00Z", "COMPLETE", "1", "2", "3"]
    unscanned = next(line for line in lines if line.startswith("team/service-05 ")).split()
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
    assert lines[-1] == "12 repositories: 10 with findings at or above HIGH, 1 not scanned"
