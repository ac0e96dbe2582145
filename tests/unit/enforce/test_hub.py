"""The organization hub's router (pure decisions over in-memory ports): what it admits, what it skips, where it sends
each event, and how the daily reconcile fans out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.enforce.events import Provenance
from ecr_governance.enforce.hub import EnforcementHub, QueuedContinuation
from ecr_governance.errors import AwsError
from ecr_governance.organization.membership import Account, CachedMembership
from ecr_governance.organization.settings import OrganizationSettings, Scope
from enforce_fakes import InMemoryOrganization, RecordingWorkQueue
from registry_builders import load_event

HUB = Provenance("999999999999", "ap-southeast-1")
TEAM_A, TEAM_B, SUSPENDED, NEW = "111111111111", "222222222222", "333333333333", "444444444444"
REGIONS = ("ap-southeast-1", "eu-west-1")
SETTINGS = OrganizationSettings(Scope.ORGANIZATION, "ecr-governance-member", REGIONS, account_concurrency=1)


class Organization(InMemoryOrganization):
    def __init__(self):
        super().__init__(
            [
                Account(TEAM_A, "team-a"),
                Account(TEAM_B, "team-b"),
                Account(SUSPENDED, "old", status="SUSPENDED"),
                Account(NEW, "new"),
            ],
            unreachable=(NEW,),
        )


Queue = RecordingWorkQueue


def hub(queue=None, organization=None, clock=lambda: datetime(2026, 6, 1, tzinfo=UTC)):
    organization = organization or Organization()
    membership = CachedMembership(
        organization, REGIONS, (), "ecr-governance-member", ttl=timedelta(minutes=10), clock=clock
    )
    return EnforcementHub(membership, organization, queue or Queue(), SETTINGS), organization


def member_event(account: str = TEAM_A, region: str = "eu-west-1", **detail_changes) -> dict:
    event = load_event("enforce/put-image-tag-mutability.json")
    event["account"], event["region"] = account, region
    event["detail"]["recipientAccountId"], event["detail"]["awsRegion"] = account, region
    event["detail"].update(detail_changes)
    return event


def test_a_members_event_goes_to_its_account_regions_message_group():
    queue = Queue()
    router, _ = hub(queue)
    outcome = router.route(member_event(), HUB)
    assert (outcome.status, outcome.reason) == ("routed", f"{TEAM_A}/eu-west-1")
    (message,) = queue.sent
    assert message.group == f"{TEAM_A}-0" and json.loads(message.body)["account"] == TEAM_A
    assert message.deduplication == member_event()["id"]  # a redelivered event is dropped by SQS


@pytest.mark.parametrize(
    ("account", "region", "why"),
    [
        ("555555555555", "eu-west-1", "not an active member"),  # outside the organization
        (SUSPENDED, "eu-west-1", "not an active member"),
        (TEAM_A, "us-east-1", "not one this hub governs"),
    ],
)
def test_an_event_from_outside_what_the_hub_governs_is_refused_before_anything_is_sent(account, region, why):
    queue = Queue()
    router, _ = hub(queue)
    outcome = router.route(member_event(account, region), HUB)
    assert outcome.status == "rejected" and why in outcome.reason and queue.sent == []
    assert outcome.metrics()["EventsRejected"] == 1


def test_a_member_event_must_be_consistent_with_its_own_account():
    router, _ = hub()
    event = member_event()
    event["detail"]["recipientAccountId"] = TEAM_B  # a forged or mixed-up event
    assert router.route(event, HUB).status == "rejected"


def test_the_hubs_own_writes_in_a_member_come_back_and_are_skipped():
    queue = Queue()
    router, _ = hub(queue)
    identity = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{TEAM_A}:assumed-role/ecr-governance-member/ecr-governance-hub",
        "sessionContext": {"sessionIssuer": {"arn": f"arn:aws:iam::{TEAM_A}:role/ecr-governance-member"}},
    }
    outcome = router.route(member_event(userIdentity=identity), HUB)
    assert (outcome.status, outcome.reason) == ("skipped", "own remediation") and queue.sent == []
    assert outcome.metrics()["SelfEventsSkipped"] == 1


def test_the_schedule_fans_out_one_reconcile_per_reachable_account_region_and_names_the_others_once():
    queue = Queue()
    router, organization = hub(queue)
    schedule = {**load_event("enforce/scheduled-reconcile.json"), "account": HUB.account, "region": HUB.region}
    outcome = router.route(schedule, HUB)
    assert outcome.status == "fanned out" and outcome.targets == 4
    assert outcome.not_onboarded == (
        f"{NEW}: cannot assume arn:aws:iam::{NEW}:role/ecr-governance-member: AccessDenied",
    )
    bodies = [json.loads(m.body) for m in queue.sent]
    assert sorted((b["account"], b["region"]) for b in bodies) == sorted(
        (a, r) for a in (TEAM_A, TEAM_B) for r in REGIONS
    )
    assert {b["detail-type"] for b in bodies} == {"Scheduled Event"}
    assert {m.group for m in queue.sent} == {f"{TEAM_A}-0", f"{TEAM_B}-0"}  # one account-region at a time each
    assert len({m.deduplication for m in queue.sent}) == 4
    router.route(member_event(), HUB)
    assert organization.reads == 1  # the account list is read once in 10 minutes, not per event


def test_account_concurrency_spreads_an_accounts_regions_over_that_many_groups():
    from dataclasses import replace

    queue = Queue()
    organization = Organization()
    membership = CachedMembership(
        organization, REGIONS, (), "r", ttl=timedelta(minutes=10), clock=lambda: datetime.now(UTC)
    )
    router = EnforcementHub(membership, organization, queue, replace(SETTINGS, account_concurrency=2))
    router.route({**load_event("enforce/scheduled-reconcile.json"), "account": HUB.account, "region": HUB.region}, HUB)
    assert {m.group for m in queue.sent} == {f"{TEAM_A}-0", f"{TEAM_A}-1", f"{TEAM_B}-0", f"{TEAM_B}-1"}


def test_an_event_the_work_queue_refuses_fails_for_lambda_to_retry():
    router, _ = hub(Queue(refuse=True))
    with pytest.raises(AwsError) as raised:
        router.route(member_event(), HUB)
    assert raised.value.transient


def test_a_members_reconcile_continues_through_its_message_group():
    queue = Queue()
    QueuedContinuation(queue, f"{TEAM_A}-0").invoke_async("ignored", {"id": "e-2", "account": TEAM_A})
    (message,) = queue.sent
    assert (message.group, message.deduplication) == (f"{TEAM_A}-0", "e-2")
    with pytest.raises(AwsError):
        QueuedContinuation(Queue(refuse=True), "g").invoke_async("ignored", {"id": "e-3"})
