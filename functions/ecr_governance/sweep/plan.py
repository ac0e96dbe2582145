"""The sweep's decisions, pure: which images stay and why, which may go, and which of them may be deleted next.

An image stays by itself when it is tagged, of unknown age, too young, recently pulled, in use (Amazon Inspector saw
it running), archived (unless archived images are swept and their 90-day archive minimum has passed), ACTIVATING or
of a status this code does not know, or when an earlier delete of it failed. Whatever an image that stays reaches -
the child manifests of an index, nested indexes' children, the referrers (signatures, SBOMs, attestations) of a
subject, transitively - stays with it. Every other untagged image is a candidate. An image whose manifest was wanted
and could not be read might name anything: then nothing untagged in the repository is deleted (`manifest unread`).

Deletion follows the graph: a candidate goes in a later BatchDeleteImage call than every candidate it is reachable
from (index before child, subject before referrer), and only once each of those is confirmed deleted; a candidate
reached from one that stayed stays too. Images that reach each other in a cycle (impossible with content-addressed
digests, possible in a registry's answers) can never satisfy that order: they stay (`reference cycle`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import NamedTuple

from ecr_governance.images import ImageGraph, ImageRecord
from ecr_governance.sweep.settings import SweepRules

# BatchDeleteImage and DescribeImages (by imageIds) take at most 100 image ids.
MAX_BATCH = 100
# An archived image can be deleted (or restored) only after 90 days in the archive.
ARCHIVE_MINIMUM = timedelta(days=90)


class KeepReason(StrEnum):
    TAGGED = "tagged"
    INDEX_CHILD = "index child"  # a manifest of an index that stays (reachable_from's name for the edge)
    REFERRER = "referrer"  # a signature / SBOM / attestation of an image that stays
    UNKNOWN_AGE = "unknown age"  # DescribeImages gave no imagePushedAt
    TOO_YOUNG = "too young"  # pushed within the minimum age (or never pulled and pushed within the idle window)
    RECENTLY_PULLED = "recently pulled"
    IN_USE = "in use"  # Amazon Inspector saw it in an ECS task or EKS pod within the idle window
    PULL_THROUGH_CACHE = "pull-through cache"  # deployed by digest; without Inspector's word, in use
    ARCHIVED = "archived"
    ACTIVATING = "activating"  # or a status this code does not know
    DELETE_FAILED = "delete failed"  # an earlier delete call of this sweep did not delete it
    NOT_PLANNED = "not planned"  # qualifies now but was not a candidate when this sweep planned: next run
    REFERENCE_CYCLE = "reference cycle"
    MANIFEST_UNREAD = "manifest unread"  # some manifest the decision needs could not be read: nothing untagged goes


CANDIDATE = "candidate"
# The reasons an image stays through another image (an edge of the graph), not by itself.
REACHED = frozenset({KeepReason.INDEX_CHILD, KeepReason.REFERRER})


class ImageDecision(NamedTuple):
    image: ImageRecord
    reason: str  # a KeepReason, or CANDIDATE
    via: str | None = None  # for an index child or a referrer: the digest of the image that keeps it


class PlannedDeletion(NamedTuple):
    digest: str
    size_bytes: int
    storage_class: str  # standard | archive: what deleting it saves is priced per class


@dataclass(frozen=True)
class InUse:
    """Amazon Inspector's word on which images run (ECS tasks, EKS pods): digest -> when last seen in use (None: in
    use now, no time given). `available` is False when Inspector does not cover the registry's images.
    `cache_repository`: a pull-through cache's repository, whose images workloads pull by digest - without
    Inspector's word, every one of them is taken to be in use."""

    available: bool
    last_in_use: Mapping[str, datetime | None]
    cache_repository: bool = False

    def since(self, digest: str, moment: datetime) -> bool:
        if digest not in self.last_in_use:
            return False
        seen = self.last_in_use[digest]
        return seen is None or seen >= moment


NOT_AVAILABLE = InUse(available=False, last_in_use={})


def own_reasons(
    images: Iterable[ImageRecord], rules: SweepRules, now: datetime, in_use: InUse = NOT_AVAILABLE
) -> dict[str, KeepReason]:
    """Why each image stays by itself (not through another image); images absent from the result may go."""
    limits = _Limits(now - rules.min_age, now - rules.min_idle, now - ARCHIVE_MINIMUM, rules.sweep_archived)
    reasons: dict[str, KeepReason] = {}
    for image in images:
        reason = _own_reason(image, limits, in_use)
        if reason is not None:
            reasons[image.digest] = reason
    return reasons


class _Limits(NamedTuple):
    young_since: datetime
    idle_since: datetime
    archived_long_enough_before: datetime
    sweep_archived: bool


def _own_reason(image: ImageRecord, limits: _Limits, in_use: InUse) -> KeepReason | None:
    if image.tags:
        return KeepReason.TAGGED
    return _status_reason(image, limits) or _age_reason(image, limits) or _use_reason(image, limits, in_use)


