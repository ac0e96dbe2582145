"""Scan-findings alerts end to end on the embedded emulator (moto server over real HTTP), through the real handler.

The handler runs via `invoke_function` with template.yaml's environment, as `ecr-governance invoke` runs it, plus
what the deployed stack resolves (a real SNS topic with an SQS subscriber, a real DynamoDB idempotency table).
moto emits no scan events and pages no findings: the tests push an image, start its scan, queue its findings
(moto's scan-finding-results API) and drive the handler with the sample event adjusted to that image.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from ecr_governance_cli.local_invoke import invoke_function
from ecr_governance_cli.main import main
from ecr_governance_cli.scan_samples import demo_basic_findings, queue_scan_findings, scan_findings_response
from findings_stack import findings_stack, received
from registry_builders import REGION, TEMPLATE, load_event, push_image

pytestmark = pytest.mark.integration
REPOSITORY = "mlops/retail-api"
FUNCTION = "ScanFindingsFunction"


@pytest.fixture
def scanned_image(ecr, emulator_endpoint: str) -> str:
    """A pushed, scanned image whose findings are the demo's (1 critical, 3 high, 4 below); returns its digest."""
    ecr.create_repository(repositoryName=REPOSITORY)
    digest = push_image(ecr, REPOSITORY, "release-1.4.2", tag="1.4.2")
    ecr.start_image_scan(repositoryName=REPOSITORY, imageId={"imageDigest": digest})
    queue_scan_findings(emulator_endpoint, REGION, scan_findings_response(REPOSITORY, digest, demo_basic_findings()))
    return digest


@pytest.fixture
def alerts(emulator_endpoint: str) -> dict[str, Any]:
    return findings_stack()


def scan_event(digest: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("findings/basic-scan-complete.json"))
    event["detail"]["image-digest"] = digest
    return event


def invoke(event: dict[str, Any], deployed: dict[str, str] | None = None, **overrides: str) -> dict[str, Any]:
    return invoke_function(str(TEMPLATE), FUNCTION, event, overrides, deployed or {})


def test_a_completed_scan_reaches_an_sqs_subscriber_as_an_ocsf_finding(scanned_image, alerts):
    result = invoke(scan_event(scanned_image), alerts["deployed"])
    assert result["status"] == "alerted" and result["findingsAlerted"] == 4
    (message,) = received(alerts)
    body = message["Message"]
    assert (body["class_uid"], body["metadata"]["version"]) == (2002, "1.4.0")
    (resource,) = body["resources"]
    assert resource["data"]["imageDigest"] == scanned_image and resource["data"]["imageTags"] == ["1.4.2"]
    ids = [vulnerability["cve"]["uid"] for vulnerability in body["vulnerabilities"]]
    assert ids == ["CVE-2024-6387", "CVE-2023-4911", "CVE-2023-5363", "CVE-2024-2961"]
    assert body["unmapped"]["counts"]["scan"] == {"CRITICAL": 1, "HIGH": 3, "MEDIUM": 2, "LOW": 1, "INFORMATIONAL": 1}
    assert message["Subject"] == "[CRITICAL] mlops/retail-api:1.4.2 - 1 critical, 3 high"
    attributes = {name: value["Value"] for name, value in message["MessageAttributes"].items()}
    assert attributes == {"alert": "scan", "severity": "CRITICAL", "repository": REPOSITORY}


def test_the_same_event_twice_sends_one_alert_and_a_rescan_repeats_nothing(scanned_image, alerts):
    event = scan_event(scanned_image)
    first = invoke(event, alerts["deployed"])
    second = invoke(event, alerts["deployed"])  # a fresh import: a new execution environment, as a retry may be
    assert first["status"] == "alerted" and second == {**first, "duplicate": True}
    assert len(received(alerts)) == 1
    # Another scan of the same image finds the same vulnerabilities: the ledger says they were alerted.
    rescan = {**event, "time": "2026-11-21T02:36:48Z"}
    again = invoke(rescan, alerts["deployed"])
    assert again["status"] == "already_alerted" and again["previouslyAlerted"] == 4
    assert received(alerts) == []


