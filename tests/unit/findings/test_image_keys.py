"""What tells two images apart - in the idempotency key of a scan event and in the alert ledger - includes the
registry's account and region: cross-account replication puts the same repository@digest in several accounts, and
an organization hub must alert each of them, not take the second for a duplicate of the first."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

from ecr_governance.findings.events import ScanEvent, ScanKind, parse_scan_event
from ecr_governance.findings.ledger import EntryState, GuardedPublisher, image_key, notice_entry, vulnerability_entry
from ecr_governance.findings.normalize import ScannedImage, Severity
from ecr_governance.findings.reader import FindingsReader, RulesReader
from ecr_governance.findings.scan_alerts import AlertStatus, ScanAlerter
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.location import Location
from findings_builders import finding
from findings_fakes import InMemoryLedger, InMemoryScans, RecordingPublisher
from hypothesis import given
from hypothesis import strategies as st
from registry_builders import load_event

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
SAMPLE_ACCOUNT = "123456789012"
TEAM_A, TEAM_B = "111111111111", "222222222222"

accounts = st.from_regex(r"\A[0-9]{12}\Z")
regions = st.sampled_from(["ap-southeast-1", "eu-west-1", "us-east-1", "us-gov-west-1"])
repositories = st.from_regex(r"\A[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}\Z")
digests = st.from_regex(r"\Asha256:[0-9a-f]{1,8}\Z")
images = st.builds(
    lambda account, region, repository, digest: ScannedImage(repository, digest, registry_id=account, region=region),
    accounts,
    regions,
    repositories,
    digests,
)


def _identity(image: ScannedImage) -> tuple[str, str, str, str]:
    return (image.registry_id, image.region, image.repository_name, image.digest)


@given(images, images)
def test_distinct_images_never_share_a_key_an_idempotency_key_or_a_ledger_entry(first, second):
    scans = [
        ScanEvent(kind=ScanKind.BASIC, event_id="e", image=image, scan_status="COMPLETE", completed_at="2026-11-20")
        for image in (first, second)
    ]
    entries = [vulnerability_entry(image, "CVE-1", EntryState.ACTIVE, "t") for image in (first, second)]
    same = _identity(first) == _identity(second)
    assert (first.key == second.key) is same
    assert (scans[0].key == scans[1].key) is same
    assert ((entries[0].image, entries[0].subject) == (entries[1].image, entries[1].subject)) is same
    assert image_key(first) == first.key and notice_entry(first, "FAILED", "t").image == first.key


def _scan_in(account: str, region: str = "ap-southeast-1") -> ScanEvent:
    """The sample basic scan event, as the account's own registry sends it."""
    raw = json.loads(
        json.dumps(copy.deepcopy(load_event("findings/basic-scan-complete.json"))).replace(SAMPLE_ACCOUNT, account)
    )
    raw["region"] = region
    raw["resources"] = [f"arn:aws:ecr:{region}:{account}:repository/mlops/retail-api"]
    scan = parse_scan_event(raw, Location("aws", account, region))
    assert isinstance(scan, ScanEvent)
    return scan


def test_the_same_repository_and_digest_in_two_accounts_is_alerted_in_each():
    ledger, publisher = InMemoryLedger(), RecordingPublisher()
    rules = RulesReader(FindingsSettings(), clock=lambda: NOW)
    source = InMemoryScans([[finding("CVE-2024-6387", Severity.CRITICAL, 8.1)]])
    alerter = ScanAlerter(FindingsReader(source, rules), GuardedPublisher(ledger, publisher))
    team_a, team_b = _scan_in(TEAM_A), _scan_in(TEAM_B)
    replica = _scan_in(TEAM_A, "eu-west-1")  # replicated to another region of the same account
    assert (team_a.image.digest, team_a.completed_at) == (team_b.image.digest, team_b.completed_at)
    assert len({team_a.key, team_b.key, replica.key}) == 3  # three idempotency records, not one
    outcomes = [alerter.handle(scan) for scan in (team_a, team_b, replica)]
    assert [outcome.status for outcome in outcomes] == [AlertStatus.ALERTED] * 3
    assert len(publisher.notices) == 3
    # ... and a redelivery of one of them is still a duplicate for the ledger.
    assert alerter.handle(team_b).status is AlertStatus.ALREADY_ALERTED