def _status_reason(image: ImageRecord, limits: _Limits) -> KeepReason | None:
    """Archived images stay until the sweep takes them and their 90-day minimum passed; ACTIVATING ones always."""
    if image.status == "ARCHIVED":
        archived = image.last_archived_at
        if not limits.sweep_archived or archived is None or archived > limits.archived_long_enough_before:
            return KeepReason.ARCHIVED
        return None
    return KeepReason.ACTIVATING if image.status != "ACTIVE" else None


def _age_reason(image: ImageRecord, limits: _Limits) -> KeepReason | None:
    if image.pushed_at is None:
        return KeepReason.UNKNOWN_AGE
    if image.pushed_at >= limits.young_since:
        return KeepReason.TOO_YOUNG
    if image.last_pulled_at is not None and image.last_pulled_at >= limits.idle_since:
        return KeepReason.RECENTLY_PULLED
    if image.last_pulled_at is None and image.pushed_at >= limits.idle_since:
        return KeepReason.TOO_YOUNG  # never pulled: the idle window counts from the push
    return None


def _use_reason(image: ImageRecord, limits: _Limits, in_use: InUse) -> KeepReason | None:
    if in_use.since(image.digest, limits.idle_since):
        return KeepReason.IN_USE
    if in_use.cache_repository and not in_use.available:
        return KeepReason.PULL_THROUGH_CACHE
    return None


def reclaimed_bytes(image: ImageRecord) -> int:
    """What deleting the image frees, as far as DescribeImages tells: its imageSizeInBytes - except for an index,
    whose figure is the largest of its manifests' (ECR's definition), counted when that manifest goes."""
    return 0 if image.is_index else image.size_bytes


# ---- the plan ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPlan:
    repository: str
    rules: SweepRules
    now: datetime
    images: tuple[ImageRecord, ...]  # in the order they were read
    reasons: Mapping[str, str]  # digest -> a KeepReason or CANDIDATE: every image's decision
    graph: ImageGraph
    kept_via: Mapping[str, str]  # index child / referrer -> the image that keeps it
    unread: Mapping[str, str]  # digest -> why its manifest could not be read

    @cached_property
    def decisions(self) -> tuple[ImageDecision, ...]:
        return tuple(
            ImageDecision(image, self.reasons[image.digest], self.kept_via.get(image.digest)) for image in self.images
        )

    @cached_property
    def candidates(self) -> tuple[PlannedDeletion, ...]:
        """Every candidate, in reading order."""
        return tuple(
            PlannedDeletion(image.digest, reclaimed_bytes(image), image.storage_class or "standard")
            for image in self.images
            if self.reasons[image.digest] == CANDIDATE
        )

    @property
    def candidate_bytes(self) -> int:
        return sum(deletion.size_bytes for deletion in self.candidates)

    def is_candidate(self, digest: str) -> bool:
        return self.reasons.get(digest) == CANDIDATE

    def kept_counts(self) -> Counter[str]:
        counts = Counter(self.reasons.values())
        del counts[CANDIDATE]
        return Counter({str(reason): number for reason, number in counts.items()})

    def parents(self, digest: str) -> tuple[str, ...]:
        """The present images `digest` is reachable from in one step: the indexes listing it, and its subject."""
        subject = self.graph.images[digest].subject_digest if digest in self.graph.images else None
        parents = self.graph.parents_of(digest)
        return (*parents, subject) if subject is not None and subject in self.graph.images else parents

    def deletable(self, digest: str) -> bool:
        """A candidate that no present image reaches: every image it was reachable from is gone."""
        return self.is_candidate(digest) and not self.parents(digest)

    @cached_property
    def _heights(self) -> dict[str, int]:
        """Per candidate, the longest chain of candidates below it: delete the tallest first, and the graph's depth
        costs as few extra delete calls as it can."""
        below: dict[str, list[str]] = {}
        for deletion in self.candidates:
            for parent in self.parents(deletion.digest):
                below.setdefault(parent, []).append(deletion.digest)
        heights: dict[str, int] = {}
        for deletion in self.candidates:
            pending = [deletion.digest]
            while pending:  # iterative post-order: chains can be long
                digest = pending[-1]
                if digest in heights:
                    pending.pop()
                    continue
                unknown = [child for child in below.get(digest, ()) if child not in heights]
                if unknown:
                    pending.extend(unknown)
                else:
                    heights[digest] = 1 + max((heights[c] for c in below.get(digest, ())), default=-1)
                    pending.pop()
        return heights

    def ready(self, allowed: Collection[str], deleted: Collection[str], size: int = MAX_BATCH) -> list[PlannedDeletion]:
        """The next delete call: up to `size` candidates in `allowed` whose candidate parents are all in `deleted`
        (confirmed by an earlier call's response), tallest first, then in reading order."""
        ready = [
            deletion
            for deletion in self.candidates
            if deletion.digest in allowed
            and deletion.digest not in deleted
            and all(parent in deleted for parent in self.parents(deletion.digest))
        ]
        heights = self._heights
        ready.sort(key=lambda deletion: -heights[deletion.digest])
        return ready[:size]


