"""EnforceMemberFunction (Scope=organization): the hub's FIFO work queue -> each member account-region enforced.

A message is a member's event or its share of the daily reconcile, routed by EnforceRepositoryFunction. It is
checked again (an active member, a governed region, an event enforcement parses), then enforced in the member's
account through its governance role, exactly as the single-account function does in its own. Message groups keep one
account's work in order; Powertools' FIFO processor stops a batch at its first failure so nothing overtakes it.
A share of the daily reconcile records its counts in the hub's run (enforce/run_summary.py) once; a failed write fails
the message, which is retried, and the share that completes the run publishes the run's summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecr_governance import SERVICE_NAME
from ecr_governance.aws.accounts import MemberSessions
from ecr_governance.aws.clients import client_maker
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import actions_for
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.tagging import TaggingApi
from ecr_governance.enforce.events import EnforcementTrigger, Provenance, parse_enforcement_trigger
from ecr_governance.enforce.hub import QueuedContinuation, for_target
from ecr_governance.enforce.invocation import EnforcementService, Invocation
from ecr_governance.enforce.ports import EnforcementRegistry, ExemptionTagSource
from ecr_governance.enforce.run_summary import UNREACHABLE_COUNTS, ReconcileRuns, unit_counts, unit_of
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import InvalidEvent, MemberUnreachable
from ecr_governance.notice import NoticePublisher
from ecr_governance.organization.membership import CachedMembership, Target
from ecr_governance.organization.work import WorkQueue, group_of
from ecr_governance.runs import UnitRef

from handlers.edge import sqs_batch_problem
from handlers.enforce_wiring import RUNS_IAM_ACTIONS, reconcile_runs
from handlers.reach import (
    DIRECTORY_IAM_ACTIONS,
    REACH_IAM_ACTIONS,
    WORK_QUEUE_IAM_ACTIONS,
    cached_membership,
    member_sessions,
    work_queue,
)

SQS_EVENT_SOURCE_ACTIONS = frozenset({"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"})
# The hub's side: its roles into members, the account list, its work queue. The member side (ECR, tags) is granted
# by each member's governance role (org/member.yaml; a contract test holds it to MEMBER_IAM_ACTIONS).
# Its shares of the daily reconcile are counted in the runs table.
IAM_ACTIONS = (
    REACH_IAM_ACTIONS | DIRECTORY_IAM_ACTIONS | WORK_QUEUE_IAM_ACTIONS | SQS_EVENT_SOURCE_ACTIONS | RUNS_IAM_ACTIONS
)
MEMBER_IAM_ACTIONS = actions_for(EnforcementRegistry, EcrRegistry) | actions_for(ExemptionTagSource, TaggingApi)
NOTIFY_IAM_ACTIONS = actions_for(NoticePublisher, SnsPublisher)
CONDITIONAL_IAM_ACTIONS = {"REMEDIATION_TOPIC_ARN": NOTIFY_IAM_ACTIONS}
TIME_RESERVE_MILLIS = 120_000

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME)

settings = EnforceSettings.from_environ()
organization = settings.organization


@dataclass(frozen=True)
class MemberWorker:
    """The member worker's composition: its reach into members, the account list, the work queue (one a container;
    the organization bench runs several side by side as Lambda runs several containers)."""

    settings: EnforceSettings
    sessions: MemberSessions
    membership: CachedMembership
    queue: WorkQueue
    publisher: NoticePublisher | None
    runs: ReconcileRuns | None = None  # None: no run-level summary (no runs table)

    def work(self, event: Any, invocation_for: Callable[[Target], Invocation]) -> dict[str, Any]:
        """Enforce one work message's event in its member account-region."""
        try:
            target = self._admitted(event)
            trigger = parse_enforcement_trigger(event, Provenance(target.account_id, target.region))
        except InvalidEvent as error:
            logger.error("member work rejected", extra={"reason": str(error)})
            metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
            return {"status": "rejected", "reason": str(error)}
        logger.append_keys(account=target.account_id, region=target.region, event_id=trigger.event_id)
        runs = self.runs if trigger.run_id else None
        try:
            service = self._service_for(target, trigger, runs)
        except MemberUnreachable as error:  # its role went missing since the fan-out: reported, the others go on
            logger.error("account not onboarded: not governed", extra={"reason": str(error)})
            metrics.add_metric(name="AccountsNotOnboarded", unit=MetricUnit.Count, value=1)
            if runs is not None:
                runs.record(trigger.run_id, _unit(target, trigger), UNREACHABLE_COUNTS)
            return {"status": "not-onboarded", "account": target.account_id, "reason": str(error)}
        outcome = service.handle(trigger, invocation_for(target))
        for name, value in outcome.metrics().items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        if runs is not None and outcome.report is not None:
            # Raised when the write fails: the message is retried rather than its count lost.
            last_piece = outcome.report.continuation is None
            runs.record(trigger.run_id, _unit(target, trigger), unit_counts(outcome.report, last_piece))
            if runs.summaries.notification_failed:
                metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)
        return {"account": target.account_id, "region": target.region, **outcome.as_dict()}

    def _admitted(self, event: Any) -> Target:
        if not isinstance(event, dict) or not isinstance(event.get("account"), str):
            raise InvalidEvent("a work message must be an event with its member's account and region")
        target = Target(event["account"], str(event.get("region")))
        refusal = self.membership.current().refusal(target.account_id, target.region)
        if refusal is not None:
            raise InvalidEvent(refusal)
        return target

    def _service_for(
        self, target: Target, trigger: EnforcementTrigger, runs: ReconcileRuns | None
    ) -> EnforcementService:
        """The single-account enforcement, composed for a member account-region (clients kept per target); a share
        of an organization run expects its next piece before the piece's message is sent."""
        settings, organization = self.settings, self.settings.organization
        member_settings = for_target(settings, self.sessions.partition, target, organization.member_role_name)
        registry = EcrRegistry(self.sessions.client("ecr", target.account_id, target.region))
        tags = TaggingApi(self.sessions.client("resourcegroupstaggingapi", target.account_id, target.region))
        membership = self.membership.current()
        group = group_of(target, membership.regions, organization.account_concurrency)
        return EnforcementService(
            Enforcer(registry, member_settings, tags if settings.reads_tags_in_bulk else None),
            member_settings,
            QueuedContinuation(self.queue, group, _piece_expecter(runs, trigger.run_id, target)),
            self.publisher,
            f"{membership.name_of(target.account_id)}, {target.region}",
        )


