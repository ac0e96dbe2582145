"""InspectorFindingsFunction: `Inspector2 Finding` events (continuous scanning), collected by an SQS queue with a
batching window -> one alert per vulnerability per batch, listing the images it was found in (or resolved from).

Powertools' BatchProcessor reports the messages of an advisory that could not be published (ReportBatchItemFailures):
SQS delivers only those again, then moves them to the dead-letter queue (alarmed; `ecr-governance findings redrive`).
A message that is not an Inspector finding event is rejected in one line and counted, never retried.

An organization hub (Scope=organization) is Amazon Inspector's delegated administrator: its members' finding events
reach it without forwarding, and each carries its finding whole, so nothing is read in the member. A member's image
is alerted when the organization's membership admits its account and region; any other is rejected in one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.alert_ledger import DynamoAlertLedger
from ecr_governance.aws.clients import client_maker
from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.ssm import SsmSuppressions
from ecr_governance.errors import InvalidEvent
from ecr_governance.findings.finding_alerts import BatchOutcome, FindingEventsAlerter
from ecr_governance.findings.finding_events import FindingEvent, parse_finding_event
from ecr_governance.findings.ledger import AlertLedger
from ecr_governance.findings.ports import SuppressionsSource
from ecr_governance.findings.provenance import admitted_registry, finding_event_registry
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.location import Location
from ecr_governance.notice import NoticePublisher
from ecr_governance.organization.membership import Membership

from handlers.edge import log_rejected_event, own_location, sqs_batch_problem
from handlers.findings_wiring import ALERT_METRIC_BY_SEVERITY, guarded_publisher, rules_reader
from handlers.reach import DIRECTORY_IAM_ACTIONS, cached_membership

# What Lambda's SQS event source mapping does with the function's role to deliver the queue's messages.
SQS_EVENT_SOURCE_ACTIONS = frozenset({"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"})
IAM_ACTIONS = (
    actions_for(NoticePublisher, SnsPublisher) | actions_for(AlertLedger, DynamoAlertLedger) | SQS_EVENT_SOURCE_ACTIONS
)
CONDITIONAL_IAM_ACTIONS = {
    "SUPPRESSIONS_PARAMETER_NAME": actions_for(SuppressionsSource, SsmSuppressions),
    # An organization hub: the account list, to admit its members' images (MEMBER_ROLE_NAME is set only then).
    "MEMBER_ROLE_NAME": DIRECTORY_IAM_ACTIONS,
}
METRICS = {
    "advisories_published": "AdvisoriesPublished",
    "resolved_published": "ResolvedAdvisoriesPublished",
    "images_alerted": "AdvisoryImagesAlerted",
    "previously_alerted": "FindingsPreviouslyAlerted",
    "suppression_problems": "SuppressionProblems",
    "ledger_failures": "AlertLedgerFailures",
}

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)

settings = FindingsSettings.from_environ()
make_client = client_maker()
alerter = FindingEventsAlerter(rules_reader(settings, make_client), guarded_publisher(settings, make_client))
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# The organization's members, read every 10 minutes (None in a single-account stack: its own images only).
membership: Callable[[], Membership] | None = (
    cached_membership(settings.organization).current if settings.organization.organization_wide else None
)


class AdvisoryNotAlerted(Exception):
    """The message's advisory could not be published: BatchProcessor reports the message as failed."""


def _parsed(records: list[dict[str, Any]], own: Location) -> list[tuple[str, FindingEvent]]:
    events = []
    for record in records:
        try:
            body = json.loads(record["body"])
            where = admitted_registry(finding_event_registry(body), own, membership)
            events.append((record["messageId"], parse_finding_event(body, where)))
        except (InvalidEvent, ValueError, RecursionError) as error:  # a body that is no (or too deep) JSON
            log_rejected_event(logger, metrics, str(error)[:500], {"id": record["messageId"]})
    return events


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    problem = sqs_batch_problem(event)
    if problem:
        log_rejected_event(logger, metrics, problem, event)
        return {"batchItemFailures": []}
    outcome = alerter.alert_batch(_parsed(event["Records"], own_location(context)))
    _emit_metrics(outcome)
    logger.info("batch handled", extra=outcome.as_dict())

    def settle(record: SQSRecord) -> None:
        if record.message_id in outcome.failed_messages:
            raise AdvisoryNotAlerted(record.message_id)

    return process_partial_response(event=event, record_handler=settle, processor=processor, context=context)


def _emit_metrics(outcome: BatchOutcome) -> None:
    for field, name in METRICS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=getattr(outcome, field))
    metrics.add_metric(name="AdvisoryMessagesFailed", unit=MetricUnit.Count, value=len(outcome.failed_messages))
    for severity, count in outcome.published_by_severity.items():
        metrics.add_metric(name=ALERT_METRIC_BY_SEVERITY[severity], unit=MetricUnit.Count, value=count)
    for reason, count in outcome.skipped.items():
        logger.debug("finding events not alerted", extra={"reason": reason, "count": count})
