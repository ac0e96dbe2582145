"""Continuous scanning end to end on the embedded emulator (moto server over real HTTP), through the real handlers:
Inspector finding events as SQS delivers them to InspectorFindingsFunction, next to ScanFindingsFunction's scan
alerts, both writing the alert ledger (a real DynamoDB table) and publishing to a real SNS topic read back by an SQS
subscriber. moto has no Inspector: the events are the sample files, moved to the images the tests push.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import boto3
import pytest
from ecr_governance.aws.lambda_invoke import LambdaInvoker
from ecr_governance_cli.local_invoke import invoke_function
from ecr_governance_cli.main import main
from ecr_governance_cli.scan_samples import queue_scan_findings, scan_findings_response
from findings_stack import findings_stack, received
from registry_builders import REGION, TEMPLATE, load_event, push_image

pytestmark = pytest.mark.integration
ACCOUNT = "123456789012"
INSPECTOR = "InspectorFindingsFunction"
SCAN = "ScanFindingsFunction"


@pytest.fixture
def alerts(emulator_endpoint: str) -> dict[str, Any]:
    return findings_stack()


def finding_event(repository: str, digest: str, cve: str, status: str = "ACTIVE", at: str = "") -> dict[str, Any]:
    """The sample Inspector2 Finding event, about `cve` in this image."""
    event = copy.deepcopy(load_event("findings/inspector2-finding.json"))
    detail = event["detail"]
    detail["findingArn"] = f"arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/{abs(hash((repository, digest, cve))):x}"
    detail["packageVulnerabilityDetails"]["vulnerabilityId"] = cve
    detail["status"] = status
    detail["updatedAt"] = at or detail["updatedAt"]
    (resource,) = detail["resources"]
    resource["id"] = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}/{digest}"
    resource["details"]["awsEcrContainerImage"].update(repositoryName=repository, imageHash=digest, imageTags=["1.0"])
    return event


def sqs_batch(events: list[dict[str, Any]]) -> dict[str, Any]:
    record = load_event("findings/inspector2-finding-sqs.json")["Records"][0]
    return {
        "Records": [
            {**record, "messageId": f"message-{index}", "body": json.dumps(event)} for index, event in enumerate(events)
        ]
    }


def invoke(function: str, event: dict[str, Any], deployed: dict[str, str]) -> dict[str, Any]:
    return invoke_function(str(TEMPLATE), function, event, {}, deployed)


def test_the_sample_finding_event_delivered_twice_publishes_one_alert_naming_repository_image_and_cve(alerts):
    sample = load_event("findings/inspector2-finding-sqs.json")
    assert invoke(INSPECTOR, sample, alerts["deployed"]) == {"batchItemFailures": []}
    assert invoke(INSPECTOR, sample, alerts["deployed"]) == {"batchItemFailures": []}  # SQS delivered it again
    (message,) = received(alerts)
    assert message["Subject"] == "[HIGH] CVE-2023-3817 (openssl) in 1 image, 1 repository"
    body = message["Message"]
    (resource,) = body["resources"]
    assert resource["name"] == "mlops/retail-api:1.4.3" and resource["data"]["imageDigest"].startswith("sha256:36c7")
    assert body["vulnerabilities"][0]["cve"]["uid"] == "CVE-2023-3817"


def test_one_advisory_reaching_200_images_across_30_repositories_is_one_alert(alerts):
    events = [finding_event(f"team-{i % 30:02d}/api", "sha256:" + f"{i:064x}", "CVE-2026-1000") for i in range(200)]
    assert invoke(INSPECTOR, sqs_batch(events), alerts["deployed"]) == {"batchItemFailures": []}
    (message,) = received(alerts)
    assert message["Subject"] == "[HIGH] CVE-2026-1000 (openssl) in 200 images, 30 repositories"
    assert message["Message"]["unmapped"]["imagesAffected"] == 200
    items = alerts["dynamodb"].scan(TableName="alert-ledger")["Items"]
    assert len(items) == 200 and {item["state"]["S"] for item in items} == {"ACTIVE"}


def test_a_closed_finding_is_reported_resolved_in_the_same_grouped_way(alerts):
    invoke(INSPECTOR, load_event("findings/inspector2-finding-sqs.json"), alerts["deployed"])
    invoke(INSPECTOR, load_event("findings/inspector2-finding-closed-sqs.json"), alerts["deployed"])
    subjects = [message["Subject"] for message in received(alerts)]
    assert subjects == [
        "[HIGH] CVE-2023-3817 (openssl) in 1 image, 1 repository",
        "[RESOLVED] CVE-2023-3817 (openssl) no longer found in 1 image, 1 repository",
    ]


ENHANCED_CVES = ("CVE-2026-2001", "CVE-2026-2002", "CVE-2026-2003")


@pytest.fixture
def enhanced_push(ecr, emulator_endpoint: str) -> dict[str, Any]:
    """An image pushed and scanned by Inspector: DescribeImageScanFindings answers its enhanced findings; the
    Inspector2 Scan event and the Inspector2 Finding events of those findings, moved to that image."""
    repository = "mlops/retail-api"
    ecr.create_repository(repositoryName=repository)
    digest = push_image(ecr, repository, "release-2.0", tag="2.0")
    ecr.start_image_scan(repositoryName=repository, imageId={"imageDigest": digest})
    response = scan_findings_response(repository, digest, [])
    response["imageScanFindings"]["enhancedFindings"] = [
        {key: value for key, value in finding_event(repository, digest, cve)["detail"].items() if key != "resources"}
        for cve in ENHANCED_CVES
    ]
    response["imageScanFindings"]["findingSeverityCounts"] = {"HIGH": 3}
    queue_scan_findings(emulator_endpoint, REGION, response)
    scan = copy.deepcopy(load_event("findings/inspector2-scan-complete.json"))
    scan["detail"].update(
        {"image-digest": digest, "image-tags": ["2.0"], "finding-severity-counts": {"HIGH": 3, "TOTAL": 3}}
    )
    return {"scan": scan, "findings": sqs_batch([finding_event(repository, digest, cve) for cve in ENHANCED_CVES])}


@pytest.mark.parametrize("scan_first", [True, False], ids=["scan-event-first", "finding-events-first"])
def test_a_push_with_enhanced_scanning_tells_the_team_each_vulnerability_once(alerts, enhanced_push, scan_first):
    steps = [(SCAN, enhanced_push["scan"]), (INSPECTOR, enhanced_push["findings"])]
    for function, event in steps if scan_first else reversed(steps):
        invoke(function, event, alerts["deployed"])
    messages = received(alerts)
    assert len(messages) == (1 if scan_first else 3)  # one scan alert, or one advisory per CVE
    told = Counter()
    for message in messages:
        told.update(vulnerability["cve"]["uid"] for vulnerability in message["Message"]["vulnerabilities"])
    assert told == Counter(dict.fromkeys(ENHANCED_CVES, 1))


# ---- redrive -----------------------------------------------------------------------------------------------------
def test_redrive_replays_failed_scan_events_through_the_function_and_empties_the_queue(
    alerts,
    enhanced_push,
    monkeypatch,
    capsys,
):
    sqs = boto3.client("sqs", region_name=REGION)
    failures = sqs.create_queue(QueueName="ScanFindingsFailures")["QueueUrl"]
    record = {
        "version": "1.0",
        "requestContext": {"functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{SCAN}:$LATEST"},
        "requestPayload": enhanced_push["scan"],
        "responsePayload": {"errorMessage": "Publish failed: InternalError"},
    }
    sqs.send_message(QueueUrl=failures, MessageBody=json.dumps(record))
    replayed = []
    # The emulator runs no Lambda: the replay goes through the real handler in-process, as Lambda would run it.
    monkeypatch.setattr(
        LambdaInvoker,
        "invoke_async",
        lambda self, function, payload: replayed.append(
            invoke(function.rsplit(":", 1)[-1], payload, alerts["deployed"])
        ),
    )
    assert main(["findings", "redrive", "--queue-url", failures]) == 0
    assert "would redrive" in capsys.readouterr().out and replayed == []
    assert main(["findings", "redrive", "--queue-url", failures, "--apply", "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["redriven"] == 1 and replayed[0]["status"] == "alerted"
    assert [message["Subject"] for message in received(alerts)] == ["[HIGH] mlops/retail-api:2.0 - 3 high (3 fixable)"]
    attributes = sqs.get_queue_attributes(QueueUrl=failures, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_redrive_sends_dead_lettered_finding_events_back_to_the_findings_queue(emulator_endpoint, capsys):
    sqs = boto3.client("sqs", region_name=REGION)
    dead_letters = sqs.create_queue(QueueName="InspectorFindingsDeadLetterQueue")["QueueUrl"]
    findings_queue = sqs.create_queue(QueueName="InspectorFindingsQueue")["QueueUrl"]
    event = load_event("findings/inspector2-finding.json")
    sqs.send_message(QueueUrl=dead_letters, MessageBody=json.dumps(event))
    argv = ["findings", "redrive", "--queue-url", dead_letters, "--to-queue-url", findings_queue, "--apply"]
    assert main(argv) == 0
    assert "1 redriven, 0 failed" in capsys.readouterr().out
    (message,) = sqs.receive_message(QueueUrl=findings_queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(message["Body"]) == event
