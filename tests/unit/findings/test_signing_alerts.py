"""Managed signing in the scan alert (issue 15), against in-memory ports: in a repository SignedRepositoryPatterns
names, a FAILED signing is alerted - alone when the scan has nothing above the threshold, with the findings when it
has; IN_PROGRESS is said only in an alert there is anyway; a status that cannot be read never costs the findings
alert, which says so; the ledger keeps a failed signing apart from the image's findings and alerts it once."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime

import pytest
from ecr_governance import SERVICE_NAME
from ecr_governance.errors import AccessDenied, AwsError
from ecr_governance.findings.events import parse_scan_event
from ecr_governance.findings.ledger import GuardedPublisher
from ecr_governance.findings.normalize import Severity
from ecr_governance.findings.reader import FindingsReader, RulesReader
from ecr_governance.findings.scan_alerts import AlertStatus, ScanAlerter
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.findings.signing_status import SigningStatusReader
from ecr_governance.location import Location
from ecr_governance.signing import ImageSigningStatus
from findings_builders import finding
from findings_fakes import InMemoryLedger, InMemoryScans, InMemorySigningStatuses, RecordingPublisher
from registry_builders import load_event

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
OWN = Location("aws", "123456789012", "ap-southeast-1")
PROFILE = "arn:aws:signer:ap-southeast-1:123456789012:/signing-profiles/releases"
FAILED = ImageSigningStatus(PROFILE, "FAILED", "KMS_KEY_DISABLED", "the signing key is disabled")
IN_PROGRESS = ImageSigningStatus(PROFILE, "IN_PROGRESS")
COMPLETE = ImageSigningStatus(PROFILE, "COMPLETE")
NOTHING_ABOVE = {"finding-severity-counts": {"MEDIUM": 3}}  # the event's counts: nothing at or above HIGH


def event(name: str = "basic-scan-complete.json", time: str = "", **detail):
    raw = copy.deepcopy(load_event(f"findings/{name}"))
    raw["detail"].update(detail)
    raw["time"] = time or raw["time"]
    return parse_scan_event(raw, OWN)


def alerter(  # noqa: PLR0917 - a builder: the ports, defaulted
    signing, scans=None, publisher=None, ledger=None, patterns=("mlops/*",), unavailable=""
) -> ScanAlerter:
    rules = RulesReader(FindingsSettings(), clock=lambda: NOW)
    return ScanAlerter(
        FindingsReader(scans or InMemoryScans([[]]), rules),
        GuardedPublisher(ledger if ledger is not None else InMemoryLedger(), publisher or RecordingPublisher()),
        signing=SigningStatusReader(signing, patterns, unavailable),
    )


def bodies(notice):
    return notice.text, json.loads(notice.bodies["https"])["content"], json.loads(notice.bodies["sqs"])


@pytest.mark.parametrize("name", ["basic-scan-complete.json", "inspector2-scan-complete.json"])
def test_a_failed_signing_is_alerted_although_the_scan_has_nothing_above_the_threshold(name):
    scans, publisher = InMemoryScans([[finding(severity=Severity.MEDIUM)]]), RecordingPublisher()
    outcome = alerter(InMemorySigningStatuses([FAILED]), scans, publisher).handle(event(name, **NOTHING_ABOVE))
    assert outcome.status is AlertStatus.ALERTED and outcome.signing_failures_alerted == 1
    assert outcome.findings_alerted == 0 and outcome.highest_severity is None
    (notice,) = publisher.notices
    assert notice.subject.startswith("[SIGNING FAILED] mlops/retail-api")
    assert notice.subject.endswith("nothing at or above HIGH; signing FAILED")
    assert notice.attributes["signing"] == "FAILED"
    text, chat, machine = bodies(notice)
    assert f"FAILED       {PROFILE}" in text and "KMS_KEY_DISABLED: the signing key is disabled" in text
    assert "*Signing FAILED*" in chat["description"] and "SIGNING FAILED" in chat["keywords"]
    assert "Check the signing profile named above: the image stays unsigned" in chat["nextSteps"]
    assert machine["unmapped"]["signing"]["failed"] == 1
    assert machine["unmapped"]["signing"]["statuses"][0]["failureReason"] == "the signing key is disabled"


def test_a_failed_signing_and_findings_are_one_alert():
    scans, publisher = InMemoryScans([[finding("CVE-2026-1", Severity.CRITICAL, 9.8)]]), RecordingPublisher()
    outcome = alerter(InMemorySigningStatuses([FAILED, COMPLETE]), scans, publisher).handle(event())
    assert outcome.status is AlertStatus.ALERTED and outcome.findings_alerted == 1
    assert outcome.signing_failures_alerted == 1 and outcome.highest_severity == "CRITICAL"
    (notice,) = publisher.notices
    assert notice.subject == "[CRITICAL] mlops/retail-api:1.4.2 - 1 critical; signing FAILED"
    text, _, _ = bodies(notice)
    assert "KMS_KEY_DISABLED" in text and f"COMPLETE     {PROFILE}" in text and "CVE-2026-1" in text


def test_in_progress_is_no_alert_by_itself_and_said_in_an_alert_there_is_anyway():
    publisher = RecordingPublisher()
    quiet = alerter(InMemorySigningStatuses([IN_PROGRESS]), publisher=publisher).handle(event(**NOTHING_ABOVE))
    assert quiet.status is AlertStatus.NOTHING_TO_ALERT and publisher.notices == []
    scans = InMemoryScans([[finding("CVE-2026-1", Severity.HIGH)]])
    loud = alerter(InMemorySigningStatuses([IN_PROGRESS]), scans, publisher).handle(event())
    assert loud.status is AlertStatus.ALERTED and loud.signing_failures_alerted == 0
    (notice,) = publisher.notices
    assert "signing FAILED" not in notice.subject and "signing" not in notice.attributes
    text, chat, _ = bodies(notice)
    assert f"IN_PROGRESS  {PROFILE}" in text and "had not finished when the scan completed" in text
    assert "Signing in progress (1 profile(s))" in chat["description"]


@pytest.mark.parametrize(
    "error",
    [
        AccessDenied("not authorized to perform ecr:DescribeImageSigningStatus", code="AccessDeniedException"),
        AwsError("Rate exceeded", code="ThrottlingException", transient=True),
        AwsError("operation not supported", code="UnknownOperationException"),  # an emulator without the API
    ],
    ids=["access-denied", "throttled", "no-such-api"],
)
def test_a_signing_status_that_cannot_be_read_never_costs_the_findings_alert(error, caplog):
    scans, publisher = InMemoryScans([[finding("CVE-2026-1", Severity.CRITICAL, 9.8)]]), RecordingPublisher()
    with caplog.at_level(logging.WARNING, logger=SERVICE_NAME):
        outcome = alerter(InMemorySigningStatuses(error=error), scans, publisher).handle(event())
    assert outcome.status is AlertStatus.ALERTED and outcome.signing_unread == 1 and outcome.findings_alerted == 1
    (notice,) = publisher.notices
    text, chat, machine = bodies(notice)
    assert "NOT READ: the signing status could not be read" in text and str(error) in text
    assert "*Signing status not read*" in chat["description"]
    assert machine["unmapped"]["signing"]["unread"] == str(error)
    (warning,) = [r for r in caplog.records if r.getMessage().startswith("signing status not read")]
    assert warning.reason == str(error)


def test_an_unread_status_without_findings_is_no_alert_but_is_counted():
    publisher = RecordingPublisher()
    signing = InMemorySigningStatuses(error=AccessDenied("denied", code="AccessDeniedException"))
    outcome = alerter(signing, publisher=publisher).handle(event(**NOTHING_ABOVE))
    assert outcome.status is AlertStatus.NOTHING_TO_ALERT and outcome.signing_unread == 1
    assert publisher.notices == []


def test_an_endpoint_without_the_api_is_not_asked_and_the_alert_says_so():
    signing, publisher = InMemorySigningStatuses([FAILED]), RecordingPublisher()
    scans = InMemoryScans([[finding("CVE-2026-1", Severity.CRITICAL, 9.8)]])
    outcome = alerter(signing, scans, publisher, unavailable="RegistryApi=core").handle(event())
    assert signing.reads == [] and outcome.signing_unread == 1 and outcome.status is AlertStatus.ALERTED
    assert "NOT READ: the signing status could not be read - RegistryApi=core" in publisher.notices[0].text


def test_a_repository_that_need_not_be_signed_is_not_read_and_its_alert_says_nothing_of_signing():
    signing, publisher = InMemorySigningStatuses([FAILED]), RecordingPublisher()
    scans = InMemoryScans([[finding("CVE-2026-1", Severity.CRITICAL, 9.8)]])
    outcome = alerter(signing, scans, publisher, patterns=("prod/*",)).handle(event())
    assert signing.reads == [] and outcome.status is AlertStatus.ALERTED and outcome.signing_unread == 0
    text, _, machine = bodies(publisher.notices[0])
    assert "Signing" not in text and machine["unmapped"]["signing"] is None


def test_findings_alerted_before_never_suppress_a_failed_signing_which_a_rescan_does_not_repeat():
    ledger, publisher = InMemoryLedger(), RecordingPublisher()
    scans = InMemoryScans([[finding("CVE-2026-1", Severity.CRITICAL, 9.8)]])
    first = alerter(InMemorySigningStatuses([]), scans, publisher, ledger).handle(event())
    assert first.status is AlertStatus.ALERTED and first.signing_failures_alerted == 0
    # A later scan of the same image: its findings were alerted, its signing has failed meanwhile.
    rescan = event(time="2026-11-21T02:36:48Z")
    second = alerter(InMemorySigningStatuses([FAILED]), scans, publisher, ledger).handle(rescan)
    assert second.status is AlertStatus.ALERTED and second.signing_failures_alerted == 1
    assert second.findings_alerted == 0 and second.previously_alerted == 1
    assert publisher.notices[1].subject.startswith("[SIGNING FAILED]")
    assert "Not repeated: 1 at or above HIGH already alerted" in publisher.notices[1].text
    assert ledger.states()[f"signing-failed#{PROFILE}"] == "NOTIFIED"
    # Once more, later still: nothing new - no alert.
    third = alerter(InMemorySigningStatuses([FAILED]), scans, publisher, ledger).handle(
        event(time="2026-11-22T02:36:48Z")
    )
    assert third.status is AlertStatus.ALREADY_ALERTED and len(publisher.notices) == 2


def test_a_failed_signing_alerted_before_is_left_out_of_a_later_findings_alert_and_counted():
    ledger, publisher = InMemoryLedger(), RecordingPublisher()
    alerter(InMemorySigningStatuses([FAILED]), publisher=publisher, ledger=ledger).handle(event(**NOTHING_ABOVE))
    scans = InMemoryScans([[finding("CVE-2026-9", Severity.HIGH)]])
    later = event(time="2026-11-21T02:36:48Z")
    outcome = alerter(InMemorySigningStatuses([FAILED]), scans, publisher, ledger).handle(later)
    assert outcome.status is AlertStatus.ALERTED and outcome.signing_failures_alerted == 0
    notice = publisher.notices[1]
    assert "signing FAILED" not in notice.subject and "KMS_KEY_DISABLED" not in notice.text
    assert "Not repeated: 1 failed signing(s) already alerted for this image" in notice.text


def test_a_hostile_failure_reason_forges_no_line_mention_link_or_code_span():
    forged = "\n\nFindings at or above HIGH, most severe first:\n  CRITICAL  9.9  CVE-FAKE"
    hostile = ImageSigningStatus(
        PROFILE + "\n  COMPLETE     " + PROFILE, "FAILED", "`X` <@U012345>", "<!channel> https://evil.example" + forged
    )
    publisher = RecordingPublisher()
    alerter(InMemorySigningStatuses([hostile]), publisher=publisher).handle(event(**NOTHING_ABOVE))
    text, chat, machine = bodies(publisher.notices[0])
    assert not any(line.startswith(("Findings at or above", "  CRITICAL", "  COMPLETE")) for line in text.splitlines())
    assert "https://evil" not in text and "evil.example" in text  # shown, never a link
    description = chat["description"]
    assert "<" not in description and "@" not in description and "https://evil" not in description
    assert all(line.count("`") % 2 == 0 for line in description.splitlines())
    assert machine["unmapped"]["signing"]["statuses"][0]["failureReason"].startswith("<!channel>")  # JSON: as is
