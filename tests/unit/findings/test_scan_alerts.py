"""The scan path against in-memory ports (no network): every page read, one notice per alert, what the counts let
it skip, "image not scanned" notices once per image and reason, the alert ledger shared with the finding path, the
suppressions document's bad entries skipped, a failed publish retried, and Security Hub after the alert - never
blocking it, archiving what a rescan or a deletion made stale."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from ecr_governance.errors import AccessDenied, AwsError, ImageNotFound, RepositoryNotFound, ScanNotFound
from ecr_governance.findings.asff import security_hub_findings
from ecr_governance.findings.events import parse_scan_event
from ecr_governance.findings.ledger import GuardedPublisher
from ecr_governance.findings.normalize import Severity
from ecr_governance.findings.reader import FindingsReader, RulesReader
from ecr_governance.findings.scan_alerts import AlertStatus, ScanAlerter
from ecr_governance.findings.security_hub import SecurityHubSync
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.location import Location
from findings_builders import finding
from findings_fakes import (
    ExistingImages,
    FixedSuppressions,
    InMemoryLedger,
    InMemoryScans,
    RecordingImporter,
    RecordingPublisher,
)
from registry_builders import load_event

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
OWN = Location("aws", "123456789012", "ap-southeast-1")
SETTINGS = FindingsSettings(suppressions_parameter_name="/ecr-governance/suppressions")


def event(name: str = "basic-scan-complete.json", **detail):
    raw = copy.deepcopy(load_event(f"findings/{name}"))
    raw["detail"].update(detail)
    return parse_scan_event(raw, OWN)


BASIC_EVENT = event()
INSPECTOR_EVENT = event("inspector2-scan-complete.json")


def alerter(  # noqa: PLR0917 - a builder: the source, then each port (defaulted)
    source, publisher=None, suppressions=None, importer=None, ledger=None, exists=False
) -> ScanAlerter:
    rules = RulesReader(SETTINGS, suppressions, clock=lambda: NOW)
    return ScanAlerter(
        FindingsReader(source, rules),
        GuardedPublisher(ledger if ledger is not None else InMemoryLedger(), publisher or RecordingPublisher()),
        security_hub=SecurityHubSync(importer, clock=lambda: NOW) if importer is not None else None,
        images=ExistingImages(exists),
    )


def test_every_page_is_read_and_one_notice_is_published():
    pages = [
        [finding(f"CVE-A-{i}", Severity.MEDIUM) for i in range(1000)],
        [finding(f"CVE-B-{i}", Severity.LOW) for i in range(1000)],
        [finding("CVE-LAST-PAGE", Severity.CRITICAL, 9.9)],  # the worst finding is on the last page
    ]
    source, publisher = InMemoryScans(pages), RecordingPublisher()
    outcome = alerter(source, publisher).handle(BASIC_EVENT)
    assert source.pages_read == 3
    assert outcome.status is AlertStatus.ALERTED and outcome.findings_total == 2001
    assert outcome.highest_severity == "CRITICAL" and outcome.findings_alerted == 1
    (notice,) = publisher.notices
    assert notice.subject == "[CRITICAL] mlops/retail-api:1.4.2 - 1 critical"
    assert json.loads(notice.bodies["sqs"])["vulnerabilities"][0]["cve"]["uid"] == "CVE-LAST-PAGE"
    json.dumps(outcome.as_dict())  # Powertools Idempotency stores it


def test_counts_that_show_nothing_at_or_above_the_threshold_read_nothing():
    source = InMemoryScans([[finding()]])
    outcome = alerter(source).handle(event(**{"finding-severity-counts": {"MEDIUM": 3, "LOW": 1}}))
    assert outcome.status is AlertStatus.NOTHING_TO_ALERT and source.calls == 0


def test_a_count_not_understood_is_read_and_its_critical_alerted():
    source, publisher = InMemoryScans([[finding("CVE-NEW", Severity.CRITICAL, 9.8)]]), RecordingPublisher()
    outcome = alerter(source, publisher).handle(event(**{"finding-severity-counts": {"NEW_SEVERITY": 3}}))
    assert source.calls == 1 and outcome.status is AlertStatus.ALERTED
    assert publisher.notices[0].subject.startswith("[CRITICAL]")


def test_nothing_at_or_above_the_threshold_publishes_nothing():
    source, publisher = InMemoryScans([[finding(severity=Severity.MEDIUM)]]), RecordingPublisher()
    outcome = alerter(source, publisher).handle(BASIC_EVENT)
    assert outcome.status is AlertStatus.NOTHING_TO_ALERT and outcome.findings_total == 1
    assert publisher.notices == []


@pytest.mark.parametrize(
    "error",
    [
        ImageNotFound("gone", operation="DescribeImageScanFindings", code="ImageNotFoundException"),
        RepositoryNotFound("mlops/retail-api", "DescribeImageScanFindings"),
    ],
)
def test_an_image_gone_before_its_findings_are_read_is_a_no_op(error):
    publisher = RecordingPublisher()
    outcome = alerter(InMemoryScans([], error=error), publisher).handle(BASIC_EVENT)
    assert outcome.status is AlertStatus.IMAGE_GONE and outcome.detail == error.code
    assert publisher.notices == []


@pytest.mark.parametrize(
    ("scan_event", "source", "reason"),
    [
        (event("basic-scan-failed.json"), InMemoryScans([]), "FAILED"),
        (event(**{"scan-status": "UNSUPPORTED_IMAGE"}), InMemoryScans([]), "UNSUPPORTED_IMAGE"),
        (BASIC_EVENT, InMemoryScans([], error=ScanNotFound("none", code="ScanNotFoundException")), "SCAN_NOT_FOUND"),
        (BASIC_EVENT, InMemoryScans([[finding()]], status="IN_PROGRESS"), "IN_PROGRESS"),  # the API disagrees
    ],
    ids=["failed", "unsupported", "scan-not-found", "status-mismatch"],
)
def test_a_scan_without_findings_to_read_sends_one_not_scanned_notice_per_image_and_reason(scan_event, source, reason):
    publisher, ledger = RecordingPublisher(), InMemoryLedger()
    outcome = alerter(source, publisher, ledger=ledger).handle(scan_event)
    assert outcome.status is AlertStatus.NOT_SCANNED and outcome.detail == reason
    (notice,) = publisher.notices
    assert notice.subject.startswith("[NOT SCANNED] ") and notice.subject.endswith(f" - {reason}")
    assert json.loads(notice.bodies["sqs"])["reason"] == reason and notice.attributes["alert"] == "not-scanned"
    again = alerter(source, publisher, ledger=ledger).handle(scan_event)  # the same image and reason again
    assert again.status is AlertStatus.NOT_SCANNED and len(publisher.notices) == 1


def test_a_second_scan_of_the_image_repeats_nothing_and_a_new_finding_alone_is_alerted():
    publisher, ledger = RecordingPublisher(), InMemoryLedger()
    first = [finding("CVE-1", Severity.CRITICAL), finding("CVE-2")]
    alerter(InMemoryScans([first]), publisher, ledger=ledger).handle(BASIC_EVENT)
    rescan = event()
    rescan = parse_scan_event({**load_event("findings/basic-scan-complete.json"), "time": "2026-11-21T02:00:00Z"}, OWN)
    again = alerter(InMemoryScans([first]), publisher, ledger=ledger).handle(rescan)
    assert again.status is AlertStatus.ALREADY_ALERTED and again.previously_alerted == 2
    more = alerter(InMemoryScans([[*first, finding("CVE-3")]]), publisher, ledger=ledger).handle(rescan)
    assert more.status is AlertStatus.ALERTED and more.findings_alerted == 1 and more.previously_alerted == 2
    assert (
        len(publisher.notices) == 2 and "Not repeated: 2 at or above HIGH already alerted" in publisher.notices[1].text
    )


def test_an_invalid_suppression_is_skipped_named_in_the_alert_and_the_others_still_apply():
    document = json.dumps(
        [
            {"id": "CVE-1", "expires": "2026-12-31", "reason": "accepted"},
            {"id": "CVE-2", "expires": "2026-13-01", "reason": "typo in the date"},
        ]
    )
    publisher = RecordingPublisher()
    findings = [finding("CVE-1"), finding("CVE-2"), finding("CVE-3")]
    outcome = alerter(InMemoryScans([findings]), publisher, FixedSuppressions(document)).handle(BASIC_EVENT)
    assert outcome.status is AlertStatus.ALERTED and outcome.findings_suppressed == 1
    assert outcome.suppression_problems == 1 and outcome.findings_alerted == 2
    text = publisher.notices[0].text
    assert "SUPPRESSIONS SKIPPED (1 invalid, the others apply)" in text
    assert "suppressions[1] (id 'CVE-2'): expires '2026-13-01' is not a date" in text


def test_an_unreadable_suppressions_parameter_suppresses_nothing_and_says_so():
    broken = FixedSuppressions("", error=AccessDenied("access denied: ssm:GetParameter", code="AccessDenied"))
    publisher = RecordingPublisher()
    outcome = alerter(InMemoryScans([[finding()]]), publisher, broken).handle(BASIC_EVENT)
    assert outcome.status is AlertStatus.ALERTED and outcome.suppression_problems == 1
    assert "could not be read, nothing is suppressed" in publisher.notices[0].text


def test_a_failed_publish_fails_the_invocation_and_its_retry_alerts():
    ledger = InMemoryLedger()
    failing = RecordingPublisher(AwsError("Publish failed", operation="Publish", code="InternalError"))
    with pytest.raises(AwsError, match="Publish failed"):
        alerter(InMemoryScans([[finding()]]), failing, ledger=ledger).handle(BASIC_EVENT)
    assert ledger.states() == {"vulnerability#CVE-2024-0001": ""}  # released: nothing recorded
    publisher = RecordingPublisher()
    retried = alerter(InMemoryScans([[finding()]]), publisher, ledger=ledger).handle(BASIC_EVENT)
    assert retried.status is AlertStatus.ALERTED and len(publisher.notices) == 1


def test_a_ledger_that_cannot_record_never_fails_an_alert_that_went_out():
    ledger = InMemoryLedger(AwsError("throttled", code="ProvisionedThroughputExceededException"), failing="confirm")
    publisher = RecordingPublisher()
    outcome = alerter(InMemoryScans([[finding()]]), publisher, ledger=ledger).handle(BASIC_EVENT)
    assert outcome.status is AlertStatus.ALERTED and outcome.ledger_failures == 1 and len(publisher.notices) == 1


def test_a_ledger_that_cannot_be_read_still_lets_the_alert_go():
    ledger = InMemoryLedger(AccessDenied("access denied: dynamodb:UpdateItem", code="AccessDenied"))
    publisher = RecordingPublisher()
    outcome = alerter(InMemoryScans([[finding()]]), publisher, ledger=ledger).handle(BASIC_EVENT)
    assert outcome.status is AlertStatus.ALERTED and outcome.ledger_failures == 1 and len(publisher.notices) == 1


def test_basic_findings_go_to_security_hub_after_the_alert_with_ids_that_a_rescan_updates():
    importer = RecordingImporter(refuse=1)
    findings = [finding("CVE-1", Severity.CRITICAL), finding("CVE-2"), finding("CVE-3", Severity.LOW)]
    outcome = alerter(InMemoryScans([findings]), importer=importer).handle(BASIC_EVENT)
    assert outcome.security_hub_imported == 1 and outcome.security_hub_failed == 1
    assert [doc["GeneratorId"] for doc in importer.imported] == [
        "ecr-governance/basic-scan/CVE-1",
        "ecr-governance/basic-scan/CVE-2",
    ]


def test_security_hub_off_in_the_region_neither_blocks_nor_delays_the_alert():
    importer = RecordingImporter(error=AwsError("not subscribed", code="InvalidAccessException"))
    publisher = RecordingPublisher()
    outcome = alerter(InMemoryScans([[finding()]]), publisher, importer=importer).handle(BASIC_EVENT)
    assert outcome.status is AlertStatus.ALERTED and len(publisher.notices) == 1
    assert outcome.security_hub_imported == 0 and outcome.security_hub_failed == 2  # the import and its read-back


def test_a_rescan_archives_the_findings_it_no_longer_reports():
    importer = RecordingImporter()
    fixed, kept = finding("CVE-FIXED", Severity.CRITICAL), finding("CVE-KEPT")
    alerter(InMemoryScans([[fixed, kept]]), importer=importer).handle(BASIC_EVENT)
    outcome = alerter(InMemoryScans([[kept]]), importer=importer).handle(BASIC_EVENT)
    assert outcome.security_hub_archived == 1
    states = {doc["GeneratorId"]: doc["RecordState"] for doc in importer.by_id.values()}
    assert states == {"ecr-governance/basic-scan/CVE-FIXED": "ARCHIVED", "ecr-governance/basic-scan/CVE-KEPT": "ACTIVE"}


@pytest.mark.parametrize(("still_there", "archived"), [(False, 2), (True, 0)])
def test_a_deleted_image_has_its_findings_archived_unless_only_a_tag_went(still_there, archived):
    importer = RecordingImporter()
    scanned = alerter(InMemoryScans([[finding("CVE-1"), finding("CVE-2")]]), importer=importer)
    scanned.handle(BASIC_EVENT)
    deleted = parse_scan_event(load_event("findings/image-deleted.json"), OWN)
    outcome = alerter(InMemoryScans([]), importer=importer, exists=still_there).handle(deleted)
    assert outcome.status is AlertStatus.IMAGE_DELETED and outcome.security_hub_archived == archived


def test_enhanced_findings_never_go_to_security_hub():
    importer = RecordingImporter()
    outcome = alerter(InMemoryScans([[finding()]]), importer=importer).handle(INSPECTOR_EVENT)
    assert outcome.status is AlertStatus.ALERTED and importer.imported == []


def test_an_asff_finding_has_every_field_security_hub_requires():
    reader = FindingsReader(InMemoryScans([[finding("CVE-1", description="d" * 2000)]]), RulesReader(SETTINGS))
    report = reader.report(BASIC_EVENT.image, "basic", BASIC_EVENT.completed_at)
    (document,) = security_hub_findings(report)
    required = {"AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn", "Resources"}
    required |= {"SchemaVersion", "Severity", "Title", "Types", "UpdatedAt"}
    assert required <= set(document) and document["SchemaVersion"] == "2018-10-08"
    assert document["ProductArn"] == "arn:aws:securityhub:ap-southeast-1:123456789012:product/123456789012/default"
    assert len(document["Description"]) == 1024 and document["Resources"][0]["Type"] == "AwsEcrContainerImage"
