"""SweepWorkerFunction: SQS repository and continuation messages -> each repository's untagged sweep.

Powertools' BatchProcessor reports each failed message on its own (ReportBatchItemFailures), so one repository that
must be retried never re-sweeps the others. A malformed message is logged and dropped (it can never succeed); a
transient AWS failure while reading a repository fails its message, which SQS redelivers (then the DLQ).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.clients import client_maker
from ecr_governance.aws.dynamodb import DynamoRunLedger
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.sqs import SqsQueue
from ecr_governance.errors import InvalidEvent
from ecr_governance.notice import NoticePublisher
from ecr_governance.sweep.messages import parse_message
from ecr_governance.sweep.report import Outcome, SweepReport
from ecr_governance.sweep.service import MessageQueue, RunLedger, SweepRegistry, SweepWorker
from ecr_governance.sweep.settings import SweepSettings

from handlers.edge import log_rejected_event

# What Lambda's SQS event source mapping does with the function's role to deliver the queue's messages.
SQS_EVENT_SOURCE_ACTIONS = frozenset({"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"})
# What this function needs from IAM: the union over the adapter methods serving its ports, and its trigger's.
IAM_ACTIONS = (
    actions_for(SweepRegistry, EcrRegistry)
    | actions_for(MessageQueue, SqsQueue)
    | actions_for(RunLedger, DynamoRunLedger)
    | SQS_EVENT_SOURCE_ACTIONS
)
NOTIFY_IAM_ACTIONS = actions_for(NoticePublisher, SnsPublisher)
# Granted only when the setting named as the key turns the feature on (a contract test holds the template to it).
CONDITIONAL_IAM_ACTIONS = {"SWEEP_TOPIC_ARN": NOTIFY_IAM_ACTIONS}

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)

settings = SweepSettings.from_environ()
# One session for every client; the queue (only a continuation sends to it) and the topic (only the last result of a
# run publishes) are built on first use, not at every cold start.
make_client, make_lazy_client = client_maker(), client_maker(lazy=True)
worker = SweepWorker(
    EcrRegistry(make_client("ecr")),
    queue=SqsQueue(make_lazy_client("sqs"), settings.queue_url) if settings.queue_url else None,
    runs=DynamoRunLedger(make_client("dynamodb"), settings.runs_table) if settings.runs_table else None,
    publisher=SnsPublisher(make_lazy_client("sns"), settings.topic_arn) if settings.topic_arn else None,
    storage_price_per_gb_month=settings.storage_price_per_gb_month,
)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> dict[str, Any]:
    try:
        message = parse_message(record.body)
    except InvalidEvent as error:
        logger.error("message rejected", extra={"reason": str(error), "message_id": record.message_id})
        metrics.add_metric(name="MessagesRejected", unit=MetricUnit.Count, value=1)
        return {"status": "rejected", "reason": str(error)}
    report = worker.handle(message, seconds_left=lambda: lambda_context.get_remaining_time_in_millis() / 1000)
    if report is None:
        return {"status": "requeued", "repository": message.repository}
    _emit_metrics(report)
    return {"status": "swept", **report.log_fields()}


def _emit_metrics(report: SweepReport) -> None:
    metrics.add_metric(name="ImagesSwept", unit=MetricUnit.Count, value=report.count(Outcome.DELETED))
    metrics.add_metric(name="BytesReclaimed", unit=MetricUnit.Bytes, value=report.bytes_of(Outcome.DELETED))
    failures = len(report.failed_images) + int(report.failure is not None)
    metrics.add_metric(name="SweepFailures", unit=MetricUnit.Count, value=failures)
    if report.notification_failed:
        metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    problem = sqs_envelope_problem(event)
    if problem:
        log_rejected_event(logger, metrics, problem, event)
        return {"batchItemFailures": []}
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def sqs_envelope_problem(event: Any) -> str | None:
    """Why this is not an SQS batch BatchProcessor can take apart, or None. SQS never sends one; a test does, and it
    must be one line, not an exception that Lambda retries. A record's body is checked later, message by message."""
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list) or not event["Records"]:
        return "not an SQS event (no Records, or none in the list)"
    for index, record in enumerate(event["Records"]):
        if not isinstance(record, dict) or record.get("eventSource") != "aws:sqs":
            return f"Records[{index}] is not an SQS record"
        for key in ("messageId", "body"):
            if not isinstance(record.get(key), str):
                return f"Records[{index}].{key} is missing or not a string"
    return None
