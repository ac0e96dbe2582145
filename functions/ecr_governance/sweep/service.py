"""The sweep's services: the planner fans a run out (one message per repository), the worker sweeps one repository.

The worker reads every image (archived ones included) and the manifests the graph needs, plans (plan.py, pure), and
deletes the candidates batch by batch: right before each batch it re-reads the batch's images and keeps any that
gained a tag or no longer qualify - and everything they reach. It reads BatchDeleteImage's per-image failures and
retries nothing blindly. When its invocation runs short of time it hands the candidates left on, in continuation
messages of whole groups of images that reach each other, and each message's results are recorded once per run;
the run's summary goes out when the last result is in. Dry-run mode does all of it except BatchDeleteImage.

Everything AWS is behind ports (typing.Protocol); the adapters and the tests' fakes serve them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.model import Repository
from ecr_governance.errors import (
    AwsError,
    Failure,
    FatalAwsError,
    GovernanceError,
    ImageNotFound,
    RepositoryNotFound,
)
from ecr_governance.exemptions import ExemptAspect, ExemptionSettings, exemption_by_name, exemption_by_tags
from ecr_governance.images import ImageDetailError, ImageRecord, Manifest
from ecr_governance.lifecycle.preview import complete_with_manifests
from ecr_governance.notice import NoticePublisher
from ecr_governance.sweep.deletion import IMAGE_NOT_FOUND, REFERENCED_BY_MANIFEST_LIST, BatchDeleteResult
from ecr_governance.sweep.messages import (
    MAX_PART_DIGESTS,
    PART_BUDGET_BYTES,
    ContinuationMessage,
    RepositoryMessage,
    SendResult,
    SweepMessage,
    body,
    continuation_body,
    repository_body,
    units_size,
)
from ecr_governance.sweep.notice import sweep_notice
from ecr_governance.sweep.plan import (
    MAX_BATCH,
    DeletionQueue,
    DeletionUnit,
    PlannedDeletion,
    connected_parts,
    indexes_to_read,
    own_reason,
    plan_sweep,
    referrer_candidates_to_read,
    unique_images,
)
from ecr_governance.sweep.report import (
    Outcome,
    RunStart,
    RunTotals,
    SweepReport,
)
from ecr_governance.sweep.settings import SweepRules

logger = Logger(service=SERVICE_NAME, child=True)

# Below this many seconds left, a worker hands its remaining candidates on instead of deleting another batch
# (a batch is one re-check read and one delete call; adaptive retries can stretch them on a throttled day).
CONTINUE_BELOW_SECONDS = 120
# Below this many seconds left, a worker does not start on a repository (reading 200,000 images takes minutes):
# it puts the message back on the queue for another invocation.
START_BELOW_SECONDS = 300
# Re-reads of a batch whose images keep vanishing before the batch counts as failed (and stays).
RECHECK_ROUNDS = 3

SecondsLeft = Callable[[], float]


# ---- ports ------------------------------------------------------------------------------------------------------
class RepositoryDirectory(Protocol):
    """What the planner needs from ECR to choose repositories (the ECR adapter serves it)."""

    def list_repositories(self) -> Iterator[Repository]: ...

    def get_repository(self, name: str) -> Repository: ...

    def list_tags(self, repository: Repository) -> dict[str, str]: ...


class SweepRegistry(Protocol):
    """What the worker needs from ECR (the ECR adapter serves it; the property tests use an in-memory registry)."""

    def describe_images(self, repository_name: str, include_archived: bool = False) -> Iterable[ImageRecord]: ...

    def get_manifests(self, repository_name: str, digests: Iterable[str]) -> Mapping[str, Manifest]: ...

    def describe_images_by_digest(self, repository_name: str, digests: Sequence[str]) -> list[ImageRecord]:
        """The images as they are now; raises ImageNotFound when any of them is gone (as ECR does)."""
        ...

    def batch_delete_images(self, repository_name: str, digests: Sequence[str]) -> BatchDeleteResult: ...


class MessageQueue(Protocol):
    def send_messages(self, bodies: Sequence[str]) -> SendResult: ...


class RunStarter(Protocol):
    """What the planner records of a run: how many results to expect."""

    def start_run(self, run: RunStart) -> bool: ...

    def add_expected(self, run_id: str, count: int) -> None: ...


class RunLedger(Protocol):
    """What the workers record: each message's result once, and who publishes the summary (the last one in)."""

    def add_expected(self, run_id: str, count: int) -> None: ...

    def record_unit(self, run_id: str, unit_id: str, repository_name: str, counts: Mapping[str, int]) -> bool:
        """Add a message's counts to its run, once per unit id; False when they were recorded before."""
        ...

    def claim_summary(self, run_id: str) -> RunTotals | None:
        """The run's totals when every expected result is in and nobody claimed the summary yet; else None."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


# ---- planner ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    repositories: tuple[str, ...]
    exempt: tuple[tuple[str, str], ...] = ()  # (repository, why)
    unreadable: tuple[tuple[str, Failure], ...] = ()  # tags unreadable: not swept (an exemption may hide there)
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class LaunchReport:
    run_id: str
    rules: SweepRules
    selection: Selection
    bodies: tuple[str, ...]  # the repository messages (sent, or what would be sent without a queue)
    queued: bool
    unsent: tuple[str, ...] = ()  # repositories whose message the queue refused
    errors: tuple[str, ...] = ()


class SweepPlanner:
    def __init__(
        self,
        directory: RepositoryDirectory,
        exemptions: ExemptionSettings,
        queue: MessageQueue | None = None,
        runs: RunStarter | None = None,
    ):
        self._directory = directory
        self._exemptions = exemptions
        self._queue = queue
        self._runs = runs

    def select(self, names: Sequence[str] | None = None) -> Selection:
        """The named repositories, or every repository, less those exempt from lifecycle (enforcement's exemptions)."""
        missing: list[str] = []
        if names is None:
            repositories = sorted(self._directory.list_repositories(), key=lambda r: r.name)
        else:
            repositories = []
            for name in dict.fromkeys(names):
                try:
                    repositories.append(self._directory.get_repository(name))
                except RepositoryNotFound:
                    missing.append(name)
        chosen: list[str] = []
        exempt: list[tuple[str, str]] = []
        unreadable: list[tuple[str, Failure]] = []
        for repository in repositories:
            exemption = exemption_by_name(repository.name, self._exemptions)
            if not exemption.covers(ExemptAspect.LIFECYCLE):
                try:
                    exemption |= exemption_by_tags(self._directory.list_tags(repository), self._exemptions)
                except RepositoryNotFound:
                    missing.append(repository.name)
                    continue
                except FatalAwsError:
                    raise
                except GovernanceError as error:
                    unreadable.append((repository.name, Failure.of(error)))
                    continue
            if exemption.covers(ExemptAspect.LIFECYCLE):
                exempt.append((repository.name, str(exemption)))
            else:
                chosen.append(repository.name)
        return Selection(tuple(chosen), tuple(exempt), tuple(unreadable), tuple(missing))

    def launch(self, run_id: str, rules: SweepRules, now: datetime) -> LaunchReport:
        """Send one message per repository to sweep; without a queue, say what would be sent."""
        selection = self.select()
        for name, failure in selection.unreadable:
            logger.error(
                "repository not swept: its tags could not be read",
                extra={"repository": name, "error_code": failure.code, "reason": failure.message, "run_id": run_id},
            )
        bodies = tuple(repository_body(RepositoryMessage(run_id, name, rules, now)) for name in selection.repositories)
        if self._queue is None:
            return LaunchReport(run_id, rules, selection, bodies, queued=False)
        if self._runs is not None and not self._runs.start_run(
            RunStart(run_id, rules.mode, now, expected=len(bodies), exempt=len(selection.exempt))
        ):
            logger.warning("run already started: sending its messages again", extra={"run_id": run_id})
        result = self._queue.send_messages(bodies) if bodies else SendResult()
        unsent = tuple(selection.repositories[i] for i in result.unsent)
        if unsent:
            if self._runs is not None:
                self._runs.add_expected(run_id, -len(unsent))
            logger.error(
                "repositories not queued: swept next run",
                extra={"run_id": run_id, "repositories": list(unsent), "errors": list(result.errors)},
            )
        return LaunchReport(run_id, rules, selection, bodies, True, unsent, result.errors)


# ---- worker -----------------------------------------------------------------------------------------------------
class SweepWorker:
    def __init__(
        self,
        registry: SweepRegistry,
        *,
        queue: MessageQueue | None = None,
        runs: RunLedger | None = None,
        publisher: NoticePublisher | None = None,
        storage_price_per_gb_month: float = 0.10,
        batch_size: int = MAX_BATCH,
        clock: Callable[[], datetime] = _utc_now,
    ):
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH}")
        self._registry = registry
        self._queue = queue
        self._runs = runs
        self._publisher = publisher
        self._price = storage_price_per_gb_month
        self._batch_size = batch_size
        self._clock = clock

    def handle(self, message: SweepMessage, seconds_left: SecondsLeft | None = None) -> SweepReport | None:
        """Sweep what one SQS message asks for and record its result. None: the message was put back on the queue
        (too little time left to start). Raises AwsError(transient) when a retry later may succeed."""
        if isinstance(message, ContinuationMessage):
            report = self.continue_part(message, seconds_left)
        else:
            if self._too_late(seconds_left, START_BELOW_SECONDS) and self._requeue(message):
                return None
            report = self.sweep_repository(
                message.repository, message.rules, run_id=message.run_id, seconds_left=seconds_left
            )
            if report.failure is not None and report.failure.transient:
                raise AwsError(report.failure.message, code=report.failure.code, transient=True)
        self._record(report, message)
        return report

    def sweep_repository(
        self,
        repository: str,
        rules: SweepRules,
        *,
        now: datetime | None = None,
        run_id: str = "",
        seconds_left: SecondsLeft | None = None,
    ) -> SweepReport:
        """Read, plan and sweep one repository. A repository that cannot be read is its own `failure`, untouched."""
        now = now or self._clock()
        report = SweepReport(repository, rules.mode)
        try:
            read = self._read(repository, rules, now)
        except RepositoryNotFound:
            report.gone = True
        except FatalAwsError:
            raise
        except GovernanceError as error:
            report.failure = Failure.of(error)
        except ImageDetailError as error:  # an image detail or manifest ECR sent that this code cannot read
            report.failure = Failure(code="UnreadableImageDetail", message=str(error))
        else:
            images, unread = read
            report.plan = plan_sweep(repository, images, rules, now, self._batch_size, unread)
            self._sweep(report, DeletionQueue(report.plan.units), rules, run_id, now, seconds_left)
        _log(report, run_id)
        return report

    def continue_part(self, message: ContinuationMessage, seconds_left: SecondsLeft | None = None) -> SweepReport:
        report = SweepReport(message.repository, message.rules.mode, part_id=message.part_id)
        queue = DeletionQueue(message.units)
        self._sweep(report, queue, message.rules, message.run_id, message.planned_at, seconds_left)
        _log(report, message.run_id)
        return report

    # ---- reading ----------------------------------------------------------------------------------------------
    def _read(self, repository: str, rules: SweepRules, now: datetime) -> tuple[list[ImageRecord], set[str]]:
        """Every image, then the manifests of indexes, then of the untagged images that could go but might be
        referrers of something that stays - only those. Also the digests whose manifest did not come back."""
        images = unique_images(self._registry.describe_images(repository, include_archived=True))
        unread: set[str] = set()
        wanted = indexes_to_read(images)
        if wanted:
            manifests = self._registry.get_manifests(repository, wanted)
            unread.update(set(wanted) - set(manifests))
            images = complete_with_manifests(images, manifests)
        more = referrer_candidates_to_read(images, rules, now, already_read=wanted)
        if more:
            manifests = self._registry.get_manifests(repository, more)
            unread.update(set(more) - set(manifests))
            images = complete_with_manifests(images, manifests)
        return images, unread

    # ---- deleting ---------------------------------------------------------------------------------------------
    def _sweep(
        self,
        report: SweepReport,
        queue: DeletionQueue,
        rules: SweepRules,
        run_id: str,
        planned_at: datetime,
        seconds_left: SecondsLeft | None,
    ) -> None:
        can_hand_on = self._queue is not None and bool(run_id)
        while len(queue):
            if can_hand_on and self._too_late(seconds_left, CONTINUE_BELOW_SECONDS):
                self._hand_on(report, queue, rules, run_id, planned_at)
                return
            batch = queue.next_batch(self._batch_size)
            if not batch:
                return
            if not self._sweep_batch(report, queue, batch, rules):
                return

    def _sweep_batch(
        self, report: SweepReport, queue: DeletionQueue, batch: list[PlannedDeletion], rules: SweepRules
    ) -> bool:
        """Re-check, then delete one batch; False when the repository itself is gone."""
        repository = report.repository
        now = self._clock()
        digests = [d.digest for d in batch]
        current, go_on = self._batch_call(report, queue, batch, "re-check failed", self._recheck, digests)
        if current is None:
            return go_on
        staying = []
        for deletion in batch:
            record = current.get(deletion.digest)
            if record is None:
                report.record(deletion.digest, Outcome.ALREADY_GONE, deletion.size_bytes, "gone before the re-check")
                queue.settle([deletion.digest])
            elif record.tags:
                tags = ", ".join(record.tags)
                report.record(deletion.digest, Outcome.TAGGED_SINCE_PLAN, deletion.size_bytes, f"now tagged {tags}")
                staying.append(deletion.digest)
            elif (reason := own_reason(record, rules, now)) is not None:
                report.record(deletion.digest, Outcome.NO_LONGER_ELIGIBLE, deletion.size_bytes, f"now {reason}")
                staying.append(deletion.digest)
        self._protect(report, queue, staying)
        doomed = [d for d in batch if queue.is_unsettled(d.digest)]
        if not doomed:
            return True
        queue.settle(d.digest for d in doomed)
        if not rules.deletes:
            for deletion in doomed:
                report.record(deletion.digest, Outcome.WOULD_DELETE, deletion.size_bytes)
            return True
        delete = self._registry.batch_delete_images
        result, go_on = self._batch_call(report, queue, doomed, "delete failed", delete, [d.digest for d in doomed])
        if result is None:
            return go_on
        failures = {failure.digest: failure for failure in result.failures}
        staying = []
        for deletion in doomed:
            failure = failures.get(deletion.digest)
            if failure is None:
                report.record(deletion.digest, Outcome.DELETED, deletion.size_bytes)
            elif failure.code == IMAGE_NOT_FOUND:
                report.record(deletion.digest, Outcome.ALREADY_GONE, deletion.size_bytes, failure.reason)
            elif failure.code == REFERENCED_BY_MANIFEST_LIST:
                report.record(deletion.digest, Outcome.KEPT_BY_ECR, deletion.size_bytes, failure.reason, failure.code)
                staying.append(deletion.digest)
            else:
                report.record(deletion.digest, Outcome.FAILED, deletion.size_bytes, failure.reason, failure.code)
                staying.append(deletion.digest)
        self._protect(report, queue, staying)
        unexpected = set(failures) - {d.digest for d in doomed}
        if unexpected:
            logger.warning(
                "BatchDeleteImage reported images it was not asked to delete",
                extra={"repository": repository, "digests": sorted(unexpected)},
            )
        return True

    def _batch_call[T](
        self,
        report: SweepReport,
        queue: DeletionQueue,
        batch: Sequence[PlannedDeletion],
        what: str,
        call: Callable[[str, list[str]], T],
        digests: list[str],
    ) -> tuple[T | None, bool]:
        """One ECR call about a batch, and whether the sweep goes on: the repository gone ends it (what is left is
        already gone); any other refusal fails the batch, which stays with what it reaches."""
        try:
            return call(report.repository, digests), True
        except RepositoryNotFound:
            self._gone(report, queue, batch)
            return None, False
        except FatalAwsError:
            raise
        except GovernanceError as error:
            self._fail(report, queue, batch, error, what)
            return None, True

    def _recheck(self, repository: str, digests: list[str]) -> dict[str, ImageRecord]:
        """The batch's images as they are now, read in ONE call right before the delete: a tag that lands after that
        read is the only race left. ECR refuses the whole read when one image is gone; then the read is halved to
        find which are left, and those are read again in one call."""
        for _ in range(RECHECK_ROUNDS):
            try:
                found = unique_images(self._registry.describe_images_by_digest(repository, digests))
            except ImageNotFound:
                middle = len(digests) // 2
                present = [*self._present(repository, digests[:middle]), *self._present(repository, digests[middle:])]
                if not present:
                    return {}
                digests = present
                continue
            wanted = set(digests)
            return {image.digest: image for image in found if image.digest in wanted}
        raise AwsError(
            f"DescribeImages on {repository}: images kept disappearing during {RECHECK_ROUNDS} re-checks",
            operation="DescribeImages",
            code="RecheckUnsettled",
        )

    def _present(self, repository: str, digests: list[str]) -> list[str]:
        """Which of these images still exist, halving every read ECR refuses."""
        if not digests:
            return []
        try:
            return [image.digest for image in self._registry.describe_images_by_digest(repository, digests)]
        except ImageNotFound:
            if len(digests) == 1:
                return []
            middle = len(digests) // 2
            return [*self._present(repository, digests[:middle]), *self._present(repository, digests[middle:])]

    def _protect(self, report: SweepReport, queue: DeletionQueue, staying: Collection[str]) -> None:
        if not staying:
            return
        for digest, root in queue.protect(staying).items():
            size = queue.deletion(digest).size_bytes
            report.record(digest, Outcome.PROTECTED, size, f"reached from {root}, which stayed")

    def _fail(
        self,
        report: SweepReport,
        queue: DeletionQueue,
        batch: Sequence[PlannedDeletion],
        error: GovernanceError,
        what: str,
    ) -> None:
        code = error.code if isinstance(error, AwsError) else type(error).__name__
        for deletion in batch:
            report.record(deletion.digest, Outcome.FAILED, deletion.size_bytes, f"{what}: {error}", code)
        queue.settle(d.digest for d in batch)
        self._protect(report, queue, [d.digest for d in batch])

    def _gone(self, report: SweepReport, queue: DeletionQueue, batch: Sequence[PlannedDeletion]) -> None:
        report.gone = True
        left = [*batch, *(d for unit in queue.remaining_units() for d in unit)]
        for deletion in left:
            report.record(deletion.digest, Outcome.ALREADY_GONE, deletion.size_bytes, "the repository was deleted")
        queue.settle(d.digest for d in left)

    # ---- handing on -------------------------------------------------------------------------------------------
    def _hand_on(
        self, report: SweepReport, queue: DeletionQueue, rules: SweepRules, run_id: str, planned_at: datetime
    ) -> None:
        """Send the candidates left as continuation messages: whole groups of images that reach each other."""
        assert self._queue is not None
        parts, too_large = _pack(queue.remaining_units())
        messages = [
            ContinuationMessage(run_id, report.repository, rules, planned_at, uuid.uuid4().hex, tuple(units))
            for units in parts
        ]
        if self._runs is not None and messages:
            # Expected first: a part that finishes before this call must not let the run look complete.
            self._runs.add_expected(run_id, len(messages))
        result = self._queue.send_messages([continuation_body(m) for m in messages]) if messages else SendResult()
        unsent = set(result.unsent)
        if unsent and self._runs is not None:
            self._runs.add_expected(run_id, -len(unsent))
        for position, message in enumerate(messages):
            if position in unsent:
                outcome, detail = Outcome.DEFERRED, "could not be handed on: " + "; ".join(result.errors)
            else:
                outcome, detail = Outcome.CONTINUED, f"continued in part {message.part_id}"
            for unit in message.units:
                for deletion in unit:
                    report.record(deletion.digest, outcome, deletion.size_bytes, detail)
        for unit in (unit for group in too_large for unit in group):
            for deletion in unit:
                report.record(
                    deletion.digest,
                    Outcome.DEFERRED,
                    deletion.size_bytes,
                    "too many images that reach each other for one message: left for the next run",
                )
        report.continuation_parts = len(messages) - len(unsent)
        queue.settle(d.digest for unit in queue.remaining_units() for d in unit)
        logger.info(
            "sweep continues in new messages",
            extra={"repository": report.repository, "run_id": run_id, "parts": report.continuation_parts},
        )

    def _requeue(self, message: SweepMessage) -> bool:
        assert self._queue is not None
        result = self._queue.send_messages([body(message)])
        if result.unsent:
            logger.warning("could not put the message back: sweeping now", extra={"errors": list(result.errors)})
            return False
        logger.info("too little time left to start: message put back", extra={"repository": message.repository})
        return True

    def _too_late(self, seconds_left: SecondsLeft | None, threshold: float) -> bool:
        return self._queue is not None and seconds_left is not None and seconds_left() < threshold

    # ---- the run ----------------------------------------------------------------------------------------------
    def _record(self, report: SweepReport, message: SweepMessage) -> None:
        if self._runs is None:
            return
        if not self._runs.record_unit(message.run_id, message.unit_id, report.repository, report.counts()):
            logger.info(
                "message seen before: its result was already recorded",
                extra={"run_id": message.run_id, "unit": message.unit_id},
            )
            return
        totals = self._runs.claim_summary(message.run_id)
        if totals is None:
            return
        report.completed_run = totals
        logger.info("sweep run complete", extra={"run_id": totals.run_id, "mode": totals.mode, **totals.counts})
        if self._publisher is None:
            return
        notice = sweep_notice(totals, self._price)
        try:
            self._publisher.publish(notice)
        except GovernanceError as error:
            # The deletions are done and recorded; a retry could not claim the summary again.
            report.notification_failed = True
            logger.error(
                "notification failed",
                extra={"run_id": totals.run_id, "reason": str(error), "error_code": getattr(error, "code", "")},
            )


def _pack(units: Sequence[DeletionUnit]) -> tuple[list[list[DeletionUnit]], list[list[DeletionUnit]]]:
    """Connected groups packed into message-sized parts; groups too large for any message apart."""
    parts: list[list[DeletionUnit]] = []
    too_large: list[list[DeletionUnit]] = []
    size = count = 0
    for group in connected_parts(units):
        group_size = units_size(group)
        group_count = sum(len(unit) for unit in group)
        if group_size > PART_BUDGET_BYTES or group_count > MAX_PART_DIGESTS:
            too_large.append(group)
            continue
        if not parts or size + group_size > PART_BUDGET_BYTES or count + group_count > MAX_PART_DIGESTS:
            parts.append([])
            size = count = 0
        parts[-1].extend(group)
        size += group_size
        count += group_count
    return parts, too_large


def _log(report: SweepReport, run_id: str) -> None:
    fields = {"run_id": run_id, **report.log_fields()} if run_id else report.log_fields()
    if report.has_failures:
        logger.error("sweep report", extra=fields)
    else:
        logger.info("sweep report", extra=fields)