def _unit(target: Target, trigger: EnforcementTrigger) -> UnitRef:
    return unit_of(target.account_id, target.region, trigger.progress.piece if trigger.progress else 0)


def _piece_expecter(
    runs: ReconcileRuns | None, run_id: str, target: Target
) -> Callable[[Mapping[str, Any]], None] | None:
    if runs is None:
        return None

    def expect(payload: Mapping[str, Any]) -> None:
        runs.expect_piece(run_id, target, int(payload["detail"]["piece"]))

    return expect


make_lazy_client = client_maker(lazy=True)
publisher = (
    SnsPublisher(make_lazy_client("sns"), settings.remediation_topic_arn) if settings.remediation_topic_arn else None
)
# The template creates this function only with Scope=organization; elsewhere (a local invoke) it refuses its work.
sessions = member_sessions(organization)
worker = (
    MemberWorker(
        settings,
        sessions,
        cached_membership(organization),
        work_queue(settings.work_queue_url),
        publisher,
        reconcile_runs(settings, make_lazy_client, publisher),
    )
    if sessions
    else None
)
processor = SqsFifoPartialProcessor()


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> dict[str, Any]:
    if worker is None:
        logger.error("member work rejected: this stack is not an organization hub (GOVERNANCE_SCOPE=account)")
        return {"status": "rejected", "reason": "not an organization hub"}
    try:
        event = json.loads(record.body)
    except ValueError as error:
        logger.error("member work rejected", extra={"reason": str(error), "message_id": record.message_id})
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        return {"status": "rejected", "reason": f"the message body is not JSON: {error}"}

    def invocation_for(target: Target) -> Invocation:
        return Invocation(
            function_arn=lambda_context.invoked_function_arn,
            provenance=Provenance(target.account_id, target.region),
            out_of_time=lambda: lambda_context.get_remaining_time_in_millis() < TIME_RESERVE_MILLIS,
        )

    return worker.work(event, invocation_for)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    problem = sqs_batch_problem(event)
    if problem:
        logger.error("event rejected", extra={"reason": problem})
        return {"batchItemFailures": []}
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
