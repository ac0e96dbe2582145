"""SweepPlannerFunction: the schedule -> one SQS message per repository to sweep (exempt repositories left alone).

The composition root: settings are parsed and clients built once per execution environment. Without a queue (a local
invoke leaves SWEEP_QUEUE_URL empty) it reports the messages it would send; without a runs table it records nothing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.clients import client_maker
from ecr_governance.aws.dynamodb import DynamoRunLedger
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.inspector import InspectorUsage
from ecr_governance.aws.sqs import SqsQueue
from ecr_governance.errors import InvalidEvent
from ecr_governance.sweep.ledger import RunStarter
from ecr_governance.sweep.messages import parse_sweep_trigger
from ecr_governance.sweep.planner import OrganizationScope, SweepPlanner
from ecr_governance.sweep.ports import MessageQueue, RegistryCoverage, RepositoryDirectory
from ecr_governance.sweep.settings import SweepSettings

from handlers.edge import log_rejected_event
from handlers.reach import DIRECTORY_IAM_ACTIONS, REACH_IAM_ACTIONS, member_sessions, organization_directory

# What this function needs from IAM: the union over the adapter methods serving its ports (template.yaml grants
# exactly these; a contract test compares them).
IAM_ACTIONS = (
    actions_for(RepositoryDirectory, EcrRegistry)
    | actions_for(MessageQueue, SqsQueue)
    | actions_for(RunStarter, DynamoRunLedger)
    | actions_for(RegistryCoverage, InspectorUsage)
)
# An organization hub's planner lists the organization's accounts and checks it can reach each (one AssumeRole).
CONDITIONAL_IAM_ACTIONS = {"MEMBER_ROLE_NAME": REACH_IAM_ACTIONS | DIRECTORY_IAM_ACTIONS}

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)

settings = SweepSettings.from_environ()
organization = settings.organization
make_client = client_maker()  # one session for every client
sessions, directory = member_sessions(organization), organization_directory(organization)
planner = SweepPlanner(
    EcrRegistry(make_client("ecr")),
    settings.exemptions,
    queue=SqsQueue(make_client("sqs"), settings.queue_url) if settings.queue_url else None,
    runs=DynamoRunLedger(make_client("dynamodb"), settings.runs_table) if settings.runs_table else None,
    in_use=InspectorUsage(make_client("inspector2")),
    organization=(
        OrganizationScope(
            directory,
            sessions,
            organization.regions_or(os.environ.get("AWS_REGION", "")),
            organization.organizational_units,
        )
        if sessions and directory
        else None
    ),
)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        trigger = parse_sweep_trigger(event)
    except InvalidEvent as error:
        log_rejected_event(logger, metrics, str(error), event)
        return {"status": "rejected", "reason": str(error)}
    logger.append_keys(run_id=trigger.run_id)
    launch = planner.launch(trigger.run_id, settings.rules, datetime.now(UTC), settings.run_deadline)
    selection = launch.selection
    metrics.add_metric(name="RepositoriesQueued", unit=MetricUnit.Count, value=launch.queued_count)
    metrics.add_metric(name="RepositoriesExempt", unit=MetricUnit.Count, value=len(selection.exempt))
    failures = len(launch.unsent) + len(selection.unreadable)
    metrics.add_metric(name="SweepFailures", unit=MetricUnit.Count, value=failures)
    logger.info(
        "sweep run planned",
        extra={
            "mode": str(settings.rules.mode),
            "repositories": len(selection.repositories),
            "queued": launch.queued_count,
            "exempt": [name for name, _ in selection.exempt],
            "unreadable": [name for name, _ in selection.unreadable],
            "unsent": list(launch.unsent),
            "in_use_data": launch.in_use_available,
        },
    )
    return launch.as_dict()
