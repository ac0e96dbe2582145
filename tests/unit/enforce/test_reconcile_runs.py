"""An organization reconcile's run (in-memory ports): the fan-out starts it with a unit per queued account-region,
each unit's counters are recorded once, the summary goes out exactly once - when every unit reported, or at the
deadline naming the account-regions that did not - per account (id and name) with totals and the accounts not
onboarded. Also a hypothesis property: any interleaving and duplication of unit reports gives the same totals and
one publication."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.enforce.events import Provenance, parse_enforcement_trigger
from ecr_governance.enforce.hub import EnforcementHub, QueuedContinuation
from ecr_governance.enforce.model import Action, Decision, EnforcementReport, ReconcileProgress
from ecr_governance.enforce.run_summary import (
    RECONCILE_COUNTERS,
    RUN_KIND,
    UNIT_COUNTERS,
    ReconcileRuns,
    ReconcileSummaries,
    reconcile_summary_notice,
    unit_counts,
    unit_of,
)
from ecr_governance.errors import AwsError
from ecr_governance.organization.membership import Account, CachedMembership, Target
from ecr_governance.organization.settings import OrganizationSettings, Scope
from ecr_governance.runs import SUMMARY_LEASE, RunState
from enforce_fakes import InMemoryOrganization, RecordingWorkQueue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from property_budget import examples
from registry_builders import load_event
from sweep_fakes import InMemoryRuns, RecordingPublisher

HUB = Provenance("999999999999", "ap-southeast-1")
TEAM_A, TEAM_B, NEW = "111111111111", "222222222222", "444444444444"
REGIONS = ("ap-southeast-1", "eu-west-1")
SETTINGS = OrganizationSettings(Scope.ORGANIZATION, "ecr-governance-member", REGIONS, account_concurrency=1)
START = datetime(2026, 6, 1, 2, tzinfo=UTC)


class Organization(InMemoryOrganization):
    """Two reachable members and one whose role cannot be assumed."""

    def __init__(self):
        super().__init__(
            [Account(TEAM_A, "team-a"), Account(TEAM_B, "team-b"), Account(NEW, "new")],
            unreachable=(NEW,),
        )


Queue = RecordingWorkQueue


class Clock:
    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def runs_with(publisher=None, clock=None, ledger=None, mode: str = "enforce"):
    ledger = ledger if ledger is not None else InMemoryRuns(counters=RECONCILE_COUNTERS)
    clock = clock or Clock()
    summaries = ReconcileSummaries(ledger, clock, publisher)
    return ReconcileRuns(ledger, ledger, summaries, clock, timedelta(hours=4), mode), ledger


def schedule() -> dict:
    return {**load_event("enforce/scheduled-reconcile.json"), "account": HUB.account, "region": HUB.region}


def fan_out(runs, queue=None, organization=None):
    organization = organization or Organization()
    membership = CachedMembership(organization, REGIONS, (), "r", ttl=timedelta(minutes=10), clock=Clock())
    queue = queue or Queue()
    router = EnforcementHub(membership, organization, queue, SETTINGS, runs=runs)
    return router.route(schedule(), HUB), queue


def decision(repository: str, action: Action, aspect: str = "tag_mutability") -> Decision:
    status = "compliant" if action is Action.NONE else "violation"
    return Decision(repository, aspect, status, "MUTABLE", "IMMUTABLE", action)


def report(*decisions: Decision, continues: bool = False) -> EnforcementReport:
    progress = ReconcileProgress(after="zzz", piece=1) if continues else None
    return EnforcementReport(list(decisions), progress)


# A member account-region's reconcile: two repositories, one remediated, one compliant.
ONE_REMEDIATED = report(decision("app/api", Action.REMEDIATED), decision("app/web", Action.NONE))


# ---- the fan-out ----------------------------------------------------------------------------------------------
def test_the_fan_out_starts_a_run_expecting_each_queued_account_region_and_names_it_in_each_message():
    runs, ledger = runs_with()
    outcome, queue = fan_out(runs)
    run_id = outcome.run_id
    assert run_id == f"reconcile-{schedule()['id']}" and outcome.as_dict()["runId"] == run_id
    state = ledger.run_state(run_id)
    assert state.expected == 4 and state.reported == 0 and not state.published
    assert state.account_names == {TEAM_A: "team-a", TEAM_B: "team-b", NEW: "new"}
    assert [entry.split(":")[0] for entry in state.not_onboarded] == [NEW]
    assert ledger.open_runs(RUN_KIND) == [run_id]
    for message in queue.sent:
        body = json.loads(message.body)
        trigger = parse_enforcement_trigger(body, Provenance(body["account"], body["region"]))
        assert trigger.run_id == run_id


def test_account_regions_the_queue_refused_are_not_waited_for_and_a_run_with_none_is_summed_up_at_once():
    publisher = RecordingPublisher()
    runs, ledger = runs_with(publisher)
    outcome, _ = fan_out(runs, Queue(refuse=True))
    state = ledger.run_state(outcome.run_id)
    assert state.expected == 0 and state.published
    (notice,) = publisher.notices
    assert "Not onboarded (1" in notice.text and NEW in notice.text


def test_a_member_event_that_names_a_run_is_refused_only_the_hubs_fan_out_names_runs():
    runs, _ = runs_with()
    organization = Organization()
    membership = CachedMembership(organization, REGIONS, (), "r", ttl=timedelta(minutes=10), clock=Clock())
    router = EnforcementHub(membership, organization, Queue(), SETTINGS, runs=runs)
    forged = {**schedule(), "account": TEAM_A, "region": REGIONS[0], "detail": {"run": "reconcile-x"}}
    outcome = router.route(forged, HUB)
    assert outcome.status == "rejected" and "only by the hub's own fan-out" in outcome.reason


# ---- the units and the summary --------------------------------------------------------------------------------
def report_all(runs, run_id: str, targets, result=ONE_REMEDIATED) -> None:
    for account, region in targets:
        runs.record(run_id, unit_of(account, region), unit_counts(result, last_piece=True))


TARGETS = [(a, r) for a in (TEAM_A, TEAM_B) for r in REGIONS]


def test_the_summary_goes_out_once_when_every_account_region_reported_with_per_account_counts_and_totals():
    publisher = RecordingPublisher()
    runs, ledger = runs_with(publisher)
    run_id = fan_out(runs)[0].run_id
    report_all(runs, run_id, TARGETS[:-1])
    assert publisher.notices == []  # one account-region still to report
    report_all(runs, run_id, TARGETS[-1:])
    (notice,) = publisher.notices
    state = ledger.run_state(run_id)
    assert state.published and state.counts["account_regions"] == 4
    assert state.counts["repositories"] == 8 and state.counts["compliant_repositories"] == 8
    assert state.counts["remediated"] == 4
    totals = ledger.account_totals(run_id)
    assert totals[TEAM_A]["remediated"] == 2 and totals[TEAM_B]["account_regions"] == 2
    assert "Total (4 account-regions reconciled, 0 unreachable): 8 repositories checked, 8 compliant" in notice.text
    assert "team-a (111111111111): 4 repositories checked, 4 compliant" in notice.text
    assert "settings: 2 remediated" in notice.text
    assert f"Not onboarded (1; their role could not be assumed): {NEW}: cannot assume" in notice.text
    assert notice.subject == "ECR reconcile of 2 accounts: 4 settings remediated"
    # A redelivered message, and the summary check afterwards, change nothing.
    report_all(runs, run_id, TARGETS[:1])
    assert runs.check_deadlines() == [] and len(publisher.notices) == 1
    assert ledger.run_state(run_id).counts == state.counts and ledger.open_runs(RUN_KIND) == []


def test_an_audit_run_counts_what_it_would_remediate():
    publisher = RecordingPublisher()
    runs, _ = runs_with(publisher, mode="audit")
    run_id = fan_out(runs)[0].run_id
    would = report(decision("app/api", Action.WOULD_REMEDIATE), decision("app/web", Action.FAILED, "lifecycle_policy"))
    report_all(runs, run_id, TARGETS, would)
    (notice,) = publisher.notices
    assert notice.subject == "ECR reconcile of 2 accounts: 4 settings would remediate, 4 failed"
    assert "settings: 2 would remediate, 2 failed" in notice.text


def test_a_failed_ledger_write_fails_the_message_and_its_retry_counts_once():
    runs, ledger = runs_with(RecordingPublisher())
    run_id = fan_out(runs)[0].run_id
    ledger.fail.append("record_unit")
    with pytest.raises(AwsError):  # the message fails: SQS delivers it again
        report_all(runs, run_id, TARGETS[:1])
    report_all(runs, run_id, TARGETS[:1])
    report_all(runs, run_id, TARGETS[:1])  # ... and once more (a duplicate)
    assert ledger.run_state(run_id).reported == 1 and ledger.run_state(run_id).counts["remediated"] == 1


def test_a_continued_reconcile_is_waited_for_before_its_next_piece_is_sent():
    publisher = RecordingPublisher()
    runs, ledger = runs_with(publisher)
    run_id = fan_out(runs)[0].run_id
    report_all(runs, run_id, TARGETS[1:])
    account, region = TARGETS[0]
    queue = Queue()

    def expect(payload):
        runs.expect_piece(run_id, Target(account, region), payload["detail"]["piece"])

    QueuedContinuation(queue, f"{account}-0", expect).invoke_async("ignored", {"id": "e-2", "detail": {"piece": 1}})
    runs.record(run_id, unit_of(account, region), unit_counts(ONE_REMEDIATED, last_piece=False))
    assert publisher.notices == [] and ledger.run_state(run_id).expected == 5  # the piece is still to come
    runs.record(run_id, unit_of(account, region, 1), unit_counts(report(decision("z/last", Action.NONE)), True))
    (notice,) = publisher.notices
    assert ledger.run_state(run_id).counts["account_regions"] == 4  # the continued one counted once
    assert ledger.account_totals(run_id)[account]["repositories"] == 5


def test_at_the_deadline_the_summary_names_the_account_regions_that_did_not_report():
    publisher, clock = RecordingPublisher(), Clock()
    runs, ledger = runs_with(publisher, clock)
    run_id = fan_out(runs)[0].run_id
    report_all(runs, run_id, TARGETS[:2])
    clock.now = START + timedelta(hours=3)
    assert runs.check_deadlines() == [] and publisher.notices == []  # before the deadline: wait
    clock.now = START + timedelta(hours=4)
    assert runs.check_deadlines() == [run_id]
    (notice,) = publisher.notices
    assert "Did not report by the run's deadline (2): team-b (222222222222) in ap-southeast-1, team-b" in notice.text
    assert notice.subject.endswith("2 account-regions did not report")
    assert ledger.open_runs(RUN_KIND) == []
    report_all(runs, run_id, TARGETS[2:])  # late reports are recorded but publish nothing more
    assert len(publisher.notices) == 1


def test_a_summary_sns_refused_is_published_by_the_summary_check_once_the_lease_lapsed():
    publisher, clock = RecordingPublisher(fail_times=1), Clock()
    runs, ledger = runs_with(publisher, clock)
    run_id = fan_out(runs)[0].run_id
    report_all(runs, run_id, TARGETS)
    assert publisher.notices == [] and runs.summaries.notification_failed
    assert runs.check_deadlines() == []  # the claim is still held
    clock.now = START + SUMMARY_LEASE + timedelta(seconds=1)
    assert runs.check_deadlines() == [run_id] and len(publisher.notices) == 1
    assert ledger.run_state(run_id).published


def test_a_summary_that_cannot_be_published_for_two_days_is_given_up_with_an_error(caplog):
    publisher, clock = RecordingPublisher(fail_times=1000), Clock()
    runs, ledger = runs_with(publisher, clock)
    run_id = fan_out(runs)[0].run_id
    report_all(runs, run_id, TARGETS)
    clock.now = START + timedelta(days=2, minutes=15)
    with caplog.at_level("ERROR"):
        assert runs.check_deadlines() == []
    assert ledger.open_runs(RUN_KIND) == [] and not ledger.run_state(run_id).published
    assert any(r.getMessage().endswith("given up") for r in caplog.records)


def test_without_the_topic_the_summary_is_only_logged(caplog):
    runs, ledger = runs_with(publisher=None)
    run_id = fan_out(runs)[0].run_id
    with caplog.at_level("INFO"):
        report_all(runs, run_id, TARGETS)
    assert ledger.run_state(run_id).published
    (line,) = [r for r in caplog.records if r.getMessage() == "organization reconcile summary"]
    assert line.totals["remediated"] == 4 and line.per_account[TEAM_A]["name"] == "team-a"
    assert line.not_onboarded[0].startswith(NEW)


def test_account_names_are_outside_text_in_the_summary():
    state = RunState(
        "reconcile-1",
        "enforce",
        "2026-06-01T02:00:00Z",
        "2026-06-01T06:00:00Z",
        1,
        1,
        {name: 0 for name in UNIT_COUNTERS},
        account_names={TEAM_A: "evil\nForged: line https://phish.example/x \x1b[31m"},
        per_account={TEAM_A: {"repositories": 1}},
        not_onboarded=(f"{NEW}: denied\nInjected line",),
    )
    text = reconcile_summary_notice(state).text
    assert "\nForged" not in text and "\x1b" not in text and "https://" not in text
    assert "\nInjected" not in text
    assert f"({TEAM_A}): 1 repositories checked" in text


# ---- the property ---------------------------------------------------------------------------------------------
ACCOUNTS = (TEAM_A, TEAM_B, "555555555555")
UNIT_REPORTS = [
    (account, region, report(*(decision(f"r{i}", action) for i, action in enumerate(actions))))
    for (account, region), actions in zip(
        [(a, r) for a in ACCOUNTS for r in REGIONS],
        [
            (Action.REMEDIATED, Action.NONE),
            (Action.FAILED,),
            (Action.NONE, Action.NONE, Action.REMEDIATED),
            (),
            (Action.NOT_REMEDIABLE, Action.REMEDIATED),
            (Action.EXEMPT,),
        ],
        strict=True,
    )
]


class OrganizationOfThree(Organization):
    def __init__(self):
        super().__init__()
        self.accounts_list = [Account(a, f"team-{i}") for i, a in enumerate(ACCOUNTS)]


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    deliveries=st.lists(st.integers(0, len(UNIT_REPORTS) - 1), max_size=20).flatmap(
        lambda extra: st.permutations([*range(len(UNIT_REPORTS)), *extra])
    ),
    failures=st.sets(st.integers(0, 30), max_size=4),
)
def test_any_interleaving_and_duplication_of_unit_reports_gives_the_same_totals_and_one_summary(deliveries, failures):
    publisher = RecordingPublisher()
    runs, ledger = runs_with(publisher)
    run_id = fan_out(runs, organization=OrganizationOfThree())[0].run_id
    for position, index in enumerate(deliveries):
        account, region, result = UNIT_REPORTS[index]
        if position in failures:
            ledger.fail.append("record_unit")
        try:
            runs.record(run_id, unit_of(account, region), unit_counts(result, last_piece=True))
        except AwsError:  # a failed write: the message is delivered again
            runs.record(run_id, unit_of(account, region), unit_counts(result, last_piece=True))
    assert len(publisher.notices) == 1
    expected = {name: 0 for name in UNIT_COUNTERS}
    for _, _, result in UNIT_REPORTS:
        for name, value in unit_counts(result, last_piece=True).items():
            expected[name] += value
    assert dict(ledger.run_state(run_id).counts) == expected
    per_account = ledger.account_totals(run_id)
    assert sum(counts["repositories"] for counts in per_account.values()) == expected["repositories"]
    assert per_account[TEAM_A]["remediated"] == 1 and per_account["555555555555"]["not_remediable"] == 1
