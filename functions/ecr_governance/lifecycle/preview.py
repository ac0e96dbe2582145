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

from ecr_governance.images import ImageRecord, Manifest, iso8601, with_manifest
from ecr_governance.lifecycle.evaluate import LifecycleDecision, evaluate
from ecr_governance.lifecycle.policy import LifecyclePolicy


class ImageSource(Protocol):
    """What a live preview needs from a registry (the ECR adapter serves it)."""

    def describe_images(self, repository_name: str, include_archived: bool = False) -> Iterable[ImageRecord]: ...

    def get_manifests(self, repository_name: str, digests: Iterable[str]) -> Mapping[str, Manifest]: ...


def needs_manifest(image: ImageRecord) -> bool:
    """Whose manifest the graph needs: indexes (their children) and untagged images whose subject is not known yet
    (OCI 1.1 referrers are pushed untagged; a registry may not report subjectManifestDigest)."""
    return (image.is_index and not image.child_digests) or (not image.tags and image.subject_digest is None)


def complete_with_manifests(images: Sequence[ImageRecord], manifests: Mapping[str, Manifest]) -> list[ImageRecord]:
    return [with_manifest(image, manifests[image.digest]) if image.digest in manifests else image for image in images]


def read_repository_images(source: ImageSource, repository_name: str) -> list[ImageRecord]:
    """Every image of the repository (archived ones included), with index children and referrer subjects."""
    images = list(source.describe_images(repository_name, include_archived=True))
    wanted = [image.digest for image in images if needs_manifest(image)]
    manifests = source.get_manifests(repository_name, wanted) if wanted else {}
    return complete_with_manifests(images, manifests)


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
            "imagePushedAt": iso8601(decision.image.pushed_at),
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
