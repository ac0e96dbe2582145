"""EnforceRepositoryFunction: CloudTrail ECR API calls and the daily reconcile -> repository settings enforced.

The composition root: settings are parsed and clients built once per execution environment (a bad setting fails
the cold start with a message naming it).
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from ecr_governance import SERVICE_NAME
from ecr_governance.enforce import Action, EnforcementReport, Enforcer
from ecr_governance.errors import InvalidEvent
from ecr_governance.events import EnforcementTrigger, TriggerKind, parse_enforcement_trigger
from ecr_governance.notify import SnsNotifier, remediation_message
from ecr_governance.registry import EcrRegistry
from ecr_governance.settings import Settings

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)

settings = Settings.from_environ()
_client_config = Config(retries={"mode": "standard", "max_attempts": 8})
enforcer = Enforcer(EcrRegistry(boto3.client("ecr", config=_client_config)), settings)
notifier = (
    SnsNotifier(boto3.client("sns", config=_client_config), settings.remediation_topic_arn)
    if settings.remediation_topic_arn
    else None
)

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


def _notify(report: EnforcementReport, trigger: EnforcementTrigger) -> None:
    if notifier is None:
        return
    cause = f"{trigger.event_name} by {trigger.actor_arn}" if trigger.event_name else "the scheduled reconcile"
    message = remediation_message(report, f"ran in {settings.mode} mode after {cause}")
    if message:
        notifier.publish(*message)


def _event_id(event: Any) -> str:
    return str(event.get("id", "")) if isinstance(event, dict) else ""
