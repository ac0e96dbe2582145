"""In-memory stand-ins for the sweep's ports, faithful where the sweep's safety depends on it (importable: pytest
pythonpath = tests).

`InMemoryEcr` behaves like ECR, not like moto: DescribeImages does not list an index's children (BatchGetImage's
manifest does), reports a referrer's subject only where asked (`subject_in_details`), refuses a whole by-digest read
when one image is gone, answers BatchGetImage per image (a manifest, ImageNotFound, or an injected failure such as
KmsError), and refuses to delete a manifest an index still references (ImageReferencedByManifestList).
`before_call` lets a test change the registry before any call - a tag racing the sweep, a push, a pull, a deletion
by someone else. `violations` collects, at the moment of each delete call, every digest ECR actually deleted that a
tagged or in-use image reached; `sent_needed` every digest sent that one reached (ECR's own refusal may have saved
it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from ecr_governance.errors import AwsError, ImageNotFound, RepositoryNotFound
from ecr_governance.images import ImageRecord, Manifest, ManifestRead
from ecr_governance.repositories import Repository
from ecr_governance.runs import RunCounters
from ecr_governance.sweep.deletion import BatchDeleteResult, DeleteFailure
from ecr_governance.sweep.ledger import SUMMARY_LEASE, SWEEP_COUNTERS, DeletionCall, RunStart, RunState, UnitRef
from ecr_governance.sweep.messages import SendResult
from ecr_governance.sweep.plan import InUse, PlannedDeletion
from ecr_governance.sweep.report import COUNTERS, DELETION_COUNTERS, RECLAIMED_COUNTERS

ACCOUNT = "123456789012"


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
    repository_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    subject_in_details: set[str] = field(default_factory=set)  # referrers whose subject DescribeImages reports
    manifest_failures: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # digest -> (code, reason): BatchGetImage
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # digest -> (code, reason) on delete
    in_use: set[str] = field(default_factory=set)  # what Inspector saw running (InMemoryInspector serves it)
    tags_refused: dict[str, AwsError] = field(default_factory=dict)  # repository -> ListTagsForResource's error
    cache_prefixes: tuple[str, ...] = ()  # pull-through cache rules' repository prefixes
    before_call: Callable[[str, InMemoryEcr], None] | None = None
    calls: Counter[str] = field(default_factory=Counter)
    delete_calls: list[list[str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    sent_needed: list[str] = field(default_factory=list)
    deleted: list[list[str]] = field(default_factory=list)  # per delete call, what it deleted

    def add(self, repository: str, *images: ImageRecord, subject_reported: bool = False) -> None:
        self.repositories.setdefault(repository, {})
        for image in images:
            self.repositories[repository][image.digest] = image
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

    # ---- the repository directory ----------------------------------------------------------------------------
    def _repository(self, name: str) -> Repository:
        arn = f"arn:aws:ecr:ap-southeast-1:{ACCOUNT}:repository/{name}"
        return Repository(name=name, arn=arn, tag_mutability="IMMUTABLE")

    def list_repositories(self) -> list[Repository]:
        self.calls["DescribeRepositories"] += 1
        return [self._repository(name) for name in sorted(self.repositories)]

    def get_repository(self, name: str) -> Repository:
        self._enter("DescribeRepositories", name)
        return self._repository(name)

    def list_tags(self, repository: Repository) -> dict[str, str]:
        self._enter("ListTagsForResource", repository.name)
        if repository.name in self.tags_refused:
            raise self.tags_refused[repository.name]
        return dict(self.repository_tags.get(repository.name, {}))

    # ---- the sweep's registry port ---------------------------------------------------------------------------
    def describe_images(self, repository_name: str, include_archived: bool = False) -> list[ImageRecord]:
        images = self._enter("DescribeImages", repository_name)
        return [self._detail(i) for i in images.values() if include_archived or i.status == "ACTIVE"]

    def get_manifests(self, repository_name: str, digests: Iterable[str]) -> ManifestRead:
        images = self._enter("BatchGetImage", repository_name)
        manifests, gone, unread = {}, set(), {}
        for digest in dict.fromkeys(digests):
            if digest not in images:
                gone.add(digest)
            elif digest in self.manifest_failures:
                code, reason = self.manifest_failures[digest]
                unread[digest] = f"{code}: {reason}"
            else:
                image = images[digest]
                manifests[digest] = Manifest(
                    digest, image.manifest_media_type, image.child_digests, image.subject_digest
                )
        return ManifestRead(manifests, frozenset(gone), unread)

    def describe_images_by_digest(self, repository_name: str, digests: Sequence[str]) -> list[ImageRecord]:
        images = self._enter("DescribeImages", repository_name)
        if any(d not in images for d in digests):
            raise ImageNotFound("DescribeImages: image not found", operation="DescribeImages", code="ImageNotFound")
        return [self._detail(images[d]) for d in digests]

    def pull_through_cache_prefixes(self) -> tuple[str, ...]:
        self.calls["DescribePullThroughCacheRules"] += 1
        return self.cache_prefixes

    def needed(self, repository: str) -> set[str]:
        """What a tagged or in-use image reaches right now (themselves included)."""
        images = self.repositories.get(repository, {})
        return reachable(images, [d for d, i in images.items() if i.tags or d in self.in_use])

    def batch_delete_images(self, repository_name: str, digests: Sequence[str]) -> BatchDeleteResult:
        images = self._enter("BatchDeleteImage", repository_name)
        assert 0 < len(digests) <= 100, "BatchDeleteImage takes 1 to 100 ids"
        self.delete_calls.append(list(digests))
        needed = self.needed(repository_name)
        self.sent_needed.extend(d for d in digests if d in needed)
        failures, deleted = [], []
        for digest in digests:
            if digest not in images:
                failures.append(DeleteFailure(digest, "ImageNotFound", "Requested image not found"))
            elif digest in self.failures:
                failures.append(DeleteFailure(digest, *self.failures[digest]))
            elif self.listed_by_an_index(repository_name, digest):
                failures.append(DeleteFailure(digest, "ImageReferencedByManifestList", "referenced by an index"))
            else:
                del images[digest]
                deleted.append(digest)
                if digest in needed:
                    self.violations.append(digest)
        self.deleted.append(deleted)
        return BatchDeleteResult(tuple(deleted), tuple(failures))

    def listed_by_an_index(self, repository: str, digest: str) -> bool:
        images = self.repositories[repository]
        return any(digest in other.child_digests for o, other in images.items() if o != digest)

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
        """Someone else deletes the image - as ECR lets them: not a manifest an index lists."""
        if not self.listed_by_an_index(repository, digest):
            self.repositories[repository].pop(digest, None)

    def digests(self, repository: str) -> set[str]:
        return set(self.repositories.get(repository, {}))


@dataclass
class InMemoryInspector:
    """Inspector's coverage of the fake registry: `covered` says whether it scans the registry at all."""

    ecr: InMemoryEcr
    covered: bool = True
    last_in_use: dict[str, datetime] = field(default_factory=dict)  # digest -> last in use (else: in use now)
    fail_with: AwsError | None = None
    calls: Counter[str] = field(default_factory=Counter)

    def covers_registry(self, account_id: str) -> bool:
        self.calls["BatchGetAccountStatus"] += 1
        return self.covered

    def images_in_use(self, repository_name: str, since: datetime) -> InUse:
        self.calls["ListCoverage"] += 2
        if self.fail_with is not None:
            raise self.fail_with
        images = self.ecr.repositories.get(repository_name, {})
        seen: dict[str, datetime | None] = {d: None for d in self.ecr.in_use if d in images}
        seen.update((d, at) for d, at in self.last_in_use.items() if d in images and at >= since)
        return InUse(available=True, last_in_use=seen)