def test_an_image_deleted_before_its_findings_are_read_is_a_no_op(ecr, scanned_image, alerts):
    ecr.batch_delete_image(repositoryName=REPOSITORY, imageIds=[{"imageDigest": scanned_image}])
    result = invoke(scan_event(scanned_image), alerts["deployed"])
    assert result["status"] == "image_gone" and result["detail"] == "ImageNotFoundException"
    assert received(alerts) == []


def test_suppressions_from_the_ssm_parameter_hold_findings_back(scanned_image, alerts):
    document = [{"id": "CVE-2024-6387", "repositories": ["mlops/*"], "expires": "2099-12-31", "reason": "SEC-9"}]
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/ecr-governance/suppressions", Type="String", Value=json.dumps(document)
    )
    result = invoke(
        scan_event(scanned_image), alerts["deployed"], SuppressionsParameterName="/ecr-governance/suppressions"
    )
    assert result["findingsSuppressed"] == 1 and result["highestSeverity"] == "HIGH"
    (message,) = received(alerts)
    assert message["Message"]["unmapped"]["suppressions"][0]["reason"] == "SEC-9"


def test_basic_findings_are_imported_into_security_hub_and_archived_once_the_image_is_deleted(
    ecr, scanned_image, alerts
):
    result = invoke(scan_event(scanned_image), alerts["deployed"], ImportBasicFindingsToSecurityHub="true")
    assert result["securityHubImported"] == 4 and result["securityHubFailed"] == 0
    securityhub = boto3.client("securityhub", region_name=REGION)
    findings = securityhub.get_findings()["Findings"]
    alerted = ("CVE-2024-6387", "CVE-2023-4911", "CVE-2023-5363", "CVE-2024-2961")
    assert sorted(f["GeneratorId"] for f in findings) == sorted(f"ecr-governance/basic-scan/{cve}" for cve in alerted)
    ecr.batch_delete_image(repositoryName=REPOSITORY, imageIds=[{"imageDigest": scanned_image}])
    deleted = copy.deepcopy(load_event("findings/image-deleted.json"))
    deleted["detail"]["image-digest"] = scanned_image
    outcome = invoke(deleted, alerts["deployed"], ImportBasicFindingsToSecurityHub="true")
    assert outcome["status"] == "image_deleted" and outcome["securityHubArchived"] == 4
    assert {f["RecordState"] for f in securityhub.get_findings()["Findings"]} == {"ARCHIVED"}


def test_a_failed_scan_sends_one_not_scanned_notice(ecr, alerts):
    failed = load_event("findings/basic-scan-failed.json")
    first = invoke(failed, alerts["deployed"])
    again = invoke({**failed, "id": "another-delivery"}, alerts["deployed"])  # the same image and reason
    assert first["status"] == again["status"] == "not_scanned" and first["detail"] == "FAILED"
    (message,) = received(alerts)
    assert message["Subject"] == "[NOT SCANNED] team-search/indexer:dev-4 - FAILED"
    assert message["Message"]["reason"] == "FAILED" and "the scan failed" in message["Message"]["meaning"]


def test_a_bad_suppressions_entry_is_named_in_the_alert_and_the_others_apply(scanned_image, alerts):
    document = [
        {"id": "CVE-2024-6387", "expires": "2099-12-31", "reason": "SEC-9"},
        {"id": "CVE-2023-4911", "expires": "2026-13-01", "reason": "typo"},
    ]
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/ecr-governance/suppressions", Type="String", Value=json.dumps(document)
    )
    result = invoke(
        scan_event(scanned_image), alerts["deployed"], SuppressionsParameterName="/ecr-governance/suppressions"
    )
    assert result["status"] == "alerted" and result["findingsSuppressed"] == 1 and result["suppressionProblems"] == 1
    (message,) = received(alerts)
    assert message["Message"]["unmapped"]["suppressionProblems"] == [
        "suppressions parameter /ecr-governance/suppressions: suppressions[1] (id 'CVE-2023-4911'): "
        "expires '2026-13-01' is not a date"
    ]


