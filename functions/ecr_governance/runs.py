"""A run that fans out into units of work and adds up their results: the sweep's runs and an organization
reconcile's share it (one implementation: the DynamoDB adapter in aws/dynamodb.py, the tests' in-memory ledger).

A run is started with the units it waits for (a pending entry each); each unit's counters are recorded once (keyed by
run id + unit id, a conditional write), added to the run's and - an organization run - to its account's; the summary
is claimed once, with a lease, when every unit reported or the deadline passed. Which counters a run adds up is the
capability's (`RunCounters`); the sweep's delete calls (sweep/ledger.py) are the sweep's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

# A summary claim older than this is taken over (the claimer failed before publishing).
SUMMARY_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class RunCounters:
    """The counters a kind of run adds up: all of them (`names`), and those a unit's result carries (`unit`)."""

    names: tuple[str, ...]
    unit: tuple[str, ...]


@dataclass(frozen=True)
class UnitRef:
    """One message a run waits for: a repository's sweep, one of its parts, or an organization's account-region."""

    unit_id: str
    repository: str  # empty for an account-region
    account: str = ""  # a member account (an organization run): its results are also added up per account


@dataclass(frozen=True)
class RunStart:
    run_id: str
    mode: str  # the capability's mode (a SweepMode, an enforcement mode)
    started_at: datetime
    deadline: datetime
    units: tuple[UnitRef, ...]  # the messages sent
    exempt: int = 0
    in_use_available: bool | None = None  # the sweep's: None when not asked
    not_onboarded: tuple[str, ...] = ()  # "account: reason" for each governed account whose role cannot be assumed
    account_names: Mapping[str, str] = field(default_factory=dict)  # an organization run: id -> name


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
    pending_deletions: int = 0  # the sweep's: delete calls written down and not confirmed
    published: bool = False
    not_onboarded: tuple[str, ...] = ()
    account_names: Mapping[str, str] = field(default_factory=dict)
    unswept: tuple[UnitRef, ...] = field(default=())  # filled in for a summary: the units that never reported
    per_account: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # filled in for an organization run

    @property
    def complete(self) -> bool:
        return self.reported >= self.expected


class RunTally(Protocol):
    """A run's units and their counters, and its summary's claim (the part every kind of run shares)."""

    def start_run(self, run: RunStart) -> bool:
        """Create the run and a pending entry per unit; False when it exists (its starter was retried)."""
        ...

    def remove_units(self, run_id: str, units: Sequence[UnitRef]) -> None:
        """Units whose message was never sent: no longer expected."""
        ...

    def add_units(self, run_id: str, units: Sequence[UnitRef]) -> None:
        """More results to wait for (a message's next part), written before their messages are sent, so the run
        cannot look complete early; a unit added before (a retried hand-on) is not added twice."""
        ...

    def record_unit(self, run_id: str, unit: UnitRef, counts: Mapping[str, int]) -> bool:
        """A unit's result, once per unit; False when it was recorded before."""
        ...

    def run_state(self, run_id: str) -> RunState | None: ...

    def claim_summary(self, run_id: str, now: datetime, closing: bool) -> RunState | None:
        """The run, claimed for its summary when every result is in (or `closing`: its deadline has passed), it is
        not published, and no one holds a claim younger than SUMMARY_LEASE; else None."""
        ...

    def unfinished_units(self, run_id: str) -> list[UnitRef]: ...

    def account_totals(self, run_id: str) -> dict[str, dict[str, int]]:
        """An organization run's counters per member account."""
        ...

    def mark_published(self, run_id: str) -> None: ...
