"""The sweep worker: one repository message -> that repository swept under this function's own settings.

It checks the repository's exemption as it is now, reads Amazon Inspector's in-use data, reads every image (archived
ones included) and the manifests the graph needs, plans (plan.py, pure) and - in delete mode - deletes with the
Deleter, each call right after a complete re-read. When its invocation runs short of time it stops at a call
boundary and queues the repository's next part, which starts again from the registry as it is. Each message's
result is recorded once; the run's summary goes out when the last result is in (summary.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import (
    AwsError,
    Failure,
    FatalAwsError,
    GovernanceError,
    MemberUnreachable,
    RepositoryNotFound,
)
from ecr_governance.exemptions import ExemptAspect, ExemptionSettings, exemption_by_name, exemption_by_tags
from ecr_governance.images import ImageDetailError
from ecr_governance.organization.membership import Target
from ecr_governance.pull_through_cache import is_pull_through_cache
from ecr_governance.registry_api import RegistryApi
from ecr_governance.repositories import Repository
from ecr_governance.sweep.deleter import Deleter, RunContext, outcome_of_kept
from ecr_governance.sweep.ledger import RunLedger, UnitRef
from ecr_governance.sweep.messages import DeadlineMessage, RepositoryMessage, SweepMessage, TargetMessage, body
from ecr_governance.sweep.plan import MAX_BATCH, NOT_AVAILABLE, InUse, PlannedDeletion, SweepPlan, plan_sweep
from ecr_governance.sweep.ports import (
    InUseSource,
    MessageQueue,
    Reach,
    RepositoryDirectory,
    SweepAdapters,
    SweepRegistry,
)
from ecr_governance.sweep.reading import RepositoryReader
from ecr_governance.sweep.report import Outcome, SweepReport
from ecr_governance.sweep.settings import SweepRules
from ecr_governance.sweep.summary import DeadlineResult, RunSummaries
from ecr_governance.sweep.targets import TargetExpansion, expand_target

logger = Logger(service=SERVICE_NAME, child=True)

# Below this many seconds left, a worker hands the rest of its repository on instead of making another delete call
# (a call is a re-read of the repository and one delete; adaptive retries can stretch them on a throttled day).
CONTINUE_BELOW_SECONDS = 120
# Below this many seconds left, a worker does not start on a repository (reading 200,000 images takes minutes):
# it puts the message back on the queue for another invocation.
START_BELOW_SECONDS = 300
# How long the answer to "does Inspector cover this registry?" is trusted.
COVERAGE_TTL = timedelta(minutes=10)

SecondsLeft = Callable[[], float]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class MessageResult:
    """What the worker made of one message: a repository swept, put back, or a deadline handled."""

    report: SweepReport | None = None
    requeued: bool = False
    deadline: DeadlineResult | None = None
    expansion: TargetExpansion | None = None

    def as_dict(self) -> dict[str, object]:
        if self.deadline is not None:
            return {"status": "deadline", **self.deadline.as_dict()}
        if self.expansion is not None:
            return {"status": "expanded", **self.expansion.as_dict()}
        if self.report is None:
            return {"status": "requeued"}
        return {"status": "swept", **self.report.log_fields()}


class SweepWorker:
    def __init__(  # noqa: PLR0913 - the composition root's wiring: four roles, then each optional port by keyword
        self,
        registry: SweepRegistry,
        directory: RepositoryDirectory,
        rules: SweepRules,
        exemptions: ExemptionSettings,
        *,
        in_use: InUseSource | None = None,
        reach: Reach | None = None,
        queue: MessageQueue | None = None,
        ledger: RunLedger | None = None,
        summaries: RunSummaries | None = None,
        batch_size: int = MAX_BATCH,
        clock: Callable[[], datetime] = _utc_now,
        registry_api: RegistryApi = RegistryApi.AWS,
    ):
        """`registry`, `directory`, `in_use`: the account the worker runs in; `reach`: a member account-region's
        adapters (an organization hub: the messages name the member)."""
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH}")
        self._own = SweepAdapters(registry, directory, in_use)
        self._reach = reach
        self._rules = rules
        self._exemptions = exemptions
        self._queue = queue
        self._ledger = ledger
        self._summaries = summaries
        self._clock = clock
        self._batch_size = batch_size
        self._registry_api = registry_api
        self._coverage: dict[tuple[str, str], tuple[bool, datetime]] = {}  # (account, region) -> (covered, asked at)
        self._cache_prefixes: dict[tuple[str, str], tuple[tuple[str, ...], datetime]] = {}

    # ---- messages ---------------------------------------------------------------------------------------------
    def handle(self, message: SweepMessage, seconds_left: SecondsLeft | None = None) -> MessageResult:
        """Act on one SQS message. Raises AwsError(transient) when a retry later may succeed."""
        if isinstance(message, DeadlineMessage):
            if self._summaries is None:  # a local invoke: no runs table, nothing to summarize
                logger.info("deadline message without a runs table: dropped", extra={"run_id": message.run_id})
                return MessageResult(deadline=DeadlineResult(message.run_id, "no runs table"))
            return MessageResult(deadline=self._summaries.on_deadline(message.run_id))
        if isinstance(message, TargetMessage):
            return MessageResult(expansion=self._expand(message))
        if self._too_late(seconds_left, START_BELOW_SECONDS) and self._requeue(message):
            return MessageResult(requeued=True)
        report = self.sweep_repository(message.repository, message=message, seconds_left=seconds_left)
        if report.failure is not None and report.failure.transient:
            raise AwsError(report.failure.message, code=report.failure.code, transient=True)
        self._record(report, message)
        return MessageResult(report=report)

    def sweep_repository(
        self,
        repository: str,
        *,
        message: RepositoryMessage | None = None,
        now: datetime | None = None,
        seconds_left: SecondsLeft | None = None,
    ) -> SweepReport:
        """Read, plan and sweep one repository. A repository that cannot be read is its own `failure`, untouched."""
        report = SweepReport(repository, self._rules.mode, part=message.part if message else 0)
        if message is not None and message.account:
            report.account, report.region = message.account, message.region
        now = now or self._clock()
        try:
            adapters = self._adapters(message)
            record = adapters.directory.get_repository(repository)
            report.exempt_now = self._exemption_now(adapters, record)
            if report.exempt_now:
                return _logged(report, message)
            in_use = self._in_use_data(adapters, record, now, report)
            reader = RepositoryReader(adapters.registry, repository, self._rules, in_use)
            view = reader.read(now)
            report.plan = plan_sweep(repository, view.images, self._rules, now, unread=view.unread, in_use=in_use)
            self._act(report, adapters, reader, in_use, message, seconds_left)
        except RepositoryNotFound:
            report.gone = True
        except FatalAwsError:
            raise
        except GovernanceError as error:
            report.failure = Failure.of(error)
        except ImageDetailError as error:  # an image detail ECR sent that this code cannot read
            report.failure = Failure(code="UnreadableImageDetail", message=str(error))
        return _logged(report, message)

    # ---- the parts --------------------------------------------------------------------------------------------
    def _adapters(self, message: RepositoryMessage | TargetMessage | None) -> SweepAdapters:
        """The member's adapters for an organization's message (raises MemberUnreachable), else the own account's."""
        if message is None or not message.account:
            return self._own
        if self._reach is None:
            raise MemberUnreachable(
                f"a message for account {message.account}, and this worker governs its own account only",
                code="NotAnOrganizationHub",
            )
        return self._reach(Target(message.account, message.region))

    def _exemption_now(self, adapters: SweepAdapters, repository: Repository) -> str:
        """Why the repository is exempt from lifecycle now (its tags may have changed since the plan), or ''."""
        exemption = exemption_by_name(repository.name, self._exemptions)
        if not exemption.covers(ExemptAspect.LIFECYCLE):
            exemption |= exemption_by_tags(adapters.directory.list_tags(repository), self._exemptions)
        return str(exemption) if exemption.covers(ExemptAspect.LIFECYCLE) else ""

    def _in_use_data(
        self, adapters: SweepAdapters, repository: Repository, now: datetime, report: SweepReport
    ) -> InUse:
        """Inspector's in-use data for the repository, or NOT_AVAILABLE when Inspector does not cover the registry
        (the run's summary says so). A failed read is the repository's failure: nothing is deleted unseen."""
        in_use = adapters.in_use
        cache = self._is_cache(adapters, repository, now)
        if in_use is None or not self._registry_covered(in_use, repository, now):
            report.in_use_available = False
            return replace(NOT_AVAILABLE, cache_repository=cache)
        report.in_use_available = True
        return replace(in_use.images_in_use(repository.name, now - self._rules.min_idle), cache_repository=cache)

    def _is_cache(self, adapters: SweepAdapters, repository: Repository, now: datetime) -> bool:
        """Whether ECR made this repository for a pull-through cache rule (the registry's rules, asked every 10
        minutes; an emulator serving ECR's core API only has none)."""
        if self._registry_api is RegistryApi.CORE:
            return False
        key = (repository.account, repository.region)
        cached = self._cache_prefixes.get(key)
        if cached is None or now - cached[1] > COVERAGE_TTL:
            cached = (adapters.registry.pull_through_cache_prefixes(), now)
            self._cache_prefixes[key] = cached
        return is_pull_through_cache(repository.name, cached[0])

    def _registry_covered(self, in_use: InUseSource, repository: Repository, now: datetime) -> bool:
        key = (repository.account, repository.region)
        cached = self._coverage.get(key)
        if cached is None or now - cached[1] > COVERAGE_TTL:
            cached = (in_use.covers_registry(repository.account), now)
            self._coverage[key] = cached
        return cached[0]

    def _expand(self, message: TargetMessage) -> TargetExpansion:
        """An organization's account-region: its repositories queued, one message each (targets.py)."""
        assert self._queue is not None and self._ledger is not None, "an expansion needs the queue and runs table"
        expansion = expand_target(message, self._adapters, self._exemptions, self._queue, self._ledger)
        if self._summaries is not None:
            self._summaries.publish_if_complete(message.run_id)
        return expansion

    def _act(  # noqa: PLR0917 - one repository's act: its report, adapters, reader, in-use data and message
        self,
        report: SweepReport,
        adapters: SweepAdapters,
        reader: RepositoryReader,
        in_use: InUse,
        message: RepositoryMessage | None,
        seconds_left: SecondsLeft | None,
    ) -> None:
        plan = report.plan
        assert plan is not None
        if not self._rules.deletes:
            for deletion in plan.candidates:
                report.record(deletion.digest, Outcome.WOULD_DELETE, deletion.size_bytes, deletion.storage_class)
            return
        can_hand_on = self._queue is not None and message is not None
        context = (
            RunContext(self._ledger, message.run_id, message.unit_id, message.account, message.region)
            if message
            else RunContext()
        )
        stop: Callable[[], bool] = (
            (lambda: self._too_late(seconds_left, CONTINUE_BELOW_SECONDS)) if can_hand_on else (lambda: False)
        )
        deleter = Deleter(adapters.registry, self._clock, self._batch_size)
        last = deleter.delete(report, reader, self._rules, in_use, context, stop)
        left = [d for d in plan.candidates if d.digest not in report.outcomes]
        if left and can_hand_on and stop() and message is not None:
            self._hand_on(report, message, left)
            return
        _settle_the_rest(report, last, left)

    def _hand_on(self, report: SweepReport, message: RepositoryMessage, left: list[PlannedDeletion]) -> None:
        """Queue the repository's next part (it re-reads and re-plans); record what is left as continued."""
        assert self._queue is not None
        following = message.next_part()
        unit = UnitRef(following.unit_id, following.repository, following.account)
        if self._ledger is not None:  # expected first: a part that finishes before this call must not end the run
            self._ledger.add_units(message.run_id, [unit])
        result = self._queue.send_messages([body(following)])
        if result.unsent:
            if self._ledger is not None:
                self._ledger.remove_units(message.run_id, [unit])
            outcome, detail = Outcome.DEFERRED, "could not be handed on: " + "; ".join(result.errors)
        else:
            outcome, detail = Outcome.CONTINUED, f"left to part {following.part}"
            report.continued = True
        for deletion in left:
            report.record(deletion.digest, outcome, deletion.size_bytes, deletion.storage_class, detail)
        logger.info("sweep continues in a new message", extra={"repository": report.repository, "part": following.part})

    def _requeue(self, message: RepositoryMessage) -> bool:
        assert self._queue is not None
        result = self._queue.send_messages([body(message)])
        if result.unsent:
            logger.warning("could not put the message back: sweeping now", extra={"errors": list(result.errors)})
            return False
        logger.info("too little time left to start: message put back", extra={"repository": message.repository})
        return True

    def _too_late(self, seconds_left: SecondsLeft | None, threshold: float) -> bool:
        return self._queue is not None and seconds_left is not None and seconds_left() < threshold

    def _record(self, report: SweepReport, message: RepositoryMessage) -> None:
        if self._ledger is None:
            return
        unit = UnitRef(message.unit_id, message.repository, message.account)
        if not self._ledger.record_unit(message.run_id, unit, report.counts()):
            logger.info("message seen before: its result was already recorded", extra={"unit": message.unit_id})
        if self._summaries is not None:  # also on a redelivery: the claim it made may not have been published
            self._summaries.publish_if_complete(message.run_id)


def _settle_the_rest(report: SweepReport, last: SweepPlan, left: list[PlannedDeletion]) -> None:
    failed = {o.digest for o in report.outcomes.values() if o.outcome in (Outcome.FAILED, Outcome.KEPT_BY_ECR)}
    for deletion in left:
        outcome, detail = outcome_of_kept(last, deletion.digest, failed)
        report.record(deletion.digest, outcome, deletion.size_bytes, deletion.storage_class, detail)


def _logged(report: SweepReport, message: RepositoryMessage | None) -> SweepReport:
    fields = {"run_id": message.run_id, **report.log_fields()} if message else report.log_fields()
    if report.has_failures:
        logger.error("sweep report", extra=fields)
    else:
        logger.info("sweep report", extra=fields)
    return report
