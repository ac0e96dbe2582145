"""The sweep's decisions, pure: which images stay and why, which may go, and in which order they may be deleted.

An image stays by itself when it is tagged, too young, recently pulled, archived (unless archived images are swept and
their 90-day archive minimum has passed) or ACTIVATING. Whatever an image that stays reaches - the child manifests of
an index, nested indexes' children, the referrers (signatures, SBOMs, attestations) of a subject, transitively - stays
with it: the keep-set is `ImageGraph.reachable_from` those images. Every other untagged image is a candidate. So an
untagged index goes only together with every child nobody else keeps, and a referrer goes only when its subject does.

Candidates are deleted parents first: an index before its children, a subject before its referrers (the images that
would keep a candidate are all candidates themselves, and come earlier). Images that reach each other in a cycle (an
index that is also a referrer of its own child) form one unit that is never split across delete batches; a cycle
larger than a batch stays. Right before each batch is deleted the worker re-reads its images; whatever stays then
(a tag appeared, a pull, a failed delete) protects everything it reaches that is not deleted yet (`DeletionQueue`).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import NamedTuple

from ecr_governance.images import ImageGraph, ImageRecord
from ecr_governance.lifecycle.preview import needs_manifest
from ecr_governance.sweep.settings import SweepRules

# BatchDeleteImage and DescribeImages (by imageIds) take at most 100 image ids.
MAX_BATCH = 100
# An archived image can be deleted (or restored) only after 90 days in the archive.
ARCHIVE_MINIMUM = timedelta(days=90)


class KeepReason(StrEnum):
    TAGGED = "tagged"
    INDEX_CHILD = "index child"  # a manifest of an index that stays (reachable_from's name for the edge)
    REFERRER = "referrer"  # a signature / SBOM / attestation of an image that stays
    TOO_YOUNG = "too young"  # pushed within the minimum age (or never pulled and pushed within the idle window)
    RECENTLY_PULLED = "recently pulled"
    ARCHIVED = "archived"
    ACTIVATING = "activating"
    REFERENCE_CYCLE = "reference cycle"  # images that reach each other, more than a delete batch holds
    MANIFEST_UNREAD = "manifest unread"  # its manifest was asked for and did not come back: what it names is unknown


CANDIDATE = "candidate"


class ImageDecision(NamedTuple):
    image: ImageRecord
    reason: str  # a KeepReason, or CANDIDATE
    via: str | None = None  # for an index child or a referrer: the digest of the image that keeps it

    @property
    def is_candidate(self) -> bool:
        return self.reason == CANDIDATE


class PlannedDeletion(NamedTuple):
    digest: str
    size_bytes: int
    # The candidates this one reaches directly (its children, its referrers): if it stays, they stay.
    reaches: tuple[str, ...] = ()


# Candidates deleted together: one image, or the images of one reference cycle.
DeletionUnit = tuple[PlannedDeletion, ...]


def own_reasons(images: Iterable[ImageRecord], rules: SweepRules, now: datetime) -> dict[str, KeepReason]:
    """Why each image stays by itself (not through another image); images absent from the result may go."""
    return _split_by_own_reason(images, rules, now)[0]


def _split_by_own_reason(
    images: Iterable[ImageRecord], rules: SweepRules, now: datetime
) -> tuple[dict[str, KeepReason], list[ImageRecord]]:
    """(why each image that stays by itself stays, the images that may go), in one pass."""
    young_since = now - rules.min_age
    idle_since = now - rules.min_idle
    archive_minimum_from = now - ARCHIVE_MINIMUM
    reasons: dict[str, KeepReason] = {}
    may_go: list[ImageRecord] = []
    for image in images:
        if image.tags:
            reason = KeepReason.TAGGED
        elif image.status == "ARCHIVED" and (
            not rules.sweep_archived or image.last_archived_at is None or image.last_archived_at > archive_minimum_from
        ):
            reason = KeepReason.ARCHIVED
        elif image.status not in ("ACTIVE", "ARCHIVED"):
            reason = KeepReason.ACTIVATING  # ACTIVATING, or a status this code does not know: keep
        elif image.pushed_at >= young_since:
            reason = KeepReason.TOO_YOUNG
        elif image.last_pulled_at is not None and image.last_pulled_at >= idle_since:
            reason = KeepReason.RECENTLY_PULLED
        elif image.pushed_at >= idle_since:
            reason = KeepReason.TOO_YOUNG  # never pulled: the idle window counts from the push
        else:
            may_go.append(image)
            continue
        reasons[image.digest] = reason
    return reasons, may_go


def own_reason(image: ImageRecord, rules: SweepRules, now: datetime) -> KeepReason | None:
    return own_reasons((image,), rules, now).get(image.digest)


def reclaimed_bytes(image: ImageRecord) -> int:
    """What deleting the image frees, as far as DescribeImages tells: its imageSizeInBytes - except for an index,
    whose figure is the largest of its manifests' (ECR's definition), counted when that manifest goes."""
    return 0 if image.is_index else image.size_bytes


# ---- which manifests the plan needs ----------------------------------------------------------------------------


def indexes_to_read(images: Iterable[ImageRecord]) -> list[str]:
    """First read: every index whose children are not known yet (they may have to stay with it), and every image
    whose media type DescribeImages did not give (it might be an index)."""
    return [
        image.digest
        for image in images
        if not image.child_digests and (image.is_index or image.manifest_media_type is None)
    ]


def referrer_candidates_to_read(
    images: Sequence[ImageRecord], rules: SweepRules, now: datetime, already_read: Collection[str] = ()
) -> list[str]:
    """Second read, once the indexes are known: the untagged images that could go but whose subject is unknown.

    Such an image may be a referrer (an OCI manifest's `subject`) of an image that stays; images already kept, or
    whose subject DescribeImages reports (subjectManifestDigest), need no read.
    """
    graph = ImageGraph(images)
    kept = graph.reachable_from(own_reasons(images, rules, now))
    done = set(already_read)
    return [
        image.digest
        for image in graph.images.values()
        if image.digest not in kept and image.digest not in done and needs_manifest(image)
    ]


# ---- the plan ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPlan:
    repository: str
    rules: SweepRules
    now: datetime
    images: tuple[ImageRecord, ...]  # in the order they were read
    reasons: Mapping[str, str]  # digest -> a KeepReason or CANDIDATE: every image's decision
    units: tuple[DeletionUnit, ...]  # the candidates, parents first
    reach: _Reach = field(repr=False, compare=False)

    @cached_property
    def decisions(self) -> tuple[ImageDecision, ...]:
        """Every image's decision, in reading order, with the image that keeps an index child or a referrer."""
        reasons, kept_with = self.reasons, self.reach.kept_with
        return tuple(
            ImageDecision(image, reasons[image.digest], kept_with(image.digest, reasons[image.digest]))
            for image in self.images
        )

    @cached_property
    def candidates(self) -> tuple[PlannedDeletion, ...]:
        return tuple(deletion for unit in self.units for deletion in unit)

    @property
    def candidate_bytes(self) -> int:
        return sum(deletion.size_bytes for deletion in self.candidates)

    def kept_counts(self) -> Counter[str]:
        counts = Counter(self.reasons.values())
        del counts[CANDIDATE]
        return Counter({str(reason): number for reason, number in counts.items()})

    def batches(self, size: int = MAX_BATCH) -> list[list[str]]:
        """The delete batches as planned (before any re-check): whole units, at most `size` digests each."""
        queue = DeletionQueue(self.units)
        planned = []
        while batch := queue.next_batch(size):
            planned.append([deletion.digest for deletion in batch])
            queue.settle(deletion.digest for deletion in batch)
        return planned


def plan_sweep(
    repository: str,
    images: Iterable[ImageRecord],
    rules: SweepRules,
    now: datetime,
    batch_size: int = MAX_BATCH,
    unread: Collection[str] = (),
) -> SweepPlan:
    """Decide every image of one repository. `images` must carry what the manifests say (index children, subjects);
    `unread` names images whose manifest was wanted but not read: they stay, with whatever they reach."""
    records = list(images)
    graph = ImageGraph(records)
    if len(graph.images) != len(records):
        records = unique_images(records)
        graph = ImageGraph(records)
    reasons, may_go = _split_by_own_reason(records, rules, now)
    unread_here = {digest for digest in unread if digest in graph.images and digest not in reasons}
    if unread_here:
        reasons.update(dict.fromkeys(unread_here, KeepReason.MANIFEST_UNREAD))
        may_go = [image for image in may_go if image.digest not in unread_here]
    # Only images with an edge (an index, a child, a referrer, a subject) can reach or be reached: the walks start
    # from those alone, so a registry of plain images costs one pass.
    linked = {d for i in records if i.child_digests or i.subject_digest for d in (i.digest, *i.child_digests)}
    linked.update(i.subject_digest for i in records if i.subject_digest)
    # What tagged images reach first: their children and referrers are reported as such even when they are also
    # young (the lasting reason). What they reach is closed under reachability, so the rest only adds to it.
    by_tagged = graph.reachable_from(d for d, reason in reasons.items() if reason is KeepReason.TAGGED and d in linked)
    while True:
        by_others = graph.reachable_from(d for d in reasons if d in linked and d not in by_tagged)
        candidates = {i.digest: i for i in may_go if i.digest not in by_tagged and i.digest not in by_others}
        units, oversized = _order(candidates, _candidate_edges(candidates), batch_size)
        if not oversized:
            break
        reasons.update(dict.fromkeys(oversized, KeepReason.REFERENCE_CYCLE))
        may_go = [image for image in may_go if image.digest not in reasons]
    # Every decision, by precedence (later updates win): candidate < reached from an untagged image that stays <
    # its own reason < reached from a tagged image < tagged. Reach maps hold absent digests too: leave them out.
    decided: dict[str, str] = dict.fromkeys(candidates, CANDIDATE)
    decided.update((d, how) for d, how in by_others.items() if how != "root" and d in graph.images)
    decided.update(reasons)
    decided.update((d, how) for d, how in by_tagged.items() if how != "root" and d in graph.images)
    return SweepPlan(repository, rules, now, tuple(records), decided, units, _Reach(graph, by_tagged, by_others))


@dataclass(frozen=True)
class _Reach:
    """What the plan walked, kept to say - when asked - which image keeps an index child or a referrer."""

    graph: ImageGraph
    by_tagged: Mapping[str, str]
    by_others: Mapping[str, str]

    def kept_with(self, digest: str, reason: str) -> str | None:
        if reason not in (KeepReason.INDEX_CHILD, KeepReason.REFERRER):
            return None
        reach = self.by_tagged if self.by_tagged.get(digest) == reason else self.by_others
        if reason == KeepReason.INDEX_CHILD:
            return next((parent for parent in self.graph.parents_of(digest) if parent in reach), None)
        subject = self.graph.images[digest].subject_digest
        return subject if subject in reach else None


def unique_images(images: Iterable[ImageRecord]) -> list[ImageRecord]:
    """One record per digest; should a registry list a digest twice, the tags of every listing count."""
    by_digest: dict[str, ImageRecord] = {}
    for image in images:
        seen = by_digest.get(image.digest)
        if seen is not None and set(seen.tags) - set(image.tags):
            image = replace(image, tags=tuple(dict.fromkeys(seen.tags + image.tags)))
        by_digest[image.digest] = image
    return list(by_digest.values())


def _candidate_edges(candidates: Mapping[str, ImageRecord]) -> dict[str, tuple[str, ...]]:
    """Candidate -> the candidates it reaches directly (its children, its referrers). A path between two candidates
    never passes a kept image (whatever a kept image reaches is kept), so these edges are all the ordering needs."""
    edges: dict[str, list[str]] = {}
    for digest, image in candidates.items():
        for child in image.child_digests:
            if child in candidates:
                edges.setdefault(digest, []).append(child)
        subject = image.subject_digest
        if subject is not None and subject in candidates:
            edges.setdefault(subject, []).append(digest)
    return {digest: tuple(dict.fromkeys(targets)) for digest, targets in edges.items()}


def _order(
    candidates: Mapping[str, ImageRecord], edges: Mapping[str, tuple[str, ...]], batch_size: int
) -> tuple[tuple[DeletionUnit, ...], list[str]]:
    """Units parents first, the images of each connected group together (largest group first, so a worker that runs
    out of time hands whole groups on); lone images after them, in reading order. Also the members of cycles too
    large for one batch."""
    targets = {target for reached in edges.values() for target in reached}
    linked = [digest for digest in candidates if digest in edges or digest in targets]
    group_of = _group_of(linked, edges)
    # One topological order of every linked candidate is one of each group: Kahn's for what is acyclic (all of it
    # in practice), then Tarjan's for what lies in or below a cycle (its cycles become single units).
    by_group: dict[str, list[list[str]]] = {}
    for component in _parents_first(linked, edges):
        by_group.setdefault(group_of[component[0]], []).append(component)

    def deletion(digest: str) -> PlannedDeletion:
        return PlannedDeletion(digest, reclaimed_bytes(candidates[digest]), edges.get(digest, ()))

    units: list[DeletionUnit] = []
    oversized: list[str] = []
    for components in sorted(by_group.values(), key=lambda group: sum(map(len, group)), reverse=True):
        for component in components:
            if len(component) > batch_size:
                oversized.extend(component)
            units.append(tuple(deletion(digest) for digest in _indexes_first(component, candidates)))
    # Lone images (nearly all of them): built without the helper's lookups - a 100,000-image plan feels it.
    units.extend((PlannedDeletion(d, reclaimed_bytes(image)),) for d, image in candidates.items() if d not in group_of)
    return tuple(units), oversized


def _parents_first(nodes: list[str], edges: Mapping[str, tuple[str, ...]]) -> list[list[str]]:
    """`nodes` in units, each after every unit that reaches it."""
    incoming = dict.fromkeys(nodes, 0)
    for reached in edges.values():
        for target in reached:
            incoming[target] += 1
    ready = [node for node in reversed(nodes) if not incoming[node]]
    ordered: list[list[str]] = []
    while ready:
        node = ready.pop()
        ordered.append([node])
        for target in edges.get(node, ()):
            incoming[target] -= 1
            if not incoming[target]:
                ready.append(target)
    if len(ordered) < len(nodes):  # cycles, and what only they reach
        cyclic = [node for node in nodes if incoming[node]]
        ordered.extend(reversed(_strongly_connected(cyclic, edges)))  # Tarjan yields sinks first
    return ordered


def _group_of(nodes: Iterable[str], edges: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Each node's weakly connected group, named by one of its members (union-find)."""
    parent = {node: node for node in nodes}

    def find(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for source, reached in edges.items():
        for target in reached:
            parent[find(target)] = find(source)
    return {node: find(node) for node in parent}


def _indexes_first(component: list[str], candidates: Mapping[str, ImageRecord]) -> list[str]:
    """A cycle's images in an order ECR can delete them in one call: an index before the manifests it lists."""
    if len(component) == 1:
        return component
    parents = {d: [p for p in component if d in candidates[p].child_digests] for d in component}
    ordered: list[str] = []
    remaining = list(component)
    while remaining:
        ready = [d for d in remaining if all(p in ordered for p in parents[d])] or remaining[:1]
        ordered.extend(ready)
        remaining = [d for d in remaining if d not in ready]
    return ordered


def _strongly_connected(nodes: Sequence[str], edges: Mapping[str, tuple[str, ...]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the strongly connected components of `nodes`, sinks first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in nodes:
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work: list[tuple[str, Iterator[str]]] = [(start, iter(edges.get(start, ())))]
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges.get(successor, ()))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components


# ---- deleting in order ------------------------------------------------------------------------------------------


class DeletionQueue:
    """The candidates not settled yet, in order. Batches never split a unit; an image that stays (`protect`) settles
    every unsettled candidate it reaches as staying too, wherever it is in the queue - in the batch being deleted
    included, so call `protect` before deleting a batch's remaining images."""

    def __init__(self, units: Iterable[DeletionUnit]):
        self._units: deque[DeletionUnit] = deque(units)
        self._deletions: dict[str, PlannedDeletion] = {d.digest: d for unit in self._units for d in unit}
        self._unsettled: set[str] = set(self._deletions)

    def __len__(self) -> int:
        return len(self._unsettled)

    def is_unsettled(self, digest: str) -> bool:
        return digest in self._unsettled

    def next_batch(self, size: int = MAX_BATCH) -> list[PlannedDeletion]:
        """The next whole units with unsettled images, at most `size` of them (a unit larger than `size` alone)."""
        batch: list[PlannedDeletion] = []
        while self._units:
            members = [d for d in self._units[0] if d.digest in self._unsettled]
            if batch and len(batch) + len(members) > size:
                break
            self._units.popleft()
            batch.extend(members)
        return batch

    def settle(self, digests: Iterable[str]) -> None:
        self._unsettled.difference_update(digests)

    def protect(self, staying: Iterable[str]) -> dict[str, str]:
        """Settle what the staying images reach, transitively, as staying: unsettled digest -> the staying image."""
        protected: dict[str, str] = {}
        for root in staying:
            self._unsettled.discard(root)
            pending = list(self._reaches(root))
            while pending:
                digest = pending.pop()
                if digest in self._unsettled:
                    self._unsettled.discard(digest)
                    protected[digest] = root
                    pending.extend(self._reaches(digest))
        return protected

    def _reaches(self, digest: str) -> tuple[str, ...]:
        deletion = self._deletions.get(digest)
        return deletion.reaches if deletion else ()

    def deletion(self, digest: str) -> PlannedDeletion:
        return self._deletions[digest]

    def remaining_units(self) -> list[DeletionUnit]:
        """The units not handed out yet, with their unsettled images only (reaches trimmed to those)."""
        remaining = []
        for unit in self._units:
            members = tuple(
                PlannedDeletion(d.digest, d.size_bytes, tuple(r for r in d.reaches if r in self._unsettled))
                for d in unit
                if d.digest in self._unsettled
            )
            if members:
                remaining.append(members)
        return remaining


def connected_parts(units: Sequence[DeletionUnit]) -> list[list[DeletionUnit]]:
    """The units grouped so that images which reach each other share a group: groups can be deleted independently
    (in parallel), each keeping its order, because nothing in one group can keep anything in another."""
    group_of: dict[str, int] = {}
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for position, unit in enumerate(units):
        parent.append(position)
        for deletion in unit:
            group_of[deletion.digest] = position
    for position, unit in enumerate(units):
        for deletion in unit:
            for target in deletion.reaches:
                if target in group_of:
                    parent[find(group_of[target])] = find(position)
    grouped: dict[int, list[DeletionUnit]] = {}
    for position, unit in enumerate(units):
        grouped.setdefault(find(position), []).append(unit)
    return list(grouped.values())
