"""An organization reconcile's run: what each account-region's reconcile adds up, and the one summary of the run.

The hub's fan-out starts a run (ecr_governance.runs) expecting one unit per account-region it queued; each message
the member worker finishes records its counters once (a redelivered or duplicated message is not counted twice), a
reconcile that continues in another message adds that piece as a unit before handing on, so the run cannot look
complete early. The worker whose unit completes the run publishes the summary; if that fails, or a unit never
reports (its message in the dead-letter queue), the hub's summary check publishes it at the deadline, naming the
account-regions that did not report. Per-account-region remediation notices stay: they name each repository and
setting changed, which the summary's counts do not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.model import Action, EnforcementReport
from ecr_governance.errors import FatalAwsError, GovernanceError
from ecr_governance.images import parse_timestamp
from ecr_governance.notice import Notice, NoticePublisher
from ecr_governance.organization.membership import Target, account_label, not_onboarded_list
from ecr_governance.runs import RunCounters, RunStart, RunState, RunTally, UnitRef

logger = Logger(service=SERVICE_NAME, child=True)

RUN_PREFIX = "reconcile-"
RUN_KIND = "reconcile"  # the open-run index's key for organization reconciles
ACCOUNTS_SHOWN = 50
UNREPORTED_SHOWN = 50
# A run whose summary could not be published for this long after it started is given up on (with an ERROR line).
MAX_RUN_AGE = timedelta(days=2)

# What one account-region's reconcile adds to the run: its summary's figures (EnforcementReport.summary), the
# compliant repositories, and whether the account-region is done (its last piece) or could not be reached.
REPORT_COUNTERS = (
    "repositories",
    "exempt_repositories",
    "non_compliant_after",
    *(str(action) for action in Action if action is not Action.NONE),
    "registry_failed",
    "registry_non_compliant",
    "transient_failures",
)
UNIT_COUNTERS = ("account_regions", "account_regions_unreachable", "compliant_repositories", *REPORT_COUNTERS)
RECONCILE_COUNTERS = RunCounters(UNIT_COUNTERS, UNIT_COUNTERS)


def run_id_of(schedule_id: str) -> str:
    return f"{RUN_PREFIX}{schedule_id}"


def unit_of(run_account: str, region: str, piece: int = 0) -> UnitRef:
    """An account-region's unit (`piece` 0), or the unit of its reconcile's continued piece."""
    unit_id = f"target/{run_account}/{region}" + (f"/piece/{piece}" if piece else "")
    return UnitRef(unit_id, "", run_account)


def region_of(unit: UnitRef) -> str:
    return unit.unit_id.split("/")[2] if unit.unit_id.count("/") >= 2 else ""


def unit_counts(report: EnforcementReport, last_piece: bool) -> dict[str, int]:
    """One message's reconcile as counters (a piece's repositories are its own: pieces never overlap)."""
    summary = report.summary()
    counts = {name: summary.get(name, 0) for name in REPORT_COUNTERS}
    counts["compliant_repositories"] = summary["repositories"] - summary["non_compliant_after"]
    counts["account_regions"] = int(last_piece)
    return counts


UNREACHABLE_COUNTS: Mapping[str, int] = {"account_regions_unreachable": 1}


# ---- the summary a person reads (pure) --------------------------------------------------------------------------
def account_label_in(state: RunState, account: str) -> str:
    return account_label(account, state.account_names.get(account, ""))


def _figures(counts: Mapping[str, int], audit: bool) -> str:
    changed = (
        f"{counts.get('would_remediate', 0)} would remediate" if audit else f"{counts.get('remediated', 0)} remediated"
    )
    return (
        f"{counts.get('repositories', 0)} repositories checked, {counts.get('compliant_repositories', 0)} compliant, "
        f"{counts.get('non_compliant_after', 0)} non-compliant after the run; settings: {changed}, "
        f"{counts.get('failed', 0)} failed, {counts.get('not_remediable', 0)} not remediable, "
        f"{counts.get('detected', 0)} detected, "
        f"{counts.get('managed_by_organization', 0)} managed by the organization; "
        f"registry aspects: {counts.get('registry_non_compliant', 0)} non-compliant, "
        f"{counts.get('registry_failed', 0)} failed"
    )


def reconcile_summary_notice(state: RunState) -> Notice:
    """The run's summary: per account (id and name) and totals, the accounts not onboarded, what did not report."""
    counts, audit = state.counts, state.mode != "enforce"
    failed = counts.get("failed", 0) + counts.get("registry_failed", 0)
    verb = "would remediate" if audit else "remediated"
    changed = counts.get("would_remediate" if audit else "remediated", 0)
    subject = (
        f"ECR reconcile of {len(state.per_account) or len(state.account_names)} accounts: {changed} settings {verb}"
    )
    if failed:
        subject += f", {failed} failed"
    if state.unswept:
        subject += f", {len(state.unswept)} account-regions did not report"
    lines = [
        f"ecr-governance organization reconcile {state.run_id}, started {state.started_at}, mode {state.mode}.",
        "",
        f"Total ({counts.get('account_regions', 0)} account-regions reconciled, "
        f"{counts.get('account_regions_unreachable', 0)} unreachable): {_figures(counts, audit)}.",
    ]
    if state.per_account:
        lines.append("Per account:")
        for account in sorted(state.per_account, key=lambda a: (-state.per_account[a].get("failed", 0), a))[
            :ACCOUNTS_SHOWN
        ]:
            lines.append(f"  {account_label_in(state, account)}: {_figures(state.per_account[account], audit)}.")
        if len(state.per_account) > ACCOUNTS_SHOWN:
            lines.append(f"  ... and {len(state.per_account) - ACCOUNTS_SHOWN} more accounts (in the runs table)")
    if state.not_onboarded:
        shown = not_onboarded_list(state.not_onboarded, ACCOUNTS_SHOWN)
        lines.append(f"Not onboarded ({len(state.not_onboarded)}; their role could not be assumed): {shown}")
    if state.unswept:
        missing = sorted({f"{account_label_in(state, u.account)} in {region_of(u)}" for u in state.unswept})
        lines.append(
            f"Did not report by the run's deadline ({len(missing)}): {', '.join(missing[:UNREPORTED_SHOWN])} - a "
            "message in the member work dead-letter queue or still retrying; the figures above leave them out."
        )
    attributes = {"mode": state.mode, "failures": str(failed), "unreported": str(len(state.unswept))}
    return Notice(subject=subject, text="\n".join(lines), attributes=attributes)


