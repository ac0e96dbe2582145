"""One invocation of EnforceRepositoryFunction, after its event is parsed: whether to act (pure), the scope
(pure), the reconcile, its continuation, the notice (its wording pure), and an outcome the handler logs, counts
and returns.

Only a failed continuation leaves by an exception (Lambda retries the invocation, so the rest of the registry is
never silently skipped); a notice that cannot be published is recorded in the outcome, since the writes are done
and a retry would find nothing left to notify about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.events import EnforcementTrigger, Provenance, TriggerKind, continuation_event
from ecr_governance.enforce.model import Action, EnforcementReport, ReconcileProgress
from ecr_governance.enforce.notice import remediation_notice
from ecr_governance.enforce.ports import InvocationQueue
from ecr_governance.enforce.reconcile import ReconcileScope
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import GovernanceError
from ecr_governance.notice import NoticePublisher

logger = Logger(service=SERVICE_NAME, child=True)

# The run's decisions, counted per action as these metrics (the template's alarms watch two of them).
METRIC_BY_ACTION = {
    Action.REMEDIATED: "SettingsRemediated",
    Action.WOULD_REMEDIATE: "ViolationsReported",
    Action.FAILED: "RemediationsFailed",
    Action.NOT_REMEDIABLE: "ViolationsNotRemediable",
    Action.REPOSITORY_GONE: "RepositoriesGone",
    Action.DETECTED: "ViolationsDetected",
    Action.MANAGED: "ManagedByOrganization",
}


@dataclass(frozen=True)
class Invocation:
    """What the function knows of its own invocation: its ARN (to continue), where it runs, its time budget."""

    function_arn: str
    provenance: Provenance
    out_of_time: Callable[[], bool] = lambda: False


@dataclass(frozen=True)
class Skip:
    reason: str  # what the invocation answers
    log_message: str
    log_fields: dict[str, str] = field(default_factory=dict)
    own_event: bool = False


# ---- the pure decisions -----------------------------------------------------------------------------------------
def skip_for(trigger: EnforcementTrigger, governance_role_arn: str) -> Skip | None:
    """Why this trigger asks for nothing, or None: a failed call changed nothing; our own call would be a loop."""
    if trigger.kind is TriggerKind.FAILED_CALL:
        return Skip(
            f"call failed with {trigger.error_code}",
            "skipped: the API call failed, nothing changed",
            {"error_code": trigger.error_code},
        )
    if trigger.caused_by(governance_role_arn):
        return Skip(
            "own remediation",
            "skipped: caused by this function's own remediation",
            {"actor": trigger.actor_arn},
            own_event=True,
        )
    return None


def scope_for(trigger: EnforcementTrigger, out_of_time: Callable[[], bool]) -> ReconcileScope:
    """One repository for its event; else a full reconcile (or its next piece) within the time budget."""
    if trigger.kind is TriggerKind.REPOSITORY and trigger.repository_name:
        return ReconcileScope((trigger.repository_name,))
    return ReconcileScope(progress=trigger.progress, should_stop=out_of_time)


def notice_cause(trigger: EnforcementTrigger) -> str:
    """What made the run, in the notice's words."""
    if trigger.kind is TriggerKind.CONTINUATION:
        return f"the scheduled reconcile (part {trigger.progress.piece + 1})" if trigger.progress else "a reconcile"
    if trigger.event_name:
        return f"{trigger.event_name} by {trigger.actor_arn}"
    return "the scheduled reconcile"


# ---- the outcome ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InvocationOutcome:
    status: str  # done | skipped
    reason: str = ""
    mode: str = ""
    report: EnforcementReport | None = None
    own_event_skipped: bool = False
    notification_failed: bool = False

    def as_dict(self) -> dict[str, Any]:
        if self.report is None:
            return {"status": self.status, "reason": self.reason}
        result: dict[str, Any] = {"status": self.status, "mode": self.mode, "summary": self.report.summary()}
        if self.report.continuation is not None:
            result["continues_after"] = self.report.continuation.after
        return result

    def metrics(self) -> dict[str, int]:
        """Metric name -> count (EMF, unit Count)."""
        if self.report is None:
            return {"SelfEventsSkipped": 1} if self.own_event_skipped else {}
        report = self.report
        counts = {name: report.count(action) for action, name in METRIC_BY_ACTION.items()}
        counts["RepositoriesExempt"] = report.summary()["exempt_repositories"]
        counts["RepositoriesAssessed"] = len(report.repositories)
        counts["TransientFailures"] = report.transient_failures
        if report.continuation is not None:
            counts["ReconcileContinuations"] = 1
        if self.notification_failed:
            counts["NotificationsFailed"] = 1
        return counts


# ---- the use case -----------------------------------------------------------------------------------------------
class EnforcementService:
    def __init__(
        self,
        enforcer: Enforcer,
        settings: EnforceSettings,
        invoker: InvocationQueue,
        publisher: NoticePublisher | None = None,
        where: str = "",
    ):
        """`where`: the member account and region, for an organization hub's notices (empty: this account)."""
        self._enforcer = enforcer
        self._settings = settings
        self._invoker = invoker
        self._publisher = publisher
        self._where = f" in {where}" if where else ""

    def handle(self, trigger: EnforcementTrigger, invocation: Invocation) -> InvocationOutcome:
        skip = skip_for(trigger, self._settings.governance_role_arn)
        if skip is not None:
            logger.info(skip.log_message, extra=skip.log_fields)
            return InvocationOutcome("skipped", skip.reason, own_event_skipped=skip.own_event)
        report = self._enforcer.reconcile(scope_for(trigger, invocation.out_of_time))
        if report.continuation is not None:
            self._continue(report.continuation, invocation, trigger)
        published = self._notify(report, trigger)
        return InvocationOutcome(
            "done", mode=str(self._settings.mode), report=report, notification_failed=not published
        )

    def _continue(self, progress: ReconcileProgress, invocation: Invocation, trigger: EnforcementTrigger) -> None:
        """Queue the next piece. If that fails the invocation fails (and is retried)."""
        event = continuation_event(
            progress, invocation.provenance, f"{trigger.event_id}-{progress.piece + 1}", trigger.run_id
        )
        self._invoker.invoke_async(invocation.function_arn, event)
        logger.info("reconcile continued", extra={"after": progress.after, "next_piece": progress.piece + 1})

    def _notify(self, report: EnforcementReport, trigger: EnforcementTrigger) -> bool:
        """Publish the run's notice (if any); False when publishing failed (logged, not raised)."""
        if self._publisher is None:
            return True
        notice = remediation_notice(
            report, f"ran in {self._settings.mode} mode{self._where} after {notice_cause(trigger)}"
        )
        if notice is None:
            return True
        try:
            self._publisher.publish(notice)
        except GovernanceError as error:
            logger.error(
                "notification failed",
                extra={"reason": str(error), "error_code": getattr(error, "code", ""), "subject": notice.subject},
            )
            return False
        return True
