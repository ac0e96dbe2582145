"""A full reconcile's walk over the registry: sorted chunks, a time budget checked between them, and where to
continue in a fresh invocation when it runs out (registry scanning is then planned by the last piece)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.assess import Assessor
from ecr_governance.enforce.model import START, EnforcementPlan, ReconcileProgress, RepositoryAssessment
from ecr_governance.enforce.registry_aspects import RegistryReader
from ecr_governance.enforce.registry_scanning import plan_reconcile_scanning

logger = Logger(service=SERVICE_NAME, child=True)
CHUNKS_PER_WORKER = 4  # a chunk keeps every worker busy a few times over between two looks at the clock


@dataclass(frozen=True)
class ReconcileScope:
    """What one invocation covers: named repositories (an event), or a full reconcile (or its next piece)."""

    repository_names: tuple[str, ...] | None = None
    progress: ReconcileProgress | None = None  # a continued full reconcile
    should_stop: Callable[[], bool] = field(default=lambda: False)  # time budget of the invocation


class FullWalk:
    """One invocation's walk: where it starts (a previous piece's progress), what it has assessed, and where it
    stopped when the time budget ran out."""

    def __init__(self, assessor: Assessor, reader: RegistryReader, scope: ReconcileScope, concurrency: int):
        self._assessor = assessor
        self._reader = reader
        self._scope = scope
        self._chunk_size = max(1, concurrency * CHUNKS_PER_WORKER)
        self.context = reader.context()
        self.repositories = assessor.list_repositories()
        self.tag_values = assessor.bulk_tag_values()
        self.progress = scope.progress or START
        self.assessments: list[RepositoryAssessment] = []
        self.continuation: ReconcileProgress | None = None

    def chunks(self) -> Iterator[list[RepositoryAssessment]]:
        """The assessments of each chunk of the repositories still to handle, recorded as they are yielded."""
        pending = [r for r in self.repositories if r.name > self.progress.after]
        for start in range(0, len(pending), self._chunk_size):
            if start and self._scope.should_stop():
                self._stop(after=pending[start - 1].name, handled=start, remaining=len(pending) - start)
                return
            chunk = self._assessor.assess(pending[start : start + self._chunk_size], self.context, self.tag_values)
            self.assessments.extend(chunk)
            yield chunk

    def _stop(self, after: str, handled: int, remaining: int) -> None:
        self.continuation = self.progress.extended(after, self.assessments)
        logger.info(
            "reconcile continues in a new invocation",
            extra={"stopped_after": after, "handled": handled, "remaining": remaining},
        )

    def plan(self) -> EnforcementPlan:
        """This piece's plan; the last piece also plans registry scanning and the registry-wide aspects."""
        found = [a for a in self.assessments if not a.gone]
        scanning, scanning_plan = self.context.scanning, None
        registry_checks = list(self.context.unread)
        if self.continuation is None:
            if scanning is not None:
                scanning_plan = plan_reconcile_scanning(scanning, self.repositories, self.progress, found)
            registry_checks += self._reader.checks()
        return EnforcementPlan(
            assessments=tuple(found),
            registry_scanning=scanning,
            scanning=scanning_plan,
            coverage=tuple(a.coverage for a in found),
            missing_repositories=tuple(a.repository.name for a in self.assessments if a.gone),
            scanning_failure=self.context.scanning_failure,
            continuation=self.continuation,
            progress_before=self._scope.progress,
            registry_checks=tuple(registry_checks),
        )