def summary_log_fields(state: RunState) -> dict[str, object]:
    """The summary as one structured log line's fields."""
    return {
        "run_id": state.run_id,
        "mode": state.mode,
        "totals": dict(state.counts),
        "per_account": {
            account: {"name": state.account_names.get(account, ""), **counts}
            for account, counts in state.per_account.items()
        },
        "not_onboarded": list(state.not_onboarded),
        "unreported": [unit.unit_id for unit in state.unswept],
    }


# ---- publishing it once -----------------------------------------------------------------------------------------
class ReconcileSummaries:
    def __init__(self, tally: RunTally, clock: Callable[[], datetime], publisher: NoticePublisher | None):
        self._tally = tally
        self._clock = clock
        self._publisher = publisher
        self.notification_failed = False  # the handler turns it into a metric

    def publish_if_complete(self, run_id: str) -> bool:
        return self._publish(run_id, closing=False)

    def close_if_due(self, run_id: str) -> bool:
        """At the summary check: publish a run whose deadline passed (or that is complete and was not published)."""
        state = self._tally.run_state(run_id)
        if state is None or state.published:
            return False
        closing = self._clock() >= parse_timestamp(state.deadline, "deadline")
        return (state.complete or closing) and self._publish(run_id, closing)

    def _publish(self, run_id: str, closing: bool) -> bool:
        self.notification_failed = False
        state = self._tally.claim_summary(run_id, self._clock(), closing)
        if state is None:
            return False
        if not state.complete:
            state = replace(state, unswept=tuple(self._tally.unfinished_units(run_id)))
        state = replace(state, per_account=self._tally.account_totals(run_id))
        logger.info("organization reconcile summary", extra=summary_log_fields(state))
        if self._publisher is not None:
            try:
                self._publisher.publish(reconcile_summary_notice(state))
            except FatalAwsError:
                raise
            except GovernanceError as error:
                # The claim lapses; the hub's summary check publishes it later.
                self.notification_failed = True
                logger.error(
                    "reconcile summary not published: retried by the summary check",
                    extra={"run_id": run_id, "reason": str(error), "error_code": getattr(error, "code", "")},
                )
                return False
        self._tally.mark_published(run_id)
        return True


