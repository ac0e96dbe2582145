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
from ecr_governance.aws.clients import client_maker, serves_aws_endpoint
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.lambda_invoke import LambdaInvoker
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.tagging import TaggingApi
from ecr_governance.enforce.events import (
    EnforcementTrigger,
    Provenance,
    TriggerKind,
    continuation_event,
    parse_enforcement_trigger,
)
from ecr_governance.enforce.model import Action, EnforcementReport, ReconcileProgress
from ecr_governance.enforce.notice import remediation_notice
from ecr_governance.enforce.service import (
    EnforcementRegistry,
    Enforcer,
    ExemptionTagSource,
    InvocationQueue,
    ReconcileScope,
)
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import GovernanceError, InvalidEvent
from ecr_governance.notice import NoticePublisher

from handlers.edge import camel_case_response, log_rejected_event, own_account_and_region

# What this function needs from IAM: the union over the adapter methods serving its ports (template.yaml grants
# exactly these; a contract test compares them).
IAM_ACTIONS = (
    actions_for(EnforcementRegistry, EcrRegistry)
    | actions_for(ExemptionTagSource, TaggingApi)
    | actions_for(InvocationQueue, LambdaInvoker)
)
NOTIFY_IAM_ACTIONS = actions_for(NoticePublisher, SnsPublisher)
# A full reconcile stops at a repository boundary when less time than this remains, and continues in a new invocation.
TIME_RESERVE_MILLIS = 120_000
# Granted only when the setting named as the key turns the feature on (a contract test holds the template to it).
CONDITIONAL_IAM_ACTIONS = {"REMEDIATION_TOPIC_ARN": NOTIFY_IAM_ACTIONS}

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)

settings = EnforceSettings.from_environ()
make_client, make_lazy_client = client_maker(), client_maker(lazy=True)  # one session for every client
_ecr_client = make_client("ecr")
# Bulk tag reads need the Resource Groups Tagging API, which AWS-compatible emulators do not serve for ECR: there,
# tags are read one repository at a time. Clients used only by full reconciles are built when first used.
tag_source = TaggingApi(make_lazy_client("resourcegroupstaggingapi")) if serves_aws_endpoint(_ecr_client) else None
enforcer = Enforcer(EcrRegistry(_ecr_client), settings, tag_source)
invoker = LambdaInvoker(make_lazy_client("lambda"))
publisher = (
    SnsPublisher(make_lazy_client("sns"), settings.remediation_topic_arn) if settings.remediation_topic_arn else None
)

METRIC_BY_ACTION = {
    Action.REMEDIATED: "SettingsRemediated",
    Action.WOULD_REMEDIATE: "ViolationsReported",
    Action.FAILED: "RemediationsFailed",
    Action.NOT_REMEDIABLE: "ViolationsNotRemediable",
    Action.REPOSITORY_GONE: "RepositoriesGone",
}


@camel_case_response
@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    provenance = provenance_of(context)
    try:
        trigger = parse_enforcement_trigger(event, provenance)
    except InvalidEvent as error:
        log_rejected_event(logger, metrics, str(error), event)
        return {"status": "rejected", "reason": str(error)}
    logger.append_keys(event_id=trigger.event_id, trigger=str(trigger.kind), event_name=trigger.event_name)

    if trigger.kind is TriggerKind.FAILED_CALL:
        logger.info("skipped: the API call failed, nothing changed", extra={"error_code": trigger.error_code})
        return {"status": "skipped", "reason": f"call failed with {trigger.error_code}"}
    if trigger.caused_by(settings.governance_role_arn):
        logger.info("skipped: caused by this function's own remediation", extra={"actor": trigger.actor_arn})
        metrics.add_metric(name="SelfEventsSkipped", unit=MetricUnit.Count, value=1)
        return {"status": "skipped", "reason": "own remediation"}

    if trigger.kind is TriggerKind.REPOSITORY:
        scope = ReconcileScope((trigger.repository_name,))
    else:
        scope = ReconcileScope(
            progress=trigger.progress,
            should_stop=lambda: context.get_remaining_time_in_millis() < TIME_RESERVE_MILLIS,
        )
    report = enforcer.reconcile(scope)
    if report.continuation is not None:
        _continue(report.continuation, context, provenance, trigger)
    _emit_metrics(report)
    _notify(report, trigger)
    result: dict[str, Any] = {"status": "done", "mode": str(settings.mode), "summary": report.summary()}
    if report.continuation is not None:
        result["continues_after"] = report.continuation.after
    return result


def provenance_of(context: LambdaContext) -> Provenance:
    account, region = own_account_and_region(context)
    return Provenance(account=account, region=region)


def _continue(
    progress: ReconcileProgress, context: LambdaContext, provenance: Provenance, trigger: EnforcementTrigger
) -> None:
    """Queue the next piece. If that fails the invocation fails (and is retried): the rest of the registry must not
    be silently skipped."""
    event = continuation_event(progress, provenance, f"{trigger.event_id}-{progress.piece + 1}")
    invoker.invoke_async(context.invoked_function_arn, event)
    logger.info("reconcile continued", extra={"after": progress.after, "next_piece": progress.piece + 1})
    metrics.add_metric(name="ReconcileContinuations", unit=MetricUnit.Count, value=1)


def _emit_metrics(report: EnforcementReport) -> None:
    for action, metric_name in METRIC_BY_ACTION.items():
        metrics.add_metric(name=metric_name, unit=MetricUnit.Count, value=report.count(action))
    summary = report.summary()
    metrics.add_metric(name="RepositoriesExempt", unit=MetricUnit.Count, value=summary["exempt_repositories"])
    metrics.add_metric(name="RepositoriesAssessed", unit=MetricUnit.Count, value=len(report.repositories))
    metrics.add_metric(name="TransientFailures", unit=MetricUnit.Count, value=report.transient_failures)


def _notify(report: EnforcementReport, trigger: EnforcementTrigger) -> None:
    """Publish the run's notice. A failure is logged and counted, not raised: the writes are done, and a retry of
    this invocation would find nothing left to remediate - so it could never send the notice either."""
    if publisher is None:
        return
    if trigger.kind is TriggerKind.CONTINUATION:
        cause = f"the scheduled reconcile (part {trigger.progress.piece + 1})" if trigger.progress else "a reconcile"
    elif trigger.event_name:
        cause = f"{trigger.event_name} by {trigger.actor_arn}"
    else:
        cause = "the scheduled reconcile"
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
