"""EnforceRepositoryFunction: CloudTrail ECR API calls and the daily reconcile -> repository settings enforced.

The composition root: settings are parsed and clients built once per execution environment (a bad setting fails
the cold start with a message naming it).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.clients import make_client
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.enforce.events import EnforcementTrigger, TriggerKind, parse_enforcement_trigger
from ecr_governance.enforce.model import Action, EnforcementReport
from ecr_governance.enforce.notice import remediation_notice
from ecr_governance.enforce.service import EnforcementRegistry, Enforcer
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import GovernanceError, InvalidEvent
from ecr_governance.notice import NoticePublisher

# What this function needs from IAM: the union over the adapter methods serving its ports (template.yaml grants
# exactly these; a contract test compares them).
IAM_ACTIONS = actions_for(EnforcementRegistry, EcrRegistry)
NOTIFY_IAM_ACTIONS = actions_for(NoticePublisher, SnsPublisher)
# Granted only when the setting named as the key turns the feature on (a contract test holds the template to it).
CONDITIONAL_IAM_ACTIONS = {"REMEDIATION_TOPIC_ARN": NOTIFY_IAM_ACTIONS}

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)

settings = EnforceSettings.from_environ()
enforcer = Enforcer(EcrRegistry(make_client("ecr")), settings)
publisher = SnsPublisher(make_client("sns"), settings.remediation_topic_arn) if settings.remediation_topic_arn else None

METRIC_BY_ACTION = {
    Action.REMEDIATED: "SettingsRemediated",
    Action.WOULD_REMEDIATE: "ViolationsReported",
    Action.FAILED: "RemediationsFailed",
    Action.NOT_REMEDIABLE: "ViolationsNotRemediable",
    Action.EXEMPT: "RepositoriesExempt",
    Action.REPOSITORY_GONE: "RepositoriesGone",
}


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        trigger = parse_enforcement_trigger(event)
    except InvalidEvent as error:
        # Returning (not raising) keeps EventBridge from retrying an event that can never succeed.
        logger.error("event rejected", extra={"reason": str(error), "event_id": _event_id(event)})
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        return {"status": "rejected", "reason": str(error)}
    logger.append_keys(event_id=trigger.event_id, trigger=str(trigger.kind), event_name=trigger.event_name)

    if trigger.kind is TriggerKind.FAILED_CALL:
        logger.info("skipped: the API call failed, nothing changed", extra={"error_code": trigger.error_code})
        return {"status": "skipped", "reason": f"call failed with {trigger.error_code}"}
    if trigger.caused_by(settings.governance_role_arn):
        logger.info("skipped: caused by this function's own remediation", extra={"actor": trigger.actor_arn})
        metrics.add_metric(name="SelfEventsSkipped", unit=MetricUnit.Count, value=1)
        return {"status": "skipped", "reason": "own remediation"}

    scope = [trigger.repository_name] if trigger.kind is TriggerKind.REPOSITORY else None
    report = enforcer.apply(enforcer.assess(scope))
    _emit_metrics(report)
    _notify(report, trigger)
    return {"status": "done", "mode": str(settings.mode), "summary": report.summary()}


def _emit_metrics(report: EnforcementReport) -> None:
    for action, metric_name in METRIC_BY_ACTION.items():
        metrics.add_metric(name=metric_name, unit=MetricUnit.Count, value=report.count(action))
    metrics.add_metric(name="RepositoriesAssessed", unit=MetricUnit.Count, value=len(report.repositories))
    metrics.add_metric(name="TransientFailures", unit=MetricUnit.Count, value=report.transient_failures)


def _notify(report: EnforcementReport, trigger: EnforcementTrigger) -> None:
    """Publish the run's notice. A failure is logged and counted, not raised: the writes are done, and a retry of
    this invocation would find nothing left to remediate - so it could never send the notice either."""
    if publisher is None:
        return
    cause = f"{trigger.event_name} by {trigger.actor_arn}" if trigger.event_name else "the scheduled reconcile"
    notice = remediation_notice(report, f"ran in {settings.mode} mode after {cause}")
    if notice is None:
        return
    try:
        publisher.publish(notice)
    except GovernanceError as error:
        logger.error(
            "notification failed",
            extra={"reason": str(error), "error_code": getattr(error, "code", ""), "subject": notice.subject},
        )
        metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)


def _event_id(event: Any) -> str:
    return str(event.get("id", "")) if isinstance(event, dict) else ""
