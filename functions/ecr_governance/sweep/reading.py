"""Reading one repository for the sweep: every image, and the manifests a decision needs - remembered by digest.

A digest names its content, so a manifest once read never changes: a re-read right before a delete call lists the
repository again (one DescribeImages page per 1,000 images: tags, pulls, statuses, pushes and deletions since) and
reads only the manifests of images it has not seen. Images pushed meanwhile are read in up to REREAD_ROUNDS rounds,
each ending with a fresh listing, so the last call before a delete is a listing whenever the registry lets it settle.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from ecr_governance.images import (
    ImageRecord,
    Manifest,
    ManifestRead,
    complete_with_manifests,
    manifests_to_read,
)
from ecr_governance.sweep.plan import NOT_AVAILABLE, InUse, plan_sweep, unique_images
from ecr_governance.sweep.ports import SweepRegistry
from ecr_governance.sweep.settings import SweepRules

REREAD_ROUNDS = 3
IMAGES_PER_PAGE = 1000  # DescribeImages' largest page: a longer listing takes several calls


@dataclass(frozen=True)
class RepositoryView:
    """One read of a repository: its images completed with their manifests, and the manifests that could not be read
    (digest -> why). `pending` names images listed last whose manifests were not read yet (a busy repository)."""

    images: list[ImageRecord]
    unread: dict[str, str]
    pending: frozenset[str] = field(default=frozenset())


class RepositoryReader:
    def __init__(self, registry: SweepRegistry, repository: str, rules: SweepRules, in_use: InUse = NOT_AVAILABLE):
        self._registry = registry
        self._repository = repository
        self._rules = rules
        self._in_use = in_use
        self._manifests: dict[str, Manifest] = {}
        self._unread: dict[str, str] = {}
        self._gone: set[str] = set()  # listed, then gone by the time its manifest was asked for

    @property
    def repository(self) -> str:
        return self._repository

    page_size = IMAGES_PER_PAGE

    def read(self, now: datetime, only: Collection[str] | None = None, *, settle: bool = False) -> RepositoryView:
        """List the repository and read the manifests the decision needs (`only`: the images this sweep may delete).
        With `settle` (right before a delete call) the read ends on a listing: while that listing shows images whose
        manifests are needed, they are read and the repository listed again, up to REREAD_ROUNDS times."""
        images = self._listing()
        for _ in range(REREAD_ROUNDS if settle else 1):
            if not self._read_needed(images, now, only):
                return self._view(images)
            if not settle:
                return self._view(images)
            images = self._listing()
        return self._view(images, pending=self._needed(images, now, only, read=False))

    def _listing(self) -> list[ImageRecord]:
        self._gone.clear()
        return unique_images(self._registry.describe_images(self._repository, include_archived=True))

    def _read_needed(self, images: list[ImageRecord], now: datetime, only: Collection[str] | None) -> bool:
        return bool(self._needed(images, now, only, read=True))

    def _needed(
        self, images: list[ImageRecord], now: datetime, only: Collection[str] | None, *, read: bool
    ) -> list[str]:
        """First the manifests of indexes and images of unknown media type (their children decide what stays), then
        those of the images that could go whose subject is unknown (they may be referrers of something that stays).
        With `read`, each group is read as it is found; else only named."""
        done = self._manifests.keys() | self._unread.keys()
        first = manifests_to_read(images, may_go=lambda image: False, already_read=done)
        if first and not read:
            return first
        if first:
            self._read_manifests(first)
        if only is not None:  # a re-read: whatever may go was a candidate of the first read, its manifest known
            return first
        completed = complete_with_manifests(self._present(images), self._manifests)
        provisional = plan_sweep(self._repository, completed, self._rules, now, in_use=self._in_use, only=only)
        done = self._manifests.keys() | self._unread.keys()
        second = manifests_to_read(completed, may_go=lambda i: provisional.is_candidate(i.digest), already_read=done)
        if second and read:
            self._read_manifests(second)
        return first + second

    def _read_manifests(self, digests: list[str]) -> None:
        read: ManifestRead = self._registry.get_manifests(self._repository, digests)
        self._manifests.update(read.manifests)
        self._unread.update(read.unread)
        self._gone.update(read.gone)
        for digest in read.manifests:
            self._unread.pop(digest, None)

    def _present(self, images: list[ImageRecord]) -> list[ImageRecord]:
        return [image for image in images if image.digest not in self._gone]

    def _view(self, images: list[ImageRecord], pending: Collection[str] = ()) -> RepositoryView:
        present = self._present(images)
        digests = {image.digest for image in present}
        return RepositoryView(
            images=complete_with_manifests(present, self._manifests),
            unread={d: why for d, why in self._unread.items() if d in digests},
            pending=frozenset(pending),
        )