# ---- the run, from the fan-out to the summary check --------------------------------------------------------------
class OpenRunIndex(Protocol):
    """The runs whose summary is not out yet, per kind of run: what the hub's summary check looks at."""

    def open_run(self, kind: str, run_id: str) -> None: ...

    def open_runs(self, kind: str) -> list[str]: ...

    def close_run(self, kind: str, run_id: str) -> None: ...


@dataclass(frozen=True)
class ReconcileRuns:
    """An organization reconcile's runs: started by the fan-out, added to by the member worker, summed up once."""

    tally: RunTally
    index: OpenRunIndex
    summaries: ReconcileSummaries
    clock: Callable[[], datetime]
    deadline: timedelta
    mode: str

    def start(
        self,
        schedule_id: str,
        targets: Sequence[Target],
        not_onboarded: Sequence[str],
        account_names: Mapping[str, str],
    ) -> str:
        """The run of one fan-out, expecting a unit per account-region, written before any message is sent; a retried
        fan-out finds its run started and sends the same messages (SQS FIFO drops the duplicates)."""
        run_id, now = run_id_of(schedule_id), self.clock()
        self.index.open_run(RUN_KIND, run_id)  # first: a run the summary check does not know is never summed up
        units = tuple(unit_of(target.account_id, target.region) for target in targets)
        start = RunStart(
            run_id,
            self.mode,
            now,
            now + self.deadline,
            units,
            not_onboarded=tuple(not_onboarded),
            account_names=dict(account_names),
        )
        self.tally.start_run(start)
        return run_id

    def unsent(self, run_id: str, targets: Sequence[Target]) -> None:
        """Account-regions whose message the queue refused are not waited for (they are governed next run); a run
        with nothing left to wait for (none reachable) is summed up at once."""
        if targets:
            self.tally.remove_units(run_id, [unit_of(target.account_id, target.region) for target in targets])
        self.summaries.publish_if_complete(run_id)

    def expect_piece(self, run_id: str, target: Target, piece: int) -> None:
        """A reconcile continues in another message: its piece is waited for before that message is sent."""
        self.tally.add_units(run_id, [unit_of(target.account_id, target.region, piece)])

    def record(self, run_id: str, unit: UnitRef, counts: Mapping[str, int]) -> None:
        """A message's counters, once (a redelivered message is not counted twice); the unit that completes the run
        publishes its summary. A failed write raises, so the message is retried rather than its count lost."""
        if not self.tally.record_unit(run_id, unit, counts):
            logger.info("reconcile unit reported before: not counted again", extra={"run_id": run_id})
        self.summaries.publish_if_complete(run_id)

    def check_deadlines(self) -> list[str]:
        """The summary check: each open run whose summary is out is closed; one past its deadline is summed up now,
        naming what did not report. The run ids whose summary this check published."""
        published = []
        for run_id in self.index.open_runs(RUN_KIND):
            if self.summaries.close_if_due(run_id):
                published.append(run_id)
            state = self.tally.run_state(run_id)
            if state is None or state.published or self._abandoned(state):
                self.index.close_run(RUN_KIND, run_id)
        return published

    def _abandoned(self, state: RunState) -> bool:
        if self.clock() - parse_timestamp(state.started_at, "startedAt") <= MAX_RUN_AGE:
            return False
        logger.error("organization reconcile summary never published: given up", extra={"run_id": state.run_id})
        return True
