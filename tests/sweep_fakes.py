"""In-memory stand-ins for the sweep's ports, faithful where the sweep's safety depends on it (importable: pytest
pythonpath = tests).

`InMemoryEcr` behaves like ECR, not like moto: DescribeImages does not list an index's children (BatchGetImage's
manifest does), reports a referrer's subject only where asked (`subject_in_details`), refuses a whole by-digest read
when one image is gone, and refuses to delete a manifest an index still references (ImageReferencedByManifestList).
`before_call` lets a test change the registry between any two calls - a tag racing the sweep, a pull, a deletion by
someone else - and `violations` collects every digest a delete call took that a tagged image reached at that moment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from ecr_governance.errors import ImageNotFound, RepositoryNotFound
from ecr_governance.images import ImageRecord, Manifest
from ecr_governance.sweep.deletion import BatchDeleteResult, DeleteFailure
from ecr_governance.sweep.messages import SendResult
from ecr_governance.sweep.report import RunStart, RunTotals


def reachable(images: Mapping[str, ImageRecord], roots: Iterable[str]) -> set[str]:
    """Everything the roots reach through index children and referrer subjects - the tests' own walk, so the
    checks do not trust the graph code they check."""
    referrers: dict[str, list[str]] = {}
    for image in images.values():
        if image.subject_digest:
            referrers.setdefault(image.subject_digest, []).append(image.digest)
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        digest = pending.pop()
        if digest in seen:
            continue
        seen.add(digest)
        image = images.get(digest)
        if image is not None:
            pending.extend(image.child_digests)
        pending.extend(referrers.get(digest, ()))
    return seen


@dataclass
class InMemoryEcr:
    repositories: dict[str, dict[str, ImageRecord]] = field(default_factory=dict)
    subject_in_details: set[str] = field(default_factory=set)  # referrers whose subject DescribeImages reports
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # digest -> (code, reason) on delete
    before_call: Callable[[str, InMemoryEcr], None] | None = None
    calls: Counter[str] = field(default_factory=Counter)
    delete_calls: list[list[str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def add(self, repository: str, *images: ImageRecord, subject_reported: bool = False) -> None:
        for image in images:
            self.repositories.setdefault(repository, {})[image.digest] = image
            if subject_reported and image.subject_digest:
                self.subject_in_details.add(image.digest)

    def _enter(self, operation: str, repository: str) -> dict[str, ImageRecord]:
        self.calls[operation] += 1
        if self.before_call is not None:
            self.before_call(operation, self)
        if repository not in self.repositories:
            raise RepositoryNotFound(repository, operation)
        return self.repositories[repository]

    def _detail(self, image: ImageRecord) -> ImageRecord:
        """What DescribeImages tells: no children; the subject only where ECR reports it."""
        subject = image.subject_digest if image.digest in self.subject_in_details else None
        return replace(image, child_digests=(), subject_digest=subject)

    # ---- the sweep's registry port ---------------------------------------------------------------------------
    def describe_images(self, repository_name: str, include_archived: bool = False) -> list[ImageRecord]:
        images = self._enter("DescribeImages", repository_name)
        return [self._detail(i) for i in images.values() if include_archived or i.status == "ACTIVE"]

    def get_manifests(self, repository_name: str, digests: Iterable[str]) -> dict[str, Manifest]:
        images = self._enter("BatchGetImage", repository_name)
        return {
            d: Manifest(d, images[d].manifest_media_type, images[d].child_digests, images[d].subject_digest)
            for d in digests
            if d in images
        }

    def describe_images_by_digest(self, repository_name: str, digests: Sequence[str]) -> list[ImageRecord]:
        images = self._enter("DescribeImages", repository_name)
        if any(d not in images for d in digests):
            raise ImageNotFound("DescribeImages: image not found", operation="DescribeImages", code="ImageNotFound")
        return [self._detail(images[d]) for d in digests]

    def batch_delete_images(self, repository_name: str, digests: Sequence[str]) -> BatchDeleteResult:
        images = self._enter("BatchDeleteImage", repository_name)
        assert len(digests) <= 100, "BatchDeleteImage takes at most 100 ids"
        self.delete_calls.append(list(digests))
        kept = reachable(images, [d for d, i in images.items() if i.tags])
        self.violations.extend(d for d in digests if d in kept)
        failures, deleted = [], []
        for digest in digests:
            if digest not in images:
                failures.append(DeleteFailure(digest, "ImageNotFound", "Requested image not found"))
            elif digest in self.failures:
                failures.append(DeleteFailure(digest, *self.failures[digest]))
            elif any(digest in other.child_digests for o, other in images.items() if o != digest):
                failures.append(DeleteFailure(digest, "ImageReferencedByManifestList", "referenced by an index"))
            else:
                del images[digest]
                deleted.append(digest)
        return BatchDeleteResult(tuple(deleted), tuple(failures))

    # ---- changes between calls -------------------------------------------------------------------------------
    def tag(self, repository: str, digest: str, tag: str) -> None:
        image = self.repositories[repository].get(digest)
        if image is not None:
            self.repositories[repository][digest] = replace(image, tags=(*image.tags, tag))

    def pull(self, repository: str, digest: str, at: datetime) -> None:
        image = self.repositories[repository].get(digest)
        if image is not None:
            self.repositories[repository][digest] = replace(image, last_pulled_at=at)

    def remove(self, repository: str, digest: str) -> None:
        self.repositories[repository].pop(digest, None)

    def digests(self, repository: str) -> set[str]:
        return set(self.repositories.get(repository, {}))


@dataclass
class RecordingQueue:
    """A queue that keeps what it is sent; `refuse` makes it refuse bodies by position."""

    bodies: list[str] = field(default_factory=list)
    refuse: set[int] = field(default_factory=set)

    def send_messages(self, bodies: Sequence[str]) -> SendResult:
        unsent = tuple(i for i in range(len(bodies)) if i in self.refuse)
        self.bodies.extend(body for i, body in enumerate(bodies) if i not in self.refuse)
        return SendResult(unsent, ("refused",) if unsent else ())


@dataclass
class InMemoryRuns:
    """The runs table's semantics: results recorded once per unit, the summary claimed once when all are in."""

    runs: dict[str, dict] = field(default_factory=dict)
    units: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    def start_run(self, run: RunStart) -> bool:
        if run.run_id in self.runs:
            return False
        self.runs[run.run_id] = {
            "mode": str(run.mode),
            "started": run.started_at.isoformat(),
            "expected": run.expected,
            "reported": 0,
            "exempt": run.exempt,
            "counts": Counter(),
            "claimed": False,
        }
        return True

    def _run(self, run_id: str) -> dict:
        return self.runs.setdefault(
            run_id, {"mode": "", "started": "", "reported": 0, "exempt": 0, "counts": Counter(), "claimed": False}
        )

    def add_expected(self, run_id: str, count: int) -> None:
        run = self._run(run_id)
        run["expected"] = run.get("expected", 0) + count

    def record_unit(self, run_id: str, unit_id: str, repository_name: str, counts: Mapping[str, int]) -> bool:
        if (run_id, unit_id) in self.units:
            return False
        self.units[(run_id, unit_id)] = dict(counts)
        run = self._run(run_id)
        run["reported"] += 1
        run["counts"].update(counts)
        return True

    def claim_summary(self, run_id: str) -> RunTotals | None:
        run = self._run(run_id)
        if run["claimed"] or "expected" not in run or run["reported"] < run["expected"]:
            return None
        run["claimed"] = True
        return RunTotals(
            run_id, run["mode"], run["started"], run["expected"], run["reported"], dict(run["counts"]), run["exempt"]
        )


@dataclass
class RecordingPublisher:
    notices: list = field(default_factory=list)

    def publish(self, notice) -> None:
        self.notices.append(notice)
