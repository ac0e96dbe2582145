"""What both enforcing functions of an organization hub build the same way: the reconcile's runs (the runs table,
shared with the sweep, holding the reconcile's own counters) and their summaries (to the remediation topic when
NotifyRemediations is on, else only logged)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.runs_table import DynamoRunTally
from ecr_governance.enforce.run_summary import (
    RECONCILE_COUNTERS,
    OpenRunIndex,
    ReconcileRuns,
    ReconcileSummaries,
)
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.notice import NoticePublisher
from ecr_governance.runs import RunTally

RUNS_IAM_ACTIONS = actions_for(RunTally, DynamoRunTally) | actions_for(OpenRunIndex, DynamoRunTally)


def reconcile_runs(
    settings: EnforceSettings, make_client: Callable[[str], Any], publisher: NoticePublisher | None
) -> ReconcileRuns | None:
    """An organization hub's reconcile runs, or None (a single-account stack, or no runs table)."""
    if not (settings.organization.organization_wide and settings.runs_table):
        return None
    ledger = DynamoRunTally(make_client("dynamodb"), settings.runs_table, RECONCILE_COUNTERS)

    def clock() -> datetime:
        return datetime.now(UTC)

    return ReconcileRuns(
        ledger,
        ledger,
        ReconcileSummaries(ledger, clock, publisher),
        clock,
        timedelta(hours=settings.summary_deadline_hours),
        str(settings.mode),
    )