def plan_sweep(  # noqa: PLR0913 - the pure plan's inputs; the optional ones are keyword-only
    repository: str,
    images: Iterable[ImageRecord],
    rules: SweepRules,
    now: datetime,
    *,
    unread: Mapping[str, str] | None = None,
    in_use: InUse = NOT_AVAILABLE,
    failed: Collection[str] = (),
    only: Collection[str] | None = None,
) -> SweepPlan:
    """Decide every image of one repository. `images` must carry what the manifests say (index children, subjects);
    `unread` names images whose manifest was wanted but not read (nothing untagged goes while one is), `failed` the
    images an earlier delete call of this sweep did not delete, and `only` (when given) the images this sweep planned
    to delete: any other stays. What stays keeps what it reaches."""
    records = unique_images(images)
    graph = ImageGraph(records)
    reasons: dict[str, str] = dict(own_reasons(records, rules, now, in_use))
    reasons.update((d, KeepReason.DELETE_FAILED) for d in failed if d in graph.images and d not in reasons)
    if only is not None:
        reasons.update((d, KeepReason.NOT_PLANNED) for d in graph.images if d not in reasons and d not in only)
    unread_here = {d: why for d, why in (unread or {}).items() if d in graph.images}
    kept_via: dict[str, str] = {}
    if unread_here:
        reasons.update((d, KeepReason.MANIFEST_UNREAD) for d in graph.images if d not in reasons)
    else:
        _keep_what_stays_reaches(graph, reasons, kept_via)
        _keep_cycles(graph, reasons, kept_via)
    return SweepPlan(repository, rules, now, tuple(records), reasons, graph, kept_via, unread_here)


def _keep_what_stays_reaches(graph: ImageGraph, reasons: dict[str, str], kept_via: dict[str, str]) -> None:
    """Mark what the images that stay reach, tagged images first: their children and referrers are reported as
    such even when they are also young (the lasting reason); the rest keep their own reason. Every other image is a
    candidate."""
    by_tagged = _reached_from(graph, [d for d, reason in reasons.items() if reason == KeepReason.TAGGED])
    by_others = _reached_from(graph, [d for d in reasons if d not in by_tagged])
    for reached, overrides in ((by_tagged, True), (by_others, False)):
        for digest, how in reached.items():
            if how not in REACHED or digest not in graph.images or reasons.get(digest) == KeepReason.TAGGED:
                continue
            if overrides or digest not in reasons:
                reasons[digest] = how
                kept_via[digest] = _keeper(graph, digest, how, reasons)
    for digest in graph.images:
        reasons.setdefault(digest, CANDIDATE)


def _reached_from(graph: ImageGraph, roots: Sequence[str]) -> Mapping[str, str]:
    linked = graph.linked
    return graph.reachable_from(d for d in roots if d in linked)


def _keeper(graph: ImageGraph, digest: str, how: str, reasons: Mapping[str, str]) -> str:
    if how == KeepReason.INDEX_CHILD:
        return next((p for p in graph.parents_of(digest) if p in reasons), graph.parents_of(digest)[0])
    return graph.images[digest].subject_digest or ""


def _keep_cycles(graph: ImageGraph, reasons: dict[str, str], kept_via: dict[str, str]) -> None:
    """Candidates that reach themselves can never go after every image they are reachable from: they stay, and
    so does everything they reach."""
    # A candidate on a cycle has an edge out to another: only those need the walk.
    linked = graph.linked
    candidates = [d for d, reason in reasons.items() if reason == CANDIDATE and d in linked]
    cyclic = _on_cycles(graph, candidates)
    if not cyclic:
        return
    for digest in cyclic:
        reasons[digest] = KeepReason.REFERENCE_CYCLE
    for digest, how in graph.reachable_from(cyclic).items():
        if how in REACHED and reasons.get(digest) == CANDIDATE:
            reasons[digest] = how
            kept_via[digest] = _keeper(graph, digest, how, reasons)


def _on_cycles(graph: ImageGraph, nodes: Sequence[str]) -> list[str]:
    """The nodes that lie on a cycle of candidate edges (Kahn's algorithm: what cannot be peeled off)."""
    members = set(nodes)
    edges = {d: [n for n in (*graph.children_of(d), *graph.referrers_of(d)) if n in members] for d in nodes}
    incoming = Counter(target for targets in edges.values() for target in targets)
    ready = [d for d in nodes if not incoming[d]]
    while ready:
        for target in edges[ready.pop()]:
            incoming[target] -= 1
            if not incoming[target]:
                ready.append(target)
    # What remains has incoming edges from the cycles or lies on them; keep only what lies on one (reaches itself).
    remaining = {d for d in nodes if incoming[d] > 0}
    return [d for d in nodes if d in remaining and d in graph.reachable_from(edges[d])]


def unique_images(images: Iterable[ImageRecord]) -> list[ImageRecord]:
    """One record per digest; should a registry list a digest twice, the tags of every listing count."""
    by_digest: dict[str, ImageRecord] = {}
    for image in images:
        seen = by_digest.get(image.digest)
        if seen is not None and set(seen.tags) - set(image.tags):
            image = replace(image, tags=tuple(dict.fromkeys(seen.tags + image.tags)))
        by_digest[image.digest] = image
    return list(by_digest.values())