@dataclass
class RecordingQueue:
    """A queue that keeps what it is sent (with each body's delay); `refuse` makes it refuse bodies by position."""

    bodies: list[str] = field(default_factory=list)
    delays: list[int] = field(default_factory=list)
    refuse: set[int] = field(default_factory=set)

    def send_messages(self, bodies: Sequence[str], delay_seconds: int = 0) -> SendResult:
        unsent = tuple(i for i in range(len(bodies)) if i in self.refuse)
        for i, body in enumerate(bodies):
            if i not in self.refuse:
                self.bodies.append(body)
                self.delays.append(delay_seconds)
        return SendResult(unsent, ("refused",) if unsent else ())

    def take(self) -> list[str]:
        taken, self.bodies, self.delays = self.bodies, [], []
        return taken


@dataclass
class InMemoryRuns:
    """The runs table's semantics (aws/dynamodb.py): pending units, results recorded once per unit, delete calls
    written down then confirmed once, the summary claimed with a lease and published once. `fail` makes the named
    method raise once per name listed (a ledger outage). `counters`: what the run adds up (the sweep's by default; an
    organization reconcile's runs add up theirs)."""

    clock: Callable[[], datetime] | None = None
    runs: dict[str, dict] = field(default_factory=dict)
    pending: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # run -> unit -> (repository, account)
    units: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    calls_written: dict[str, dict[str, dict]] = field(default_factory=dict)  # run -> call id -> item
    per_account: dict[str, dict[str, Counter]] = field(default_factory=dict)  # run -> account -> counters
    fail: list[str] = field(default_factory=list)
    counters: RunCounters = SWEEP_COUNTERS
    open_index: dict[str, set[str]] = field(default_factory=dict)

    def _maybe_fail(self, method: str) -> None:
        if method in self.fail:
            self.fail.remove(method)
            raise AwsError(f"{method}: the ledger is down", code="InternalServerError", transient=True)

    def start_run(self, run: RunStart) -> bool:
        self._maybe_fail("start_run")
        self.pending.setdefault(run.run_id, {}).update((u.unit_id, (u.repository, u.account)) for u in run.units)
        if run.run_id in self.runs:
            return False
        self.runs[run.run_id] = {
            "mode": str(run.mode),
            "started": run.started_at.isoformat(),
            "deadline": run.deadline.isoformat(),
            "expected": len(run.units),
            "reported": 0,
            "exempt": run.exempt,
            "in_use": run.in_use_available,
            "counts": Counter(),
            "pending_deletions": 0,
            "claimed": None,
            "published": False,
            "not_onboarded": tuple(run.not_onboarded),
            "account_names": dict(run.account_names),
        }
        return True

    def remove_units(self, run_id: str, units: Sequence[UnitRef]) -> None:
        for unit in units:
            if self.pending.get(run_id, {}).pop(unit.unit_id, None) is not None:
                self.runs[run_id]["expected"] -= 1

    def add_units(self, run_id: str, units: Sequence[UnitRef]) -> None:
        self._maybe_fail("add_units")
        for unit in units:
            if unit.unit_id not in self.pending.setdefault(run_id, {}):
                self.pending[run_id][unit.unit_id] = (unit.repository, unit.account)
                self.runs[run_id]["expected"] += 1

    def intend_deletion(self, run_id: str, call: DeletionCall) -> None:
        self._maybe_fail("intend_deletion")
        self.calls_written.setdefault(run_id, {})[call.call_id] = {"call": call, "confirmed": False}
        self.runs[run_id]["pending_deletions"] += 1

    def confirm_deletion(
        self, run_id: str, call_id: str, deleted: Sequence[PlannedDeletion], account: str = ""
    ) -> bool:
        self._maybe_fail("confirm_deletion")
        item = self.calls_written.get(run_id, {}).get(call_id)
        if item is None or item["confirmed"]:
            return False
        item["confirmed"] = True
        item["deleted"] = [d.digest for d in deleted]
        run = self.runs[run_id]
        run["pending_deletions"] -= 1
        targets = [run["counts"]]
        if account:
            targets.append(self.per_account.setdefault(run_id, {}).setdefault(account, Counter()))
        for counts in targets:
            counts["deleted"] += len(deleted)
            for storage, counter in RECLAIMED_COUNTERS.items():
                counts[counter] += sum(d.size_bytes for d in deleted if d.storage_class == storage)
        return True

    def record_unit(self, run_id: str, unit: UnitRef, counts: Mapping[str, int]) -> bool:
        self._maybe_fail("record_unit")
        if (run_id, unit.unit_id) in self.units:
            return False
        self.units[(run_id, unit.unit_id)] = dict(counts)
        run = self.runs[run_id]
        run["reported"] += 1
        run["counts"].update({name: counts.get(name, 0) for name in self.counters.unit})
        if unit.account:
            account = self.per_account.setdefault(run_id, {}).setdefault(unit.account, Counter())
            account.update({name: counts.get(name, 0) for name in self.counters.unit if counts.get(name)})
        self.pending.get(run_id, {}).pop(unit.unit_id, None)
        return True

    def _state(self, run_id: str) -> RunState:
        run = self.runs[run_id]
        return RunState(
            run_id=run_id,
            mode=run["mode"],
            started_at=run["started"],
            deadline=run["deadline"],
            expected=run["expected"],
            reported=run["reported"],
            counts={name: run["counts"].get(name, 0) for name in self.counters.names},
            exempt=run["exempt"],
            in_use_available=run["in_use"],
            pending_deletions=run["pending_deletions"],
            published=run["published"],
            not_onboarded=run["not_onboarded"],
            account_names=run["account_names"],
        )

    def run_state(self, run_id: str) -> RunState | None:
        return self._state(run_id) if run_id in self.runs else None

    def claim_summary(self, run_id: str, now: datetime, closing: bool) -> RunState | None:
        self._maybe_fail("claim_summary")
        run = self.runs.get(run_id)
        if run is None or run["published"]:
            return None
        ready = now >= datetime.fromisoformat(run["deadline"]) if closing else run["reported"] >= run["expected"]
        if not ready or (run["claimed"] is not None and run["claimed"] > now - SUMMARY_LEASE):
            return None
        run["claimed"] = now
        return self._state(run_id)

    def pending_deletions(self, run_id: str) -> list[DeletionCall]:
        return [item["call"] for item in self.calls_written.get(run_id, {}).values() if not item["confirmed"]]

    def unfinished_units(self, run_id: str) -> list[UnitRef]:
        return [UnitRef(unit, *where) for unit, where in sorted(self.pending.get(run_id, {}).items())]

    def account_totals(self, run_id: str) -> dict[str, dict[str, int]]:
        return {
            account: {name: counts.get(name, 0) for name in self.counters.names}
            for account, counts in self.per_account.get(run_id, {}).items()
        }

    def mark_published(self, run_id: str) -> None:
        self._maybe_fail("mark_published")
        self.runs[run_id]["published"] = True

    # The open-run index (an organization reconcile's runs whose summary is not out).
    def open_run(self, kind: str, run_id: str) -> None:
        self._maybe_fail("open_run")
        self.open_index.setdefault(kind, set()).add(run_id)

    def open_runs(self, kind: str) -> list[str]:
        return sorted(self.open_index.get(kind, set()))

    def close_run(self, kind: str, run_id: str) -> None:
        self.open_index.get(kind, set()).discard(run_id)

    def deleted_by_calls(self, run_id: str) -> list[str]:
        return [d for item in self.calls_written.get(run_id, {}).values() for d in item.get("deleted", [])]


assert set(DELETION_COUNTERS) <= set(COUNTERS)


@dataclass
class RecordingPublisher:
    notices: list = field(default_factory=list)
    fail_times: int = 0

    def publish(self, notice) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise AwsError("SNS: service unavailable", code="InternalError", transient=True)
        self.notices.append(notice)
