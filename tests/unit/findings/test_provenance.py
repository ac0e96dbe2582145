"""Which registry a findings event is about, and whether an organization hub may act on it (pure decisions, no
network): a member the organization admits is parsed with the member as the registry; an outsider, a region the hub
does not govern or a suspended account is refused - and nothing is asked of any member; the function's own events
are parsed as they always were, without reading the organization."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ecr_governance.errors import InvalidEvent
from ecr_governance.findings.events import ScanEvent, parse_scan_event
from ecr_governance.findings.finding_events import parse_finding_event
from ecr_governance.findings.provenance import (
    Registry,
    admitted_registry,
    finding_event_registry,
    scan_event_registry,
)
from ecr_governance.location import Location
from ecr_governance.organization.membership import Account, Membership
from registry_builders import load_event

HUB = "123456789012"  # the samples' account: the hub's own
TEAM_A, TEAM_B, SUSPENDED, OUTSIDER = "111111111111", "222222222222", "333333333333", "999988887777"
REGION, OTHER_REGION, UNGOVERNED_REGION = "ap-southeast-1", "eu-west-1", "us-east-1"
OWN = Location("aws", HUB, REGION)
MEMBERSHIP = Membership.of(
    [
        Account(HUB, "security"),
        Account(TEAM_A, "team-a"),
        Account(TEAM_B, "team-b"),
        Account(SUSPENDED, "old-team", status="SUSPENDED"),
    ],
    (REGION, OTHER_REGION),
)


class Reads:
    """The membership as the hub's cache serves it, counting the reads."""

    def __init__(self, membership: Membership = MEMBERSHIP):
        self.membership = membership
        self.count = 0

    def __call__(self) -> Membership:
        self.count += 1
        return self.membership


def moved(name: str, account: str, region: str = REGION, envelope: str | None = None) -> dict[str, Any]:
    """A sample event whose registry is `account` in `region`; `envelope`: the account its envelope names."""
    raw = json.loads(json.dumps(copy.deepcopy(load_event(f"findings/{name}"))).replace(HUB, account))
    text = json.dumps(raw).replace(f":{REGION}:", f":{region}:")
    raw = json.loads(text)
    raw["region"] = region
    raw["account"] = envelope or account
    return raw


def scan_registry(event: Any, membership: Reads | None) -> Registry:
    return admitted_registry(scan_event_registry(event), OWN, membership)


# ---- basic and enhanced scans ----------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", ["basic-scan-complete.json", "inspector2-scan-complete.json"])
def test_a_members_scan_is_parsed_with_the_member_as_its_registry(sample):
    event = moved(sample, TEAM_A, OTHER_REGION)
    registry = scan_registry(event, Reads())
    assert registry == Registry(Location("aws", TEAM_A, OTHER_REGION), "team-a", HUB) and registry.is_member
    scan = parse_scan_event(event, registry)
    assert isinstance(scan, ScanEvent)
    image = scan.image
    assert (image.registry_id, image.region, image.partition, image.account_name) == (
        TEAM_A,
        OTHER_REGION,
        "aws",
        "team-a",
    )
    assert image.repository_arn == f"arn:aws:ecr:{OTHER_REGION}:{TEAM_A}:repository/mlops/retail-api"


@pytest.mark.parametrize(
    ("account", "region", "reason"),
    [
        (OUTSIDER, REGION, f"account '{OUTSIDER}' is not an active member this hub governs"),
        (SUSPENDED, REGION, f"account '{SUSPENDED}' is not an active member this hub governs"),
        (TEAM_A, UNGOVERNED_REGION, f"region '{UNGOVERNED_REGION}' is not one this hub governs"),
    ],
)
@pytest.mark.parametrize("sample", ["basic-scan-complete.json", "inspector2-scan-complete.json", "image-deleted.json"])
def test_an_outsider_a_suspended_account_or_an_ungoverned_region_is_refused(sample, account, region, reason):
    """Refused by the decision itself: the handler asks nothing of any member before it (no AssumeRole, no read)."""
    with pytest.raises(InvalidEvent, match=reason):
        scan_registry(moved(sample, account, region), Reads())


def test_the_functions_own_events_are_parsed_as_before_without_reading_the_organization():
    reads = Reads()
    for sample in ("basic-scan-complete.json", "inspector2-scan-complete.json", "image-deleted.json"):
        event = load_event(f"findings/{sample}")
        registry = scan_registry(event, reads)
        assert registry == Registry(OWN) and not registry.is_member
        assert parse_scan_event(event, registry) == parse_scan_event(event, OWN)
    assert reads.count == 0
    assert parse_scan_event(load_event("findings/basic-scan-complete.json"), OWN).image.account_name == ""


