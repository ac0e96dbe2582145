"""What every handler does at its edge the same way: learn where it runs, turn away an event it cannot handle, and
answer in camelCase as AWS's APIs do.

Under SAM local (`sam local invoke`, AWS_SAM_LOCAL=true) two things differ, and are handled here once for every
function. The context's ARN carries SAM's placeholder account and us-east-1, so the function takes its account from
its credentials (STS GetCallerIdentity) and its region from AWS_REGION, and says so in one log line. And a template
variable set from one of the stack's own resources (`!Ref AlertsTopic`) arrives unresolved, as the resource's logical
id: importing this module then fails the cold start with one line naming the --env-vars file to pass.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance import SERVICE_NAME
from ecr_governance.casing import camel_keys
from ecr_governance.errors import SettingsError
from ecr_governance.location import Location
from ecr_governance.text import well_formed

EVENT_ID_MAX_CHARACTERS = 128
# The variables template.yaml sets from the stack's own resources (!Ref / !GetAtt); a contract test holds the two.
RESOURCE_VARIABLES = frozenset(
    {
        "GOVERNANCE_ROLE_ARN",
        "REMEDIATION_TOPIC_ARN",
        "ALERTS_TOPIC_ARN",
        "IDEMPOTENCY_TABLE_NAME",
        "ALERT_LEDGER_TABLE",
        "SWEEP_TOPIC_ARN",
        "SWEEP_QUEUE_URL",
        "SWEEP_RUNS_TABLE",
        "WORK_QUEUE_URL",
        "RECONCILE_RUNS_TABLE",
    }
)
# What SAM local passes for a reference it cannot resolve: the logical id (`AlertsTopic`, `SomeRole.Arn`).
UNRESOLVED_REFERENCE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z]+)?")
# The --env-vars file `make sam-local` writes for the seeded emulator.
SAM_LOCAL_ENV_VARS = ".local/sam-local/env.json"

logger = Logger(service=SERVICE_NAME, child=True)


def under_sam_local(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("AWS_SAM_LOCAL") == "true"


def refuse_unresolved_references(environ: Mapping[str, str] = os.environ) -> None:
    """SettingsError naming every resource variable that holds a logical id instead of a value."""
    unresolved = [
        f"{name}={environ[name]!r}"
        for name in sorted(RESOURCE_VARIABLES)
        if UNRESOLVED_REFERENCE.fullmatch(environ.get(name, ""))
    ]
    if unresolved:
        raise SettingsError(
            f"{', '.join(unresolved)}: SAM local passes a reference to the stack's own resources unresolved; "
            f"pass their values with --env-vars {SAM_LOCAL_ENV_VARS} (`make sam-local` writes it)"
        )


if under_sam_local():
    refuse_unresolved_references()


def own_account_and_region(context: LambdaContext) -> tuple[str, str]:
    """The function's own account and region, from its ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME); under
    SAM local, from its credentials and AWS_REGION."""
    if under_sam_local():
        return _sam_local_account_and_region()
    parts = str(getattr(context, "invoked_function_arn", "")).split(":")
    return (parts[4], parts[3]) if len(parts) > 4 else ("", "")


def own_location(context: LambdaContext) -> Location:
    """The function's own partition, account and region, from its ARN; under SAM local, from its credentials and
    AWS_REGION."""
    if under_sam_local():
        account, region = _sam_local_account_and_region()
        return Location(_partition_of(region), account, region)
    return Location.of_arn(str(getattr(context, "invoked_function_arn", "")))


def _partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


@functools.cache
def _sam_local_account_and_region() -> tuple[str, str]:
    from ecr_governance.aws.clients import make_client
    from ecr_governance.aws.sts import CallerIdentity

    account, region = CallerIdentity(make_client("sts")).account(), os.environ.get("AWS_REGION", "")
    logger.info(
        "under SAM local: account from the credentials, region from AWS_REGION (not SAM's placeholder ARN)",
        extra={"account": account, "region": region},
    )
    return account, region


def camel_case_response[**P](handler: Callable[P, Any]) -> Callable[P, Any]:
    """The handler's response with camelCase keys, as AWS's APIs (and SQS's batchItemFailures) spell them."""

    @functools.wraps(handler)
    def answer(*args: P.args, **kwargs: P.kwargs) -> Any:
        return camel_keys(handler(*args, **kwargs))

    return answer


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
