"""Lifecycle preview: read a repository's images with what their manifests say, evaluate, and shape the result like
ECR's GetLifecyclePolicyPreview (plus bytes, and the referrers that go with their subject).

DescribeImages does not say which manifests an index references, nor (on every registry) which image a referrer
refers to; both are in the manifests. Without them a preview would expire the untagged platform manifests of a tagged
multi-arch image, which ECR never does while the index stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ecr_governance.errors import GovernanceError
from ecr_governance.images import (
    ImageRecord,
    ManifestRead,
    complete_with_manifests,
    iso8601,
    manifests_to_read,
)
from ecr_governance.lifecycle.evaluate import LifecycleDecision, evaluate
from ecr_governance.lifecycle.policy import LifecyclePolicy


class ImageSource(Protocol):
    """What a live preview needs from a registry (the ECR adapter serves it)."""

    def describe_images(self, repository_name: str, include_archived: bool = False) -> Iterable[ImageRecord]: ...

    def get_manifests(self, repository_name: str, digests: Iterable[str]) -> ManifestRead: ...


def read_repository_images(source: ImageSource, repository_name: str) -> list[ImageRecord]:
    """Every image of the repository (archived ones included), with index children and referrer subjects. A manifest
    that could not be read leaves its image without them: the preview says so (UnreadManifests)."""
    images = list(source.describe_images(repository_name, include_archived=True))
    wanted = manifests_to_read(images, may_go=lambda image: not image.tags)
    read = source.get_manifests(repository_name, wanted) if wanted else ManifestRead()
    if read.unread:
        raise UnreadManifests(repository_name, read.unread)
    return complete_with_manifests(images, read.manifests)


class UnreadManifests(GovernanceError):
    """Manifests the preview needs could not be read: an index's children, a referrer's subject are unknown, so the
    preview would show them expiring where ECR keeps them. Names each digest and why."""

    def __init__(self, repository_name: str, unread: Mapping[str, str]):
        shown = "; ".join(f"{digest}: {why}" for digest, why in list(unread.items())[:5])
        more = f" (and {len(unread) - 5} more)" if len(unread) > 5 else ""
        super().__init__(f"{repository_name}: {len(unread)} manifest(s) could not be read: {shown}{more}")
        self.unread = dict(unread)


@dataclass(frozen=True)
class RepositoryPreview:
    repository_name: str | None
    images: tuple[ImageRecord, ...]
    decisions: tuple[LifecycleDecision, ...]

    def bytes_for(self, action: str) -> int:
        return sum(d.image.size_bytes for d in self.decisions if d.action == action)

    def count_for(self, action: str) -> int:
        return sum(1 for d in self.decisions if d.action == action)


def preview_repository(
    policy: LifecyclePolicy, repository_name: str | None, images: Sequence[ImageRecord], now: datetime
) -> RepositoryPreview:
    return RepositoryPreview(repository_name, tuple(images), tuple(evaluate(policy, images, now)))


def preview_result(decisions: Iterable[LifecycleDecision], images: Iterable[ImageRecord]) -> dict[str, Any]:
    """The decisions shaped like ECR's GetLifecyclePolicyPreview output (status COMPLETE).

    Beyond ECR's fields, `summary` carries `transitioningImageTotalCount` (one number), the evaluated image count and
    the bytes each action affects: the blast radius in storage, not just in images. A referrer expiring because its
    subject does carries `expiresWithSubject`.
    """
    ordered = sorted(decisions, key=lambda d: (d.image.pushed_at, d.image.digest))
    expiring = [d for d in ordered if d.action == "expire"]
    transitioning = [d for d in ordered if d.action == "transition"]
    results = []
    for decision in ordered:
        action: dict[str, Any] = {"type": decision.action.upper()}
        if decision.target_storage_class:
            action["targetStorageClass"] = decision.target_storage_class.upper()
        result = {
            "imageDigest": decision.image.digest,
            "imageTags": list(decision.image.tags),
            "imagePushedAt": iso8601(decision.image.pushed_at)
            if decision.image.pushed_at
            else None,  # evaluate() needs it
            "action": action,
            "appliedRulePriority": decision.rule_priority,
            "storageClass": (decision.image.storage_class or "standard").upper(),
        }
        if decision.with_subject:
            result["expiresWithSubject"] = decision.with_subject
        results.append(result)
    transitioning_by_target: dict[str, int] = {}
    for decision in transitioning:
        target = (decision.target_storage_class or "archive").upper()
        transitioning_by_target[target] = transitioning_by_target.get(target, 0) + 1
    return {
        "status": "COMPLETE",
        "previewResults": results,
        "summary": {
            "expiringImageTotalCount": len(expiring),
            "transitioningImageTotalCount": len(transitioning),
            "transitioningImageTotalCounts": [
                {"targetStorageClass": target, "imageTotalCount": count}
                for target, count in sorted(transitioning_by_target.items())
            ],
            "evaluatedImageTotalCount": len({image.digest for image in images}),
            "expiringImageTotalBytes": sum(d.image.size_bytes for d in expiring),
            "transitioningImageTotalBytes": sum(d.image.size_bytes for d in transitioning),
        },
    }
