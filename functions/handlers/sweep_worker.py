"""SweepWorkerFunction: SQS repository and deadline messages -> each repository's untagged sweep, each run's summary.

Powertools' BatchProcessor reports each failed message on its own (ReportBatchItemFailures), so one repository that
must be retried never re-sweeps the others. A malformed message is logged and dropped (it can never succeed); a
transient AWS failure fails its message, which SQS redelivers (then the DLQ). When no AWS call can succeed (no
credentials, no endpoint) the invocation fails as a whole: every message comes back, and the error says why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.clients import client_maker
from ecr_governance.aws.dynamodb import DynamoRunLedger
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.inspector import InspectorUsage
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.sqs import SqsQueue
from ecr_governance.errors import FatalAwsError, InvalidEvent
from ecr_governance.notice import NoticePublisher
from ecr_governance.organization.membership import Target
from ecr_governance.sweep.ledger import DeletionCall, RunLedger
from ecr_governance.sweep.messages import parse_message
from ecr_governance.sweep.notice import Prices
from ecr_governance.sweep.ports import InUseSource, MessageQueue, RepositoryDirectory, SweepAdapters, SweepRegistry
from ecr_governance.sweep.report import STORAGE_CLASSES, Outcome
from ecr_governance.sweep.settings import SweepSettings
from ecr_governance.sweep.summary import RunSummaries
from ecr_governance.sweep.worker import MessageResult, SweepWorker

from handlers.edge import log_rejected_event, sqs_batch_problem
from handlers.reach import REACH_IAM_ACTIONS, member_sessions

# What Lambda's SQS event source mapping does with the function's role to deliver the queue's messages.
SQS_EVENT_SOURCE_ACTIONS = frozenset({"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"})
# What this function needs from IAM: the union over the adapter methods serving its ports, and its trigger's.
IAM_ACTIONS = (
    actions_for(SweepRegistry, EcrRegistry)
    | actions_for(RepositoryDirectory, EcrRegistry)
    | actions_for(InUseSource, InspectorUsage)
    | actions_for(MessageQueue, SqsQueue)
    | actions_for(RunLedger, DynamoRunLedger)
    | SQS_EVENT_SOURCE_ACTIONS
)
NOTIFY_IAM_ACTIONS = actions_for(NoticePublisher, SnsPublisher)
# Granted only when the setting named as the key turns the feature on (a contract test holds the template to it).
CONDITIONAL_IAM_ACTIONS = {"SWEEP_TOPIC_ARN": NOTIFY_IAM_ACTIONS, "MEMBER_ROLE_NAME": REACH_IAM_ACTIONS}

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)

settings = SweepSettings.from_environ()
organization = settings.organization
sessions = member_sessions(organization)
# One session for every client; the queue (continuations, deadlines), Inspector (asked once per 10 minutes) and the
# topic (only a run's last result publishes) are built on first use, not at every cold start.
make_client, make_lazy_client = client_maker(), client_maker(lazy=True)
registry = EcrRegistry(make_client("ecr"))
queue = SqsQueue(make_lazy_client("sqs"), settings.queue_url) if settings.queue_url else None
ledger = DynamoRunLedger(make_client("dynamodb"), settings.runs_table) if settings.runs_table else None
publisher = SnsPublisher(make_lazy_client("sns"), settings.topic_arn) if settings.topic_arn else None
prices = Prices(settings.storage_price_per_gb_month, settings.archive_price_per_gb_month)


def _member_adapters(target: Target) -> SweepAdapters:
    """A member account-region's sweep adapters, through its governance role (raises MemberUnreachable)."""
    assert sessions is not None
    member_registry = EcrRegistry(sessions.client("ecr", target.account_id, target.region))
    return SweepAdapters(
        member_registry,
        member_registry,
        InspectorUsage(sessions.client("inspector2", target.account_id, target.region)),
    )


reach = _member_adapters if sessions else None


def _registry_of(call: DeletionCall) -> SweepRegistry:
    """Where an unconfirmed delete call's digests are looked up: its member's registry, or this account's."""
    return reach(Target(call.account, call.region)).registry if reach and call.account else registry


summaries = (
    RunSummaries(ledger, _registry_of, prices, lambda: datetime.now(UTC), queue=queue, publisher=publisher)
    if ledger
    else None
)
worker = SweepWorker(
    registry,
    registry,
    settings.rules,
    settings.exemptions,
    in_use=InspectorUsage(make_lazy_client("inspector2")),
    reach=reach,
    queue=queue,
    registry_api=settings.registry_api,
    ledger=ledger,
    summaries=summaries,
)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> dict[str, Any]:
    try:
        message = parse_message(record.body)
    except InvalidEvent as error:
        logger.error("message rejected", extra={"reason": str(error), "message_id": record.message_id})
        metrics.add_metric(name="MessagesRejected", unit=MetricUnit.Count, value=1)
        return {"status": "rejected", "reason": str(error)}
    result = worker.handle(message, seconds_left=lambda: lambda_context.get_remaining_time_in_millis() / 1000)
    _emit_metrics(result)
    return result.as_dict()


def _emit_metrics(result: MessageResult) -> None:
    report = result.report
    if report is not None:
        metrics.add_metric(name="ImagesSwept", unit=MetricUnit.Count, value=report.count(Outcome.DELETED))
        metrics.add_metric(name="BytesReclaimed", unit=MetricUnit.Bytes, value=report.bytes_of(Outcome.DELETED))
        deleted_by_class = {storage: report.bytes_of(Outcome.DELETED, storage) for storage in STORAGE_CLASSES}
        savings = prices.monthly_usd(deleted_by_class)
        metrics.add_metric(name="MonthlySavingsUsd", unit=MetricUnit.NoUnit, value=savings)
        failures = len(report.failed_images) + int(report.failure is not None)
        metrics.add_metric(name="SweepFailures", unit=MetricUnit.Count, value=failures)
    if summaries is not None and summaries.notification_failed:
        metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)
        summaries.notification_failed = False


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    problem = sqs_batch_problem(event)
    if problem:
        log_rejected_event(logger, metrics, problem, event)
        return {"batchItemFailures": []}
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    fatal = next((error for _, error, _ in processor.exceptions if isinstance(error, FatalAwsError)), None)
    if fatal is not None:  # no AWS call can succeed (no credentials, no endpoint): the whole batch goes back
        raise fatal
    return response