def test_without_a_topic_the_alert_is_logged_and_idempotency_is_off(scanned_image, capsys):
    result = invoke(scan_event(scanned_image))  # what `ecr-governance invoke` does: deployed resources left empty
    assert result["status"] == "alerted"
    logs = capsys.readouterr().err
    assert "idempotency disabled: IDEMPOTENCY_TABLE_NAME is empty" in logs
    assert "alert not sent: no alerts topic configured" in logs and "CVE-2024-6387" in logs


def test_findings_show_prints_the_report_the_alert_carries(scanned_image, emulator_endpoint, capsys):
    code = main(["--endpoint-url", emulator_endpoint, "findings", "show", "--repository", REPOSITORY, "--tag", "1.4.2"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("[CRITICAL] mlops/retail-api:1.4.2 - 1 critical, 3 high")
    assert "CVE-2024-6387" in out and "CVE-2024-0727" not in out  # MEDIUM is below the default threshold
    code = main(
        ["--endpoint-url", emulator_endpoint, "findings", "show", "--repository", REPOSITORY, "--digest",
         scanned_image, "--severity", "MEDIUM", "--output", "json"]
    )  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["unmapped"]["findingsAlerted"] == 6
    assert document["resources"][0]["data"]["imageTags"] == ["1.4.2"]


def test_findings_summary_counts_each_tagged_image(ecr, scanned_image, emulator_endpoint, capsys):
    ecr.create_repository(repositoryName="team-a/never-scanned")
    push_image(ecr, "team-a/never-scanned", "one", tag="v1")
    ecr.create_repository(repositoryName="team-b/empty")
    code = main(["--endpoint-url", emulator_endpoint, "findings", "summary", "--output", "json"])
    rows = {row["repositoryName"]: row for row in json.loads(capsys.readouterr().out)["repositories"]}
    assert code == 0
    assert rows[REPOSITORY]["imageTags"] == ["1.4.2"] and rows[REPOSITORY]["findingSeverityCounts"]["CRITICAL"] == 1
    assert rows[REPOSITORY]["atOrAboveThreshold"] == 4
    assert rows["team-a/never-scanned"]["scanStatus"] == "NOT_SCANNED"
    assert rows["team-a/never-scanned"]["findingSeverityCounts"] is None  # unknown, not zeros
    assert rows["team-b/empty"]["scanStatus"] == "NO_IMAGES"


@pytest.mark.parametrize(
    ("sample", "status"),
    [
        ("basic-scan-complete.json", "image_gone"),  # the sample's image is not in the emulator
        ("basic-scan-complete-untagged.json", "image_gone"),
        ("inspector2-scan-complete.json", "image_gone"),
        ("basic-scan-failed.json", "not_scanned"),
        ("image-deleted.json", "image_deleted"),
    ],
)
def test_every_sample_event_runs_through_the_invoke_command(emulator_endpoint, capsys, sample, status):
    event_file = str(TEMPLATE.parent / "events" / "findings" / sample)
    code = main(["--endpoint-url", emulator_endpoint, "invoke", FUNCTION, "--event", event_file])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["status"] == status


@pytest.mark.parametrize("registry_api", ["core", "aws"], ids=["not-asked", "asked-without-the-api"])
def test_an_image_that_must_be_signed_is_alerted_saying_its_signing_status_could_not_be_read(
    scanned_image, alerts, registry_api
):
    """moto has no DescribeImageSigningStatus: with RegistryApi=core it is not asked, with `aws` it is asked and
    fails over real HTTP. Either way the findings alert goes out, saying the signing status was not read."""
    result = invoke(
        scan_event(scanned_image), alerts["deployed"], SignedRepositoryPatterns="mlops/*", RegistryApi=registry_api
    )
    assert result["status"] == "alerted" and result["findingsAlerted"] == 4 and result["signingUnread"] == 1
    (message,) = received(alerts)
    signing = message["Message"]["unmapped"]["signing"]
    assert signing["statuses"] == [] and signing["unread"]
    assert ("RegistryApi=core" in signing["unread"]) is (registry_api == "core")