def test_a_single_account_stack_refuses_a_members_event_as_it_always_did():
    event = moved("basic-scan-complete.json", TEAM_A)
    registry = scan_registry(event, None)
    assert registry == Registry(OWN)
    with pytest.raises(InvalidEvent, match=f"event is from aws account {TEAM_A} in {REGION}"):
        parse_scan_event(event, registry)


def test_inspectors_copy_to_the_delegated_administrator_is_accepted_whichever_account_its_envelope_names():
    """AWS does not document whether the administrator's copy names the member or the administrator: both parse to
    the member's image; an envelope naming a third account does not."""
    for envelope in (TEAM_A, HUB):
        event = moved("inspector2-scan-complete.json", TEAM_A, envelope=envelope)
        scan = parse_scan_event(event, scan_registry(event, Reads()))
        assert scan.image.registry_id == TEAM_A
    third = moved("inspector2-scan-complete.json", TEAM_A, envelope=TEAM_B)
    with pytest.raises(InvalidEvent, match=f"event is from aws account {TEAM_B}"):
        parse_scan_event(third, scan_registry(third, Reads()))


def test_an_ecr_event_names_its_registry_by_its_envelope_and_a_mismatched_arn_is_refused():
    """ECR's own events come from the member's bus, envelope and all: one naming the hub but a member's repository
    is the hub's own event, and its foreign repository ARN is refused."""
    event = moved("basic-scan-complete.json", TEAM_A, envelope=HUB)
    registry = scan_registry(event, Reads())
    assert registry == Registry(OWN)
    with pytest.raises(InvalidEvent, match=f"is from aws account {TEAM_A}"):
        parse_scan_event(event, registry)


@pytest.mark.parametrize("event", [None, [], "x", {"source": "aws.inspector2", "detail": {"repository-name": 5}}])
def test_an_event_naming_no_registry_is_left_to_the_parser_to_refuse(event):
    registry = scan_registry(event, Reads())
    assert registry == Registry(OWN)
    with pytest.raises(InvalidEvent):
        parse_scan_event(event, registry)


# ---- Inspector's finding events --------------------------------------------------------------------------------
def finding_registry(event: Any, membership: Reads | None = None) -> Registry:
    return admitted_registry(finding_event_registry(event), OWN, membership or Reads())


@pytest.mark.parametrize("envelope", [TEAM_B, HUB])
def test_a_members_finding_event_is_parsed_with_the_member_as_its_registry(envelope):
    event = moved("inspector2-finding.json", TEAM_B, OTHER_REGION, envelope=envelope)
    finding = parse_finding_event(event, finding_registry(event))
    (image,) = finding.images
    assert (image.registry_id, image.region, image.account_name) == (TEAM_B, OTHER_REGION, "team-b")


@pytest.mark.parametrize(("account", "region"), [(OUTSIDER, REGION), (SUSPENDED, REGION), (TEAM_A, UNGOVERNED_REGION)])
def test_a_finding_event_of_an_image_the_hub_does_not_govern_is_refused(account, region):
    with pytest.raises(InvalidEvent, match="not an active member|not one this hub governs"):
        finding_registry(moved("inspector2-finding.json", account, region))


def test_a_finding_events_account_and_images_must_all_be_the_admitted_registrys():
    event = moved("inspector2-finding.json", TEAM_A)
    event["detail"]["awsAccountId"] = TEAM_B
    with pytest.raises(InvalidEvent, match="awsAccountId is not the account of the finding's image"):
        parse_finding_event(event, finding_registry(event))
    mixed = moved("inspector2-finding.json", TEAM_A)
    other = copy.deepcopy(mixed["detail"]["resources"][0])
    other["id"] = other["id"].replace(TEAM_A, TEAM_B)
    other["details"]["awsEcrContainerImage"]["registry"] = TEAM_B
    mixed["detail"]["resources"].append(other)
    with pytest.raises(InvalidEvent, match=f"the image is from aws account {TEAM_B}"):
        parse_finding_event(mixed, finding_registry(mixed))


def test_the_functions_own_finding_events_parse_as_before():
    reads = Reads()
    event = load_event("findings/inspector2-finding.json")
    registry = finding_registry(event, reads)
    assert registry == Registry(OWN) and reads.count == 0
    assert parse_finding_event(event, registry) == parse_finding_event(event, OWN)
