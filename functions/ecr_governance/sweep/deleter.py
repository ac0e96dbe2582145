"""Deleting one repository's candidates: in graph order, each call right after a complete re-read.

Before every BatchDeleteImage call the repository is read again (RepositoryReader.read(settle=True): a listing, the
manifests of what was pushed since, another listing) and planned again with the sweep's rules, so a tag on a
candidate, a pull, a new tagged index or referrer, a re-pushed subject, an image in use - anything that arrived
before that last listing - keeps what it reaches. Only the candidates planned at the start may go, and only once
every image they are reachable from is confirmed deleted. The call's response is read per image; a failure keeps the
image and so everything below it. In a repository longer than one DescribeImages page the batch's own images are
read once more, by digest, right before the call (the listing's first pages are older than its last).

ECR has no conditional delete: what lands between that last read and the call is not seen (one round trip). An index
pushed then over a candidate is refused by ECR itself (ImageReferencedByManifestList).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import AwsError, FatalAwsError, GovernanceError, ImageNotFound, RepositoryNotFound
from ecr_governance.images import ImageRecord
from ecr_governance.sweep.deletion import IMAGE_NOT_FOUND, REFERENCED_BY_MANIFEST_LIST, BatchDeleteResult
from ecr_governance.sweep.ledger import DeletionCall, RunLedger
from ecr_governance.sweep.plan import (
    CANDIDATE,
    MAX_BATCH,
    REACHED,
    InUse,
    KeepReason,
    PlannedDeletion,
    SweepPlan,
    own_reasons,
    plan_sweep,
)
from ecr_governance.sweep.ports import SweepRegistry
from ecr_governance.sweep.reading import RepositoryReader
from ecr_governance.sweep.report import Outcome, SweepReport
from ecr_governance.sweep.settings import SweepRules

logger = Logger(service=SERVICE_NAME, child=True)

# Re-reads of a batch whose images keep vanishing (a multi-page repository's by-digest read) before it stays.
RECHECK_ROUNDS = 3
# Why an image the plan would keep stays, as an outcome of the candidate it was.
OWN_REASON_OUTCOMES = {
    KeepReason.TAGGED: Outcome.TAGGED_SINCE_PLAN,
    KeepReason.MANIFEST_UNREAD: Outcome.MANIFEST_UNREAD,
}


@dataclass
class DeletionRun:
    """Where one repository's deletions stand: what may go, what went, what stays after a failed call."""

    allowed: frozenset[str]  # the candidates planned at the start: nothing else is deleted by this message
    sizes: dict[str, PlannedDeletion]
    deleted: set[str] = field(default_factory=set)  # confirmed by a response (or found gone)
    settled: set[str] = field(default_factory=set)  # has an outcome
    failed: set[str] = field(default_factory=set)  # a call did not delete it: it stays, with what it reaches

    @classmethod
    def of(cls, plan: SweepPlan) -> DeletionRun:
        return cls(frozenset(d.digest for d in plan.candidates), {d.digest: d for d in plan.candidates})


@dataclass(frozen=True)
class RunContext:
    """Where a delete call is written down (None: nowhere - the CLI, a local invoke), and for which member."""

    ledger: RunLedger | None = None
    run_id: str = ""
    unit_id: str = ""
    account: str = ""
    region: str = ""


