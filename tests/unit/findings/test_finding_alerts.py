"""Inspector's finding events (continuous scanning), parsed, grouped and alerted against in-memory ports: one alert
per vulnerability per batch naming every image, resolved ones reported as resolved, Inspector's suppressed ones not
at all, duplicates and what a scan alert already sent left out, a failed advisory failing only its own messages -
and no event, however damaged, escaping the handler."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ecr_governance.errors import AwsError, InvalidEvent
from ecr_governance.findings.finding_alerts import FindingEventsAlerter
from ecr_governance.findings.finding_events import FindingStatus, parse_finding_event
from ecr_governance.findings.ledger import EntryState, GuardedPublisher, vulnerability_entry
from ecr_governance.findings.normalize import Severity
from ecr_governance.findings.reader import RulesReader
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.location import Location
from ecr_governance_cli.local_invoke import LocalLambdaContext
from event_mutations import mutated_events
from findings_fakes import FixedSuppressions, InMemoryLedger, RecordingPublisher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from property_budget import examples
from registry_builders import load_event

OWN = Location("aws", "123456789012", "ap-southeast-1")
SAMPLE = load_event("findings/inspector2-finding.json")
DIGEST = "sha256:" + "3" * 64


def finding_event(  # noqa: PLR0913, PLR0917 - a builder: one argument per event field it moves
    repository: str = "mlops/retail-api",
    digest: str = DIGEST,
    cve: str = "CVE-2023-3817",
    status: str = "ACTIVE",
    updated_at: str = "Nov 21, 2026, 6:02:30 AM",
    severity: str = "HIGH",
    tags: tuple[str, ...] = ("1.4.3",),
    arn_suffix: str = "",
) -> dict[str, Any]:
    """The sample event, moved to another image / vulnerability / status."""
    event = copy.deepcopy(SAMPLE)
    detail = event["detail"]
    suffix = arn_suffix or f"{abs(hash((repository, digest, cve))) % 10**12:012x}"
    detail["findingArn"] = f"arn:aws:inspector2:ap-southeast-1:123456789012:finding/{suffix}"
    detail["status"], detail["updatedAt"], detail["severity"] = status, updated_at, severity
    detail["packageVulnerabilityDetails"]["vulnerabilityId"] = cve
    (resource,) = detail["resources"]
    resource["id"] = f"arn:aws:ecr:ap-southeast-1:123456789012:repository/{repository}/{digest}"
    image = resource["details"]["awsEcrContainerImage"]
    image.update(repositoryName=repository, imageHash=digest, imageTags=list(tags))
    return event


def batch(*events: dict[str, Any]) -> list:
    return [(f"message-{index}", parse_finding_event(event, OWN)) for index, event in enumerate(events)]


def alerter(publisher=None, ledger=None, suppressions=None, threshold=Severity.HIGH) -> FindingEventsAlerter:
    settings = FindingsSettings(severity_threshold=threshold, suppressions_parameter_name="/s")
    return FindingEventsAlerter(
        RulesReader(settings, suppressions),
        GuardedPublisher(ledger or InMemoryLedger(), publisher or RecordingPublisher()),
    )


# ---- parsing -----------------------------------------------------------------------------------------------------
def test_the_documented_sample_parses_into_the_finding_and_its_image():
    event = parse_finding_event(SAMPLE, OWN)
    assert event.status is FindingStatus.ACTIVE and event.updated_at == "2026-11-21T06:02:30Z"
    assert event.finding.id == "CVE-2023-3817" and event.finding.score == 7.5 and event.finding.fix_available
    (image,) = event.images
    assert (image.repository_name, image.tags) == ("mlops/retail-api", ("1.4.3", "latest"))
    assert event.finding_arn.endswith("/be674aaddd0f75ac632055c0ffee1234")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.update(status="REOPENED"), "detail.status 'REOPENED' is not ACTIVE, SUPPRESSED or CLOSED"),
        (lambda d: d.update(updatedAt="yesterday"), "detail.updatedAt 'yesterday' is not a time"),
        (lambda d: d.update(findingArn="arn:aws:inspector2:x"), "detail.findingArn"),
        (lambda d: d.update(awsAccountId="210987654321"), "awsAccountId is not the account of the finding's image"),
        (lambda d: d["resources"][0].update(type="AWS_EC2_INSTANCE"), "names no AWS_ECR_CONTAINER_IMAGE"),
        (
            lambda d: d["resources"][0].update(
                id="arn:aws-cn:ecr:ap-southeast-1:123456789012:repository/mlops/retail-api/" + DIGEST
            ),
            "the image is from aws-cn account 123456789012",  # another partition: refused like another account
        ),
        (
            lambda d: d["resources"][0]["details"]["awsEcrContainerImage"].update(repositoryName="other/repo"),
            "names another image than the resource's id",
        ),
    ],
)
def test_a_malformed_or_foreign_finding_event_is_rejected_with_a_reason(change, reason):
    event = copy.deepcopy(SAMPLE)
    change(event["detail"])
    with pytest.raises(InvalidEvent, match=reason.replace("(", r"\(")):
        parse_finding_event(event, OWN)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events([SAMPLE]))
def test_parsing_a_damaged_finding_event_never_raises_anything_but_invalid_event(event):
    try:
        parsed = parse_finding_event(event, OWN)
    except InvalidEvent:
        return
    assert parsed.images and isinstance(parsed.finding.id, str)


# ---- grouping and alerting -------------------------------------------------------------------------------------
def test_one_advisory_reaching_200_images_in_30_repositories_is_one_alert():
    events = [
        finding_event(f"team-{index % 30:02d}/service", "sha256:" + f"{index:064x}", tags=(f"v{index}",))
        for index in range(200)
    ]
    publisher = RecordingPublisher()
    outcome = alerter(publisher).alert_batch(batch(*events))
    (notice,) = publisher.notices
    assert notice.subject == "[HIGH] CVE-2023-3817 (openssl) in 200 images, 30 repositories"
    assert outcome.advisories_published == 1 and outcome.images_alerted == 200 and not outcome.failed_messages
    assert outcome.published_by_severity == {Severity.HIGH: 1}  # the dashboard's alerts by severity
    assert (
        "team-00/service (7): " in notice.text
        and "Package:     openssl 3.0.9-1 - fixed in 3.0.11-1~deb12u1" in notice.text
    )
    document = json.loads(notice.bodies["sqs"])
    assert document["class_uid"] == 2002 and len(document["resources"]) == 200
    assert document["vulnerabilities"][0]["cve"]["uid"] == "CVE-2023-3817"
    assert notice.attributes == {"alert": "advisory", "severity": "HIGH"}  # many repositories: no single one


def test_each_vulnerability_of_a_batch_is_its_own_alert_most_severe_first():
    publisher = RecordingPublisher()
    alerter(publisher).alert_batch(
        batch(finding_event(cve="CVE-1", severity="HIGH"), finding_event(cve="CVE-2", severity="CRITICAL"))
    )
    assert [n.subject.split()[1] for n in publisher.notices] == ["CVE-2", "CVE-1"]


def test_the_same_event_delivered_twice_or_in_two_batches_alerts_once():
    publisher, ledger = RecordingPublisher(), InMemoryLedger()
    event = finding_event()
    first = alerter(publisher, ledger).alert_batch(batch(event, event))
    again = alerter(publisher, ledger).alert_batch(batch(event))
    assert len(publisher.notices) == 1 and first.skipped["superseded_or_duplicate"] == 1
    assert again.previously_alerted == 1 and again.advisories_published == 0


def test_a_closed_finding_is_reported_resolved_and_a_suppressed_one_not_at_all():
    publisher, ledger = RecordingPublisher(), InMemoryLedger()
    alerter(publisher, ledger).alert_batch(batch(finding_event()))
    closed = finding_event(status="CLOSED", updated_at="Nov 24, 2026, 10:15:02 AM")
    suppressed = finding_event(cve="CVE-9", status="SUPPRESSED")
    outcome = alerter(publisher, ledger).alert_batch(batch(closed, suppressed))
    assert [n.subject for n in publisher.notices][
        1
    ] == "[RESOLVED] CVE-2023-3817 (openssl) no longer found in 1 image, 1 repository"
    assert outcome.resolved_published == 1 and outcome.skipped["suppressed_by_inspector"] == 1
    assert publisher.notices[1].attributes["alert"] == "resolved"
    assert json.loads(publisher.notices[1].bodies["sqs"])["status_id"] == 4  # OCSF: Resolved


def test_an_older_event_delivered_late_never_reopens_what_a_newer_one_closed():
    publisher, ledger = RecordingPublisher(), InMemoryLedger()
    active = finding_event(updated_at="Nov 21, 2026, 6:02:30 AM")
    closed = finding_event(status="CLOSED", updated_at="Nov 24, 2026, 10:15:02 AM")
    alerter(publisher, ledger).alert_batch(batch(active, closed))  # the latest event of a finding decides
    assert [n.subject.split()[0] for n in publisher.notices] == ["[RESOLVED]"]
    alerter(publisher, ledger).alert_batch(batch(active))  # a redelivery of the older ACTIVE event
    assert len(publisher.notices) == 1


def test_what_the_scan_alert_already_sent_is_left_out():
    ledger = InMemoryLedger()
    event = parse_finding_event(finding_event(), OWN)
    ledger.confirm([vulnerability_entry(event.images[0], "CVE-2023-3817", EntryState.ACTIVE, "2026-11-21T06:00:00Z")])
    other = finding_event(digest="sha256:" + "4" * 64)
    publisher = RecordingPublisher()
    outcome = alerter(publisher, ledger).alert_batch(batch(finding_event(), other))
    (notice,) = publisher.notices
    assert notice.subject.endswith("in 1 image, 1 repository") and outcome.previously_alerted == 1
    assert "Not repeated: 1 image already alerted for it" in notice.text


def test_threshold_and_suppressions_apply_as_to_scan_alerts_and_a_bad_entry_is_named():
    document = json.dumps(
        [
            {"id": "CVE-2023-3817", "repositories": ["team-a/*"], "expires": "2099-12-31", "reason": "SEC-7"},
            {"id": "CVE-X", "expires": "2026-02-30", "reason": "bad date"},
        ]
    )
    publisher = RecordingPublisher()
    events = batch(
        finding_event("team-a/api"), finding_event("team-b/api"), finding_event(cve="CVE-LOW", severity="LOW")
    )
    outcome = alerter(publisher, suppressions=FixedSuppressions(document)).alert_batch(events)
    (notice,) = publisher.notices
    assert "team-b/api" in notice.text and "team-a/api" not in notice.text
    assert outcome.skipped == {"suppressed": 1, "below_threshold": 1} and outcome.suppression_problems == 1
    assert "suppressions[1] (id 'CVE-X'): expires '2026-02-30' is not a date" in notice.text


def test_a_failed_publish_fails_only_that_advisorys_messages_and_releases_their_claims():
    class FailingOn(RecordingPublisher):
        def publish(self, notice):
            if "CVE-1" in notice.subject:
                raise AwsError("Publish failed", code="InternalError")
            super().publish(notice)

    ledger, publisher = InMemoryLedger(), FailingOn()
    events = batch(
        finding_event(cve="CVE-1"), finding_event(cve="CVE-2"), finding_event(cve="CVE-1", digest="sha256:" + "5" * 64)
    )
    outcome = alerter(publisher, ledger).alert_batch(events)
    assert outcome.failed_messages == {"message-0", "message-2"} and outcome.advisories_published == 1
    retried = alerter(RecordingPublisher(), ledger).alert_batch([events[0], events[2]])
    assert retried.advisories_published == 1 and retried.images_alerted == 2  # the claims were released


def test_an_untriaged_finding_with_a_high_score_is_alerted_at_its_bands_severity():
    publisher = RecordingPublisher()
    event = finding_event(severity="UNTRIAGED")
    event["detail"]["inspectorScore"] = 9.8
    alerter(publisher).alert_batch(batch(event))
    assert publisher.notices[0].subject.startswith("[CRITICAL] CVE-2023-3817")


# ---- the handler: SQS batches in, partial batch failures out ---------------------------------------------------
@pytest.fixture
def handler_module(monkeypatch):
    import importlib

    module = importlib.import_module("handlers.inspector_findings")
    monkeypatch.setattr(module.metrics, "namespace", "ECRGovernance")
    publisher = RecordingPublisher()
    monkeypatch.setattr(module, "alerter", alerter(publisher))
    monkeypatch.setattr(module, "test_publisher", publisher, raising=False)
    return module


def _sqs(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"m{index}", "receiptHandle": "r", "body": body, "eventSource": "aws:sqs", "attributes": {}}
            for index, body in enumerate(bodies)
        ]
    }


def test_the_handler_alerts_the_batch_and_reports_only_failed_messages(handler_module):
    context = LocalLambdaContext("InspectorFindingsFunction")
    event = _sqs(json.dumps(finding_event()), "not json", json.dumps({"detail-type": "Inspector2 Finding"}))
    assert handler_module.handler(event, context) == {"batchItemFailures": []}  # rejected bodies are not retried
    assert len(handler_module.test_publisher.notices) == 1


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damaged=mutated_events([SAMPLE]), extra=st.booleans())
def test_no_damaged_finding_event_escapes_the_handler(handler_module, damaged, extra):
    bodies = [json.dumps(damaged, default=str)] + ([json.dumps(SAMPLE)] if extra else [])
    answer = handler_module.handler(_sqs(*bodies), LocalLambdaContext("InspectorFindingsFunction"))
    assert answer == {"batchItemFailures": []}
