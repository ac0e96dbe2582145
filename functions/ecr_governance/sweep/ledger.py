"""The run's ledger, as the sweep sees it: what a run expects, each message's result, each delete call's deletions.

A run is exact because deletions are never counted from a message's report: every delete call is written down
before it is made (an intent naming its digests) and confirmed with what ECR's response says was deleted, once per
call. A retried, duplicated or concurrently delivered message therefore adds each deletion once, and a call whose
confirmation never got written (the ledger failed, the function timed out) is resolved before the summary from what
the registry shows: its digests that are gone were deleted. The DynamoDB adapter (aws/dynamodb.py) serves the port;
the tests' in-memory ledger does too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ecr_governance.sweep.plan import PlannedDeletion
from ecr_governance.sweep.settings import SweepMode

# A summary claim older than this is taken over (the claimer failed before publishing).
SUMMARY_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class UnitRef:
    """One message a run waits for: a repository's sweep, one of its parts, or an organization's account-region."""

    unit_id: str
    repository: str  # empty for an account-region
    account: str = ""  # a member account (an organization run): its results are also added up per account


@dataclass(frozen=True)
class RunStart:
    run_id: str
    mode: SweepMode
    started_at: datetime
    deadline: datetime
    units: tuple[UnitRef, ...]  # the repository messages sent
    exempt: int = 0
    in_use_available: bool | None = None  # None: not asked (dry run of a registry with nothing to delete)
    not_onboarded: tuple[str, ...] = ()  # "account: reason" for each governed account whose role cannot be assumed
    account_names: Mapping[str, str] = field(default_factory=dict)  # an organization run: id -> name


@dataclass(frozen=True)
class DeletionCall:
    """One BatchDeleteImage call, written down before it is made."""

    call_id: str
    unit_id: str
    repository: str
    planned: tuple[PlannedDeletion, ...]
    account: str = ""  # a member account and region (an organization run)
    region: str = ""


@dataclass(frozen=True)
class RunState:
    run_id: str
    mode: str
    started_at: str  # ISO-8601, UTC
    deadline: str
    expected: int
    reported: int
    counts: Mapping[str, int]
    exempt: int = 0
    in_use_available: bool | None = None
    pending_deletions: int = 0  # delete calls written down and not confirmed
    published: bool = False
    not_onboarded: tuple[str, ...] = ()
    account_names: Mapping[str, str] = field(default_factory=dict)
    unswept: tuple[UnitRef, ...] = field(default=())  # filled in for a summary: the units that never reported
    per_account: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # filled in for an organization run

    @property
    def complete(self) -> bool:
        return self.reported >= self.expected


class RunStarter(Protocol):
    """What the planner records of a run."""

    def start_run(self, run: RunStart) -> bool:
        """Create the run and a pending entry per unit; False when it exists (the planner was retried)."""
        ...

    def remove_units(self, run_id: str, units: Sequence[UnitRef]) -> None:
        """Units whose message was never sent: no longer expected."""
        ...


class RunLedger(RunStarter, Protocol):
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
