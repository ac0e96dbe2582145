"""What every handler does at its edge the same way: learn where it runs, and turn away an event it cannot handle."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance.location import Location
from ecr_governance.text import well_formed

EVENT_ID_MAX_CHARACTERS = 128


def own_account_and_region(context: LambdaContext) -> tuple[str, str]:
    """The function's own account and region, from its ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)."""
    parts = str(getattr(context, "invoked_function_arn", "")).split(":")
    return (parts[4], parts[3]) if len(parts) > 4 else ("", "")


def own_location(context: LambdaContext) -> Location:
    """The function's own partition, account and region, from its ARN."""
    return Location.of_arn(str(getattr(context, "invoked_function_arn", "")))


def log_rejected_event(logger: Logger, metrics: Metrics, reason: str, event: Any) -> None:
    """One ERROR line and a metric. The caller returns instead of raising: a retry could never succeed."""
    event_id = event.get("id", "") if isinstance(event, dict) else ""
    # Well-formed: a lone surrogate in a forged id would make the log line fail to encode, and the line be lost.
    event_id = well_formed(event_id[:EVENT_ID_MAX_CHARACTERS]) if isinstance(event_id, str) else ""
    logger.error("event rejected", extra={"reason": reason, "event_id": event_id})
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)


def sqs_batch_problem(event: Any) -> str | None:
    """Why this is not an SQS batch Powertools' BatchProcessor can take apart, or None. SQS never sends one; a test
    does, and it must be one line, not an exception Lambda retries. Each record's body is parsed later, on its own."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return "not an SQS event (no Records, or none in the list)"
    for index, record in enumerate(records):
        if not isinstance(record, dict) or record.get("eventSource") != "aws:sqs":
            return f"Records[{index}] is not an SQS record"
        if not all(isinstance(record.get(key), str) for key in ("messageId", "body")):
            return f"Records[{index}] has no messageId or body string"
    return None