class Deleter:
    def __init__(
        self,
        registry: SweepRegistry,
        clock: Callable[[], datetime],
        batch_size: int = MAX_BATCH,
    ):
        self._registry = registry
        self._clock = clock
        self._batch_size = batch_size

    def delete(  # noqa: PLR0917 - what one deletion pass needs, each a distinct role (kept as reviewed)
        self,
        report: SweepReport,
        reader: RepositoryReader,
        rules: SweepRules,
        in_use: InUse,
        context: RunContext,
        stop: Callable[[], bool],
    ) -> SweepPlan:
        """Delete the report's plan's candidates, call by call, until none is left or `stop` says so. Returns the
        last plan made (what every candidate not deleted became)."""
        assert report.plan is not None
        state = DeletionRun.of(report.plan)
        current = report.plan
        while not stop():
            batch = current.ready(state.allowed - state.settled, state.deleted, self._batch_size)
            if not batch:
                break
            call = DeletionCall(
                uuid.uuid4().hex, context.unit_id, report.repository, tuple(batch), context.account, context.region
            )
            if context.ledger is not None:
                context.ledger.intend_deletion(context.run_id, call)  # before the re-read: the read stays last
            try:
                current = self._replan(reader, rules, in_use, state)
            except RepositoryNotFound:
                report.gone = True
                break
            doomed = self._final_check(report.repository, current, batch, reader)
            state.settled.update(d.digest for d in batch)
            for deletion in batch:
                if deletion not in doomed:
                    self._record_kept(report, current, deletion, state)
            deleted = self._delete_call(report, doomed, state) if doomed else []
            if context.ledger is not None:
                context.ledger.confirm_deletion(context.run_id, call.call_id, deleted, context.account)
            if report.gone:
                break
        return current

    # ---- one round ---------------------------------------------------------------------------------------------
    def _replan(self, reader: RepositoryReader, rules: SweepRules, in_use: InUse, state: DeletionRun) -> SweepPlan:
        now = self._clock()
        view = reader.read(now, only=state.allowed, settle=True)
        return plan_sweep(
            reader.repository,
            view.images,
            rules,
            now,
            unread=view.unread,
            in_use=in_use,
            failed=state.failed,
            only=state.allowed,
        )

    def _final_check(
        self, repository: str, current: SweepPlan, batch: Sequence[PlannedDeletion], reader: RepositoryReader
    ) -> list[PlannedDeletion]:
        """The batch's images that may go now; in a repository longer than one listing page, read once more."""
        doomed = [deletion for deletion in batch if current.deletable(deletion.digest)]
        if not doomed or len(current.images) <= reader.page_size:
            return doomed
        records = self._recheck(repository, [d.digest for d in doomed])
        staying = own_reasons(records.values(), current.rules, self._clock())
        return [d for d in doomed if d.digest in records and d.digest not in staying]

    def _recheck(self, repository: str, digests: list[str]) -> dict[str, ImageRecord]:
        """The images as they are now, in one call; ECR refuses the whole read when one is gone: then halve to find
        the ones left, and read those again in one call."""
        for _ in range(RECHECK_ROUNDS):
            try:
                found = self._registry.describe_images_by_digest(repository, digests)
            except ImageNotFound:
                digests = self._present(repository, digests)
                if not digests:
                    return {}
                continue
            wanted = set(digests)
            return {image.digest: image for image in found if image.digest in wanted}
        return {}  # kept vanishing: none of them goes this time

    def _present(self, repository: str, digests: list[str]) -> list[str]:
        if not digests:
            return []
        try:
            return [image.digest for image in self._registry.describe_images_by_digest(repository, digests)]
        except ImageNotFound:
            if len(digests) == 1:
                return []
            middle = len(digests) // 2
            return [*self._present(repository, digests[:middle]), *self._present(repository, digests[middle:])]

    def _delete_call(
        self, report: SweepReport, doomed: list[PlannedDeletion], state: DeletionRun
    ) -> list[PlannedDeletion]:
        """One BatchDeleteImage call, read image by image; returns what it deleted."""
        report.delete_calls += 1
        try:
            result = self._registry.batch_delete_images(report.repository, [d.digest for d in doomed])
        except RepositoryNotFound:
            report.gone = True
            for deletion in doomed:
                report.record(
                    deletion.digest,
                    Outcome.ALREADY_GONE,
                    deletion.size_bytes,
                    deletion.storage_class,
                    "repository gone",
                )
            return []
        except FatalAwsError:
            raise
        except GovernanceError as error:
            code = error.code if isinstance(error, AwsError) else type(error).__name__
            for deletion in doomed:
                detail = f"delete failed: {error}"
                report.record(
                    deletion.digest, Outcome.FAILED, deletion.size_bytes, deletion.storage_class, detail, code
                )
            state.failed.update(d.digest for d in doomed)
            return []
        return self._read_response(report, doomed, result, state)

    def _read_response(
        self, report: SweepReport, doomed: list[PlannedDeletion], result: BatchDeleteResult, state: DeletionRun
    ) -> list[PlannedDeletion]:
        failures = {failure.digest: failure for failure in result.failures}
        deleted = []
        for deletion in doomed:
            failure = failures.get(deletion.digest)
            size, storage = deletion.size_bytes, deletion.storage_class
            if failure is None:
                report.record(deletion.digest, Outcome.DELETED, size, storage)
                state.deleted.add(deletion.digest)
                deleted.append(deletion)
            elif failure.code == IMAGE_NOT_FOUND:
                report.record(deletion.digest, Outcome.ALREADY_GONE, size, storage, failure.reason)
                state.deleted.add(deletion.digest)  # gone: it keeps nothing now
            else:
                outcome = Outcome.KEPT_BY_ECR if failure.code == REFERENCED_BY_MANIFEST_LIST else Outcome.FAILED
                report.record(deletion.digest, outcome, size, storage, failure.reason, failure.code)
                state.failed.add(deletion.digest)
        unexpected = set(failures) - {d.digest for d in doomed}
        if unexpected:
            logger.warning(
                "BatchDeleteImage reported images it was not asked to delete",
                extra={"repository": report.repository, "digests": sorted(unexpected)},
            )
        return deleted

    def _record_kept(
        self, report: SweepReport, current: SweepPlan, deletion: PlannedDeletion, state: DeletionRun
    ) -> None:
        outcome, detail = outcome_of_kept(current, deletion.digest, state.failed)
        report.record(deletion.digest, outcome, deletion.size_bytes, deletion.storage_class, detail)


def outcome_of_kept(plan: SweepPlan, digest: str, failed: Collection[str]) -> tuple[Outcome, str]:
    """What became of a planned candidate that `plan` (made later) does not delete, and why, in words."""
    reason = plan.reasons.get(digest)
    if reason is None:
        return Outcome.ALREADY_GONE, "gone before its delete call"
    if reason == KeepReason.TAGGED:
        return Outcome.TAGGED_SINCE_PLAN, "now tagged " + ", ".join(plan.graph.images[digest].tags)
    if reason in REACHED:
        keeper = _root_keeper(plan, digest)
        if keeper in failed:
            return Outcome.PARENT_NOT_DELETED, f"reachable from {keeper}, which was not deleted"
        return Outcome.PROTECTED, f"reachable from {keeper}, which stays ({plan.reasons.get(keeper, 'present')})"
    if reason == CANDIDATE:
        return Outcome.PARENT_NOT_DELETED, f"reachable from {', '.join(plan.parents(digest))}, not deleted"
    return OWN_REASON_OUTCOMES.get(KeepReason(reason), Outcome.NO_LONGER_ELIGIBLE), f"now {reason}"


def _root_keeper(plan: SweepPlan, digest: str) -> str:
    """The image that stays by itself at the top of the chain that keeps `digest`."""
    seen = {digest}
    keeper = plan.kept_via.get(digest, "")
    while plan.reasons.get(keeper) in REACHED and keeper not in seen:
        seen.add(keeper)
        keeper = plan.kept_via.get(keeper, keeper)
    return keeper
