"""EnforceRepositoryFunction: CloudTrail ECR API calls and the daily reconcile -> repository settings enforced.

The composition root: settings are parsed and clients built once per execution environment (a bad setting fails
the cold start with a message naming it). Every decision lives in the service (ecr_governance.enforce.invocation).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.clients import client_maker
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.lambda_invoke import LambdaInvoker
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.tagging import TaggingApi
from ecr_governance.enforce.events import Provenance, parse_enforcement_trigger
from ecr_governance.enforce.hub import EnforcementHub
from ecr_governance.enforce.invocation import EnforcementService, Invocation
from ecr_governance.enforce.ports import EnforcementRegistry, ExemptionTagSource, InvocationQueue
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import InvalidEvent
from ecr_governance.notice import NoticePublisher

from handlers.edge import camel_case_response, log_rejected_event, own_account_and_region
from handlers.enforce_wiring import RUNS_IAM_ACTIONS, reconcile_runs
from handlers.reach import HUB_IAM_ACTIONS, cached_membership, member_sessions, work_queue

# What this function needs from IAM: the union over the adapter methods serving its ports (template.yaml grants
# exactly these; a contract test compares them).
IAM_ACTIONS = (
    actions_for(EnforcementRegistry, EcrRegistry)
    | actions_for(ExemptionTagSource, TaggingApi)
    | actions_for(InvocationQueue, LambdaInvoker)
)
NOTIFY_IAM_ACTIONS = actions_for(NoticePublisher, SnsPublisher)
# Granted only when the setting named as the key turns the feature on (a contract test holds the template to it).
# An organization hub's fan-out starts each reconcile run and its summary check sums up those past their deadline.
CONDITIONAL_IAM_ACTIONS = {
    "REMEDIATION_TOPIC_ARN": NOTIFY_IAM_ACTIONS,
    "MEMBER_ROLE_NAME": HUB_IAM_ACTIONS | RUNS_IAM_ACTIONS,
}
# A full reconcile stops at a repository boundary when less time than this remains, and continues in a new invocation.
TIME_RESERVE_MILLIS = 120_000

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)

settings = EnforceSettings.from_environ()
make_client, make_lazy_client = client_maker(), client_maker(lazy=True)  # one session for every client
# Clients used only by full reconciles or notices are built when first used.
tag_source = TaggingApi(make_lazy_client("resourcegroupstaggingapi")) if settings.reads_tags_in_bulk else None
publisher = (
    SnsPublisher(make_lazy_client("sns"), settings.remediation_topic_arn) if settings.remediation_topic_arn else None
)
# An organization hub routes member events and fans the schedule out; its member worker does the work.
sessions = member_sessions(settings.organization)
hub = (
    EnforcementHub(
        cached_membership(settings.organization),
        sessions,
        work_queue(settings.work_queue_url),
        settings.organization,
        sessions.partition,
        reconcile_runs(settings, make_client, publisher),
    )
    if sessions
    else None
)
service = EnforcementService(
    Enforcer(EcrRegistry(make_client("ecr")), settings, tag_source),
    settings,
    LambdaInvoker(make_lazy_client("lambda")),
    publisher,
)


@camel_case_response
@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    account, region = own_account_and_region(context)
    provenance = Provenance(account=account, region=region)
    if hub is not None:
        routed = hub.route(event, provenance)
        if routed.status == "rejected":
            log_rejected_event(logger, metrics, routed.reason, event)
        for name, value in routed.metrics().items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return routed.as_dict()
    try:
        trigger = parse_enforcement_trigger(event, provenance)
    except InvalidEvent as error:
        log_rejected_event(logger, metrics, str(error), event)
        return {"status": "rejected", "reason": str(error)}
    logger.append_keys(event_id=trigger.event_id, trigger=str(trigger.kind), event_name=trigger.event_name)
    invocation = Invocation(
        function_arn=context.invoked_function_arn,
        provenance=provenance,
        out_of_time=lambda: context.get_remaining_time_in_millis() < TIME_RESERVE_MILLIS,
    )
    outcome = service.handle(trigger, invocation)
    for name, value in outcome.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return outcome.as_dict()
