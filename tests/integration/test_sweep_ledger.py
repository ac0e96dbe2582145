"""The runs table's ledger: the DynamoDB adapter on the emulator (conditions and transactions over real HTTP) and the
tests' in-memory fake, held to the same behaviour - so the fault tests run on the fake prove something about the
adapter the functions use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from ecr_governance.aws.dynamodb import DynamoRunLedger
from ecr_governance.sweep.ledger import SUMMARY_LEASE, DeletionCall, RunLedger, RunStart, UnitRef
from ecr_governance.sweep.plan import PlannedDeletion
from ecr_governance.sweep.settings import SweepMode
from registry_builders import REGION
from sweep_fakes import InMemoryRuns

pytestmark = pytest.mark.integration
NOW = datetime(2026, 6, 1, tzinfo=UTC)
A, B, C = (f"sha256:{c * 64}" for c in "abc")
UNITS = (UnitRef("repository/team/a", "team/a"), UnitRef("repository/team/b", "team/b"))


@pytest.fixture(params=["dynamodb", "in-memory"])
def ledger(request, emulator_endpoint) -> Iterator[RunLedger]:
    if request.param == "in-memory":
        yield InMemoryRuns()
        return
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName="runs",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    yield DynamoRunLedger(client, "runs")


def start(ledger: RunLedger, run_id: str = "run-1") -> None:
    run = RunStart(run_id, SweepMode.DELETE, NOW, NOW + timedelta(hours=6), UNITS, exempt=2, in_use_available=False)
    assert ledger.start_run(run) is True
    assert ledger.start_run(run) is False  # a retried planner


def test_a_run_waits_for_every_unit_and_its_summary_is_claimed_once(ledger):
    start(ledger)
    state = ledger.run_state("run-1")
    assert (state.expected, state.reported, state.exempt, state.in_use_available) == (2, 0, 2, False)
    assert ledger.run_state("no-such-run") is None

    ledger.add_units("run-1", [UnitRef("repository/team/a/part/1", "team/a")])
    ledger.add_units("run-1", [UnitRef("repository/team/a/part/1", "team/a")])  # a retried hand-on: once
    assert ledger.run_state("run-1").expected == 3
    ledger.remove_units("run-1", [UnitRef("repository/team/a/part/1", "team/a")])
    ledger.remove_units("run-1", [UnitRef("repository/team/a/part/1", "team/a")])  # once only
    assert ledger.run_state("run-1").expected == 2

    assert ledger.record_unit("run-1", UNITS[0], {"repositories": 1, "examined": 7, "deleted": 99}) is True
    assert ledger.record_unit("run-1", UNITS[0], {"repositories": 1, "examined": 7}) is False  # delivered twice
    assert ledger.unfinished_units("run-1") == [UNITS[1]]
    assert ledger.claim_summary("run-1", NOW, closing=False) is None  # team/b has not reported
    assert ledger.claim_summary("run-1", NOW, closing=True) is None  # nor is the deadline past

    assert ledger.record_unit("run-1", UNITS[1], {"repositories": 1, "examined": 3}) is True
    claimed = ledger.claim_summary("run-1", NOW, closing=False)
    assert claimed.complete and claimed.counts["examined"] == 10 and claimed.counts["repositories"] == 2
    assert claimed.counts["deleted"] == 0  # deletions come from confirmed delete calls only
    assert ledger.claim_summary("run-1", NOW + timedelta(minutes=1), closing=False) is None  # claimed: a lease
    retaken = ledger.claim_summary("run-1", NOW + SUMMARY_LEASE + timedelta(seconds=1), closing=False)
    assert retaken is not None and not retaken.published  # the claimer failed: taken over
    ledger.mark_published("run-1")
    assert ledger.claim_summary("run-1", NOW + timedelta(hours=1), closing=True) is None
    assert ledger.run_state("run-1").published


def test_each_delete_call_is_counted_once_and_one_never_confirmed_can_be_found(ledger):
    start(ledger)
    first = DeletionCall("call-1", "repository/team/a", "team/a", (PlannedDeletion(A, 10, "standard"),))
    second = DeletionCall(
        "call-2", "repository/team/b", "team/b", (PlannedDeletion(B, 20, "archive"), PlannedDeletion(C, 5, "standard"))
    )
    ledger.intend_deletion("run-1", first)
    ledger.intend_deletion("run-1", second)
    assert ledger.run_state("run-1").pending_deletions == 2
    assert ledger.confirm_deletion("run-1", "call-1", first.planned) is True
    assert ledger.confirm_deletion("run-1", "call-1", first.planned) is False  # a retried confirmation
    assert ledger.confirm_deletion("run-1", "no-such-call", first.planned) is False
    assert ledger.pending_deletions("run-1") == [second]
    assert ledger.confirm_deletion("run-1", "call-2", second.planned[:1]) is True  # C was not deleted
    counts = ledger.run_state("run-1").counts
    assert (counts["deleted"], counts["bytes_reclaimed_standard"], counts["bytes_reclaimed_archive"]) == (2, 10, 20)
    assert ledger.run_state("run-1").pending_deletions == 0 and ledger.pending_deletions("run-1") == []


def test_a_run_past_its_deadline_can_be_closed_with_what_never_reported(ledger):
    start(ledger)
    ledger.record_unit("run-1", UNITS[1], {"repositories": 1})
    assert ledger.claim_summary("run-1", NOW + timedelta(hours=5), closing=True) is None
    closing = ledger.claim_summary("run-1", NOW + timedelta(hours=6), closing=True)
    assert closing is not None and not closing.complete
    assert ledger.unfinished_units("run-1") == [UNITS[0]]
