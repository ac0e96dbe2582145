"""The run's ledger, as the sweep sees it: what a run expects, each message's result, each delete call's deletions.

A run is exact because deletions are never counted from a message's report: every delete call is written down
before it is made (an intent naming its digests) and confirmed with what ECR's response says was deleted, once per
call. A retried, duplicated or concurrently delivered message therefore adds each deletion once, and a call whose
confirmation never got written (the ledger failed, the function timed out) is resolved before the summary from what
the registry shows: its digests that are gone were deleted. The DynamoDB adapter (aws/dynamodb.py) serves the port;
the tests' in-memory ledger does too. What every run shares (units, counters recorded once, the summary's
claim) is ecr_governance.runs; the delete calls are the sweep's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ecr_governance.runs import SUMMARY_LEASE, RunCounters, RunStart, RunState, RunTally, UnitRef
from ecr_governance.sweep.plan import PlannedDeletion
from ecr_governance.sweep.report import COUNTERS, UNIT_COUNTERS

__all__ = [
    "SUMMARY_LEASE",
    "SWEEP_COUNTERS",
    "DeletionCall",
    "RunLedger",
    "RunStart",
    "RunStarter",
    "RunState",
    "UnitRef",
]

# What a sweep run adds up (deletions only through confirmed delete calls, never a unit's own report).
SWEEP_COUNTERS = RunCounters(COUNTERS, UNIT_COUNTERS)


@dataclass(frozen=True)
class DeletionCall:
    """One BatchDeleteImage call, written down before it is made."""

    call_id: str
    unit_id: str
    repository: str
    planned: tuple[PlannedDeletion, ...]
    account: str = ""  # a member account and region (an organization run)
    region: str = ""


class RunStarter(Protocol):
    """What the planner records of a run."""

    def start_run(self, run: RunStart) -> bool:
        """Create the run and a pending entry per unit; False when it exists (the planner was retried)."""
        ...

    def remove_units(self, run_id: str, units: Sequence[UnitRef]) -> None:
        """Units whose message was never sent: no longer expected."""
        ...


class RunLedger(RunStarter, RunTally, Protocol):
    """What the workers record, and what a summary is built from."""

    def add_units(self, run_id: str, units: Sequence[UnitRef]) -> None:
        """More results to wait for - a repository's next part, an account-region's repositories - written before
        their messages are sent, so the run cannot look complete early."""
        ...

    def intend_deletion(self, run_id: str, call: DeletionCall) -> None: ...

    def confirm_deletion(
        self, run_id: str, call_id: str, deleted: Sequence[PlannedDeletion], account: str = ""
    ) -> bool:
        """Add what the call deleted to the run (and its account), once per call; False when confirmed before."""
        ...

    def record_unit(self, run_id: str, unit: UnitRef, counts: Mapping[str, int]) -> bool:
        """A message's result (everything but deletions), once per unit; False when it was recorded before."""
        ...

    def run_state(self, run_id: str) -> RunState | None: ...

    def claim_summary(self, run_id: str, now: datetime, closing: bool) -> RunState | None:
        """The run, claimed for its summary when every result is in (or `closing`: its deadline has passed), it is
        not published, and no one holds a claim younger than SUMMARY_LEASE; else None."""
        ...

    def pending_deletions(self, run_id: str) -> list[DeletionCall]: ...

    def unfinished_units(self, run_id: str) -> list[UnitRef]: ...

    def mark_published(self, run_id: str) -> None: ...

    def account_totals(self, run_id: str) -> dict[str, dict[str, int]]:
        """An organization run's counters per member account."""
        ...
