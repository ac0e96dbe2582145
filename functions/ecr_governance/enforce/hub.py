"""Enforcement in an organization hub (Scope=organization): EnforceRepositoryFunction routes, the member worker acts.

Every event is checked before anything is sent: its account must be an active member the hub governs and its region
one it serves (else it is refused, as an event from another account is in a single-account stack), it must parse as
enforcement's events do (with the member as its provenance), and an event caused by a member's governance role - the
hub's own write - or by a call that failed is skipped: no loop. What is left goes to the FIFO work queue, in the
member account-region's message group. The daily schedule fans out one reconcile per reachable member
account-region; a member whose role cannot be assumed is reported `not-onboarded` once per run, with the reason.
With the runs table, the fan-out starts a run (enforce/run_summary.py) whose one summary goes out when every queued
account-region reported, or - the hub's summary check, every 15 minutes - at the run's deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.events import Provenance, TriggerKind, parse_enforcement_trigger
from ecr_governance.enforce.invocation import skip_for
from ecr_governance.enforce.run_summary import ReconcileRuns
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import AwsError, InvalidEvent
from ecr_governance.organization.membership import CachedMembership, MemberAccess, Target, onboarded
from ecr_governance.organization.settings import OrganizationSettings
from ecr_governance.organization.work import WorkMessage, WorkQueue, group_of, work_message
from ecr_governance.schedule import SCHEDULE_DETAIL_TYPE, SCHEDULE_SOURCE

logger = Logger(service=SERVICE_NAME, child=True)

# The hub's summary check (template.yaml's ReconcileSummaryCheckRule sends it, as this constant event).
SUMMARY_CHECK_DETAIL_TYPE = "Reconcile Summary Check"
SUMMARY_CHECK_SOURCE = "ecr-governance"


def member_role_arn(partition: str, account_id: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


@dataclass(frozen=True)
class HubOutcome:
    status: str  # routed | fanned out | skipped | rejected | summary check
    reason: str = ""
    targets: int = 0
    not_onboarded: tuple[str, ...] = ()
    unsent: int = 0
    run_id: str = ""  # the organization reconcile run a fan-out started (empty: no runs table)
    summaries: tuple[str, ...] = field(default=())  # the runs whose summary a check published

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"status": self.status}
        if self.reason:
            result["reason"] = self.reason
        if self.status == "fanned out":
            result.update(targets=self.targets, notOnboarded=list(self.not_onboarded), unsent=self.unsent)
            if self.run_id:
                result["runId"] = self.run_id
        if self.status == "summary check":
            result["published"] = list(self.summaries)
        return result

    def metrics(self) -> dict[str, int]:
        counts = {"EventsRejected": int(self.status == "rejected"), "WorkUnsent": self.unsent}
        if self.status == "fanned out":
            counts.update(TargetsQueued=self.targets - self.unsent, AccountsNotOnboarded=len(self.not_onboarded))
        if self.reason == "own remediation":
            counts["SelfEventsSkipped"] = 1
        if self.status == "summary check":
            counts["ReconcileSummariesPublished"] = len(self.summaries)
        return counts


@dataclass(frozen=True)
class EnforcementHub:
    membership: CachedMembership
    access: MemberAccess
    queue: WorkQueue
    settings: OrganizationSettings
    partition: str = "aws"
    runs: ReconcileRuns | None = None  # None: no run-level summary (no runs table)

    def route(self, event: Any, hub: Provenance) -> HubOutcome:
        """Route one event the hub function received (`hub`: where it runs; its schedule comes from there)."""
        regions = self.settings.regions_or(hub.region)
        if _is_own_schedule(event, hub):
            return self._fan_out(str(event.get("id") or ""), regions)
        if _is_own(event, hub, SUMMARY_CHECK_DETAIL_TYPE, SUMMARY_CHECK_SOURCE):
            return HubOutcome("summary check", summaries=tuple(self.runs.check_deadlines()) if self.runs else ())
        try:
            target = self._admitted(event)
            trigger = parse_enforcement_trigger(event, Provenance(target.account_id, target.region))
        except InvalidEvent as error:
            return HubOutcome("rejected", str(error))
        if trigger.kind is TriggerKind.CONTINUATION:
            return HubOutcome("rejected", "a member's reconcile continues through the work queue, not the hub")
        if trigger.run_id:
            return HubOutcome("rejected", "a reconcile run is named only by the hub's own fan-out")
        role = member_role_arn(self.partition, target.account_id, self.settings.member_role_name)
        skip = skip_for(trigger, role)
        if skip is not None:
            logger.info(skip.log_message, extra={**skip.log_fields, "account": target.account_id})
            return HubOutcome("skipped", skip.reason)
        if self.queue.send_work([self._message(event, target, regions)]):
            # Raised so Lambda retries the event (then its failures queue): an event is never dropped silently.
            raise AwsError(f"the work queue refused the event of {target}", code="WorkUnsent", transient=True)
        return HubOutcome("routed", str(target))

    def _admitted(self, event: Any) -> Target:
        if not isinstance(event, Mapping):
            raise InvalidEvent("event is missing or not an object")
        account, region = event.get("account"), event.get("region")
        if not isinstance(account, str) or not isinstance(region, str):
            raise InvalidEvent("account or region is missing or not a string")
        refusal = self.membership.current().refusal(account, region)
        if refusal is not None:
            raise InvalidEvent(refusal)
        return Target(account, region)

    def _fan_out(self, schedule_id: str, regions: tuple[str, ...]) -> HubOutcome:
        membership = self.membership.current()
        reachable, missing = onboarded(membership, self.access)
        for account in missing:
            logger.error(
                "account not onboarded: not governed this run",
                extra={
                    "account": account.account_id,
                    "account_name": membership.name_of(account.account_id),
                    "reason": account.reason,
                },
            )
        targets = [Target(account, region) for account in reachable for region in regions]
        run_id = ""
        if self.runs is not None and schedule_id:
            names = {a.account_id: a.name for a in membership.accounts.values() if a.name}
            run_id = self.runs.start(schedule_id, targets, tuple(map(str, missing)), names)
        messages = [self._message(_schedule_for(target, schedule_id, run_id), target, regions) for target in targets]
        unsent = self.queue.send_work(messages) if messages else ()
        if unsent:
            logger.error(
                "account-regions not queued: governed next run", extra={"targets": [str(targets[i]) for i in unsent]}
            )
        if run_id and self.runs is not None:
            self.runs.unsent(run_id, [targets[i] for i in unsent])
        return HubOutcome(
            "fanned out",
            targets=len(targets),
            not_onboarded=tuple(map(str, missing)),
            unsent=len(unsent),
            run_id=run_id,
        )

    def _message(self, event: Mapping[str, Any], target: Target, regions: tuple[str, ...]) -> WorkMessage:
        return work_message(event, group_of(target, regions, self.settings.account_concurrency))


def _is_own_schedule(event: Any, hub: Provenance) -> bool:
    return _is_own(event, hub, SCHEDULE_DETAIL_TYPE, SCHEDULE_SOURCE)


def _is_own(event: Any, hub: Provenance, detail_type: str, source: str) -> bool:
    return (
        isinstance(event, Mapping)
        and event.get("detail-type") == detail_type
        and event.get("source") == source
        and event.get("account") == hub.account
        and event.get("region") == hub.region
    )


def _schedule_for(target: Target, schedule_id: str, run_id: str = "") -> dict[str, Any]:
    """The member's share of the daily reconcile, as the member worker parses it: a schedule in its own account
    (`detail.run`: the run it counts in)."""
    return {
        "version": "0",
        "id": f"{schedule_id}:{target.account_id}:{target.region}",
        "detail-type": SCHEDULE_DETAIL_TYPE,
        "source": SCHEDULE_SOURCE,
        "account": target.account_id,
        "region": target.region,
        "detail": {"run": run_id} if run_id else {},
    }


def for_target(settings: EnforceSettings, partition: str, target: Target, role_name: str) -> EnforceSettings:
    """Enforcement settings for a member: its governance role is the actor whose events are the hub's own."""
    return replace(settings, governance_role_arn=member_role_arn(partition, target.account_id, role_name))


@dataclass(frozen=True)
class QueuedContinuation:
    """A member's reconcile that ran out of time continues through the work queue, in its account's message group
    (the InvocationQueue port: the single-account function invokes itself instead)."""

    queue: WorkQueue
    group: str
    before_send: Callable[[Mapping[str, Any]], None] | None = None  # an organization run: expect the next piece

    def invoke_async(self, function_name: str, payload: dict[str, Any]) -> None:
        if self.before_send is not None:
            self.before_send(payload)
        if self.queue.send_work([work_message(payload, self.group)]):
            raise AwsError("the work queue refused a reconcile's continuation", code="WorkUnsent", transient=True)
