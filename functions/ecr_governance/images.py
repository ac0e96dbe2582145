"""Image records and the graph between them: index -> child manifests, subject <- referrers.

ECR's DescribeImages says what each image is (tags, push and pull times, status, media types, and for a referrer
`subjectManifestDigest`) but not which manifests an index references: that is in the index manifest itself, read with
BatchGetImage. The lifecycle preview (an index keeps its children) and the sweep (nothing a tagged image reaches is
deleted) share this one model of the graph.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeIs

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
# What BatchGetImage is asked to return: without the index types ECR would refuse (or convert) a multi-arch index.
ACCEPTED_MANIFEST_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
IMAGE_STATUSES = ("ACTIVE", "ARCHIVED", "ACTIVATING")
STORAGE_CLASS_BY_IMAGE_STATUS = {"ACTIVE": "standard", "ARCHIVED": "archive"}
DIGEST_MAX_LENGTH = 256
MAX_STATUS_LENGTH = 32


class ImageDetailError(ValueError):
    """An image detail or manifest without the fields the code needs, or with unreadable values; names the field."""


@dataclass(frozen=True)
class ImageRecord:
    digest: str
    pushed_at: datetime | None  # None: ECR's detail did not say (its age is unknown: the sweep keeps it)
    tags: tuple[str, ...] = ()
    last_pulled_at: datetime | None = None
    last_activated_at: datetime | None = None
    last_archived_at: datetime | None = None
    status: str = "ACTIVE"  # ACTIVE | ARCHIVED | ACTIVATING, or a status newer than this code (kept by the sweep)
    size_bytes: int = 0
    manifest_media_type: str | None = None
    artifact_media_type: str | None = None
    child_digests: tuple[str, ...] = ()  # for an index: the manifests it references
    subject_digest: str | None = None  # for a referrer (signature, SBOM, attestation): the image it refers to
    repository_name: str | None = None

    def __post_init__(self) -> None:
        # Tuples keep records hashable and comparable when callers pass lists.
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "child_digests", tuple(self.child_digests))
        if any("\n" in tag for tag in self.tags):
            raise ImageDetailError(f"image {self.digest}: a tag cannot contain a line break")

    @property
    def storage_class(self) -> str | None:
        return STORAGE_CLASS_BY_IMAGE_STATUS.get(self.status)

    @property
    def is_index(self) -> bool:
        return bool(self.child_digests) or self.manifest_media_type in INDEX_MEDIA_TYPES

    @property
    def is_tagged(self) -> bool:
        return bool(self.tags)


# ---- reading image details ------------------------------------------------------------------------------------


def parse_timestamp(value: Any, field_name: str = "timestamp") -> datetime:
    """A timezone-aware UTC datetime from a datetime (naive = UTC), an ISO-8601 string or epoch seconds.

    Anything a datetime cannot hold (NaN, infinities, years outside 1-9999 once in UTC) is an ImageDetailError.
    """
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            moment = _from_epoch(float(value))
        elif isinstance(value, str):
            text = value.strip()
            try:
                seconds = float(text)
            except ValueError:
                moment = datetime.fromisoformat(text)
            else:
                moment = _from_epoch(seconds)
        else:
            raise ImageDetailError(f"{field_name}: expected a time, got {value!r}")
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError) as error:
        if isinstance(error, ImageDetailError):
            raise
        shown = value if not isinstance(value, str) else value[:64]
        raise ImageDetailError(
            f"{field_name}: not a time between years 1 and 9999 (ISO-8601 or epoch seconds): {shown!r}"
        ) from error


def _from_epoch(seconds: float) -> datetime:
    if not math.isfinite(seconds):
        raise ValueError("not a finite number")
    return datetime.fromtimestamp(seconds, UTC)


def iso8601(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _optional_time(detail: Mapping[str, Any], key: str) -> datetime | None:
    return None if detail.get(key) is None else parse_timestamp(detail[key], key)


def _optional_text(detail: Mapping[str, Any], key: str, digest: str) -> str | None:
    value = detail.get(key)
    if value is not None and not isinstance(value, str):
        raise ImageDetailError(f"{key}: must be a string (image {digest})")
    return value


def _digest_list(value: Any, field_name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(_is_digest(item) for item in value):
        raise ImageDetailError(f"{field_name}: must be a list of digests")
    return tuple(value)


def _is_digest(value: object) -> TypeIs[str]:
    return isinstance(value, str) and 0 < len(value) <= DIGEST_MAX_LENGTH


def image_from_detail(detail: Mapping[str, Any]) -> ImageRecord:
    """An ImageRecord from a DescribeImages image detail (boto3 datetimes, ISO-8601 strings or epoch seconds).

    A detail may also carry the index's children as `childImageDigests`, or its manifest as `imageManifest` (JSON text
    or object, as BatchGetImage returns it).
    """
    if not isinstance(detail, Mapping):
        raise ImageDetailError("an image detail must be a JSON object")
    digest = detail.get("imageDigest")
    if not _is_digest(digest):
        raise ImageDetailError("imageDigest: is required (a string)")
    tags = detail.get("imageTags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ImageDetailError(f"imageTags: must be a list of strings (image {digest})")
    size = detail.get("imageSizeInBytes") or 0
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageDetailError(f"imageSizeInBytes: must be a whole number of bytes (image {digest})")
    status = detail.get("imageStatus") or "ACTIVE"
    if not isinstance(status, str) or not 0 < len(status) <= MAX_STATUS_LENGTH or not status.isprintable():
        raise ImageDetailError(f"imageStatus: must be a short string, such as {', '.join(IMAGE_STATUSES)} ({digest})")
    record = ImageRecord(
        digest=digest,
        pushed_at=_optional_time(detail, "imagePushedAt"),
        tags=tuple(tags),
        last_pulled_at=_optional_time(detail, "lastRecordedPullTime"),
        last_activated_at=_optional_time(detail, "lastActivatedAt"),
        last_archived_at=_optional_time(detail, "lastArchivedAt"),
        status=status,
        size_bytes=size,
        manifest_media_type=_optional_text(detail, "imageManifestMediaType", digest),
        artifact_media_type=_optional_text(detail, "artifactMediaType", digest),
        subject_digest=_optional_text(detail, "subjectManifestDigest", digest),
        repository_name=_optional_text(detail, "repositoryName", digest),
    )
    if detail.get("childImageDigests") is not None:
        return replace(record, child_digests=_digest_list(detail["childImageDigests"], "childImageDigests"))
    if detail.get("imageManifest") is not None:
        return with_manifest(record, parse_manifest(digest, detail["imageManifest"]))
    return record


# ---- manifests ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """What an image's manifest says about the graph: the manifests an index references, and a referrer's subject."""

    digest: str
    media_type: str | None = None
    child_digests: tuple[str, ...] = ()
    subject_digest: str | None = None


def parse_manifest(digest: str, manifest: Any, media_type: str | None = None) -> Manifest:
    """Read `manifests[].digest` (an index) and `subject.digest` (a referrer) from a manifest (JSON text or object)."""
    if isinstance(manifest, str):
        try:
            manifest = json.loads(manifest)
        except (json.JSONDecodeError, RecursionError) as error:
            raise ImageDetailError(f"imageManifest of {digest}: not JSON") from error
    if not isinstance(manifest, Mapping):
        raise ImageDetailError(f"imageManifest of {digest}: must be a JSON object")
    entries = manifest.get("manifests", [])
    if not isinstance(entries, list):
        raise ImageDetailError(f"imageManifest of {digest}: manifests must be a list")
    children = []
    for entry in entries:
        child = entry.get("digest") if isinstance(entry, Mapping) else None
        if not _is_digest(child):
            raise ImageDetailError(f"imageManifest of {digest}: every manifests[] entry needs a string digest")
        children.append(child)
    subject = manifest.get("subject")
    subject_digest = subject.get("digest") if isinstance(subject, Mapping) else None
    if subject is not None and not _is_digest(subject_digest):
        raise ImageDetailError(f"imageManifest of {digest}: subject needs a string digest")
    declared_type = manifest.get("mediaType")
    return Manifest(
        digest=digest,
        media_type=media_type or (declared_type if isinstance(declared_type, str) else None),
        child_digests=tuple(children),
        subject_digest=subject_digest,
    )


@dataclass(frozen=True)
class ManifestRead:
    """What BatchGetImage gave for the digests asked: the manifests read, the digests ECR says are gone, and those it
    did not give (a per-image failure such as KmsError) or gave in a form this code cannot parse, each with the
    reason. The adapter decides nothing about them: the sweep keeps what an unread manifest might name."""

    manifests: Mapping[str, Manifest] = field(default_factory=dict)
    gone: frozenset[str] = frozenset()
    unread: Mapping[str, str] = field(default_factory=dict)  # digest -> why it could not be read

    def __or__(self, other: ManifestRead) -> ManifestRead:
        """Both reads; a later read of a digest wins (it was read again because it was unread or gone before)."""
        manifests = {**self.manifests, **other.manifests}
        unread = {d: why for d, why in {**self.unread, **other.unread}.items() if d not in other.manifests}
        gone = (self.gone - other.manifests.keys() - other.unread.keys()) | other.gone
        return ManifestRead(manifests, frozenset(gone), unread)


def manifests_to_read(
    images: Iterable[ImageRecord], may_go: Callable[[ImageRecord], bool], already_read: Collection[str] = ()
) -> list[str]:
    """The one rule for which manifests a decision about these images needs (the lifecycle preview and the sweep use
    it alike). DescribeImages lists neither an index's children nor, on every registry, a referrer's subject, so:
    every index whose children are not known, every image of unknown media type (it may be an index), and every
    image that `may_go` whose subject is not known (it may be a signature of something that stays)."""
    return [
        image.digest
        for image in images
        if image.digest not in already_read
        and (
            (image.is_index and not image.child_digests)
            or image.manifest_media_type is None
            or (image.subject_digest is None and may_go(image))
        )
    ]


def complete_with_manifests(images: Iterable[ImageRecord], manifests: Mapping[str, Manifest]) -> list[ImageRecord]:
    return [with_manifest(image, manifests[image.digest]) if image.digest in manifests else image for image in images]


def with_manifest(image: ImageRecord, manifest: Manifest) -> ImageRecord:
    """The record completed with what its manifest says (DescribeImages' own fields win where both speak)."""
    if not manifest.child_digests and manifest.subject_digest is None and image.manifest_media_type is not None:
        return image  # a plain manifest adds nothing (most do): no copy
    return replace(
        image,
        manifest_media_type=image.manifest_media_type or manifest.media_type,
        child_digests=image.child_digests or manifest.child_digests,
        subject_digest=image.subject_digest or manifest.subject_digest,
    )


# ---- the graph ------------------------------------------------------------------------------------------------


class ImageGraph:
    """Edges of one repository's images: index -> children, subject -> referrers."""

    def __init__(self, images: Iterable[ImageRecord]):
        self.images = {image.digest: image for image in images}
        self._parents: dict[str, list[str]] = {}
        self._referrers: dict[str, list[str]] = {}
        for image in self.images.values():
            for child in image.child_digests:
                self._parents.setdefault(child, []).append(image.digest)
            if image.subject_digest:
                self._referrers.setdefault(image.subject_digest, []).append(image.digest)

    @cached_property
    def linked(self) -> frozenset[str]:
        """The digests with an edge out (an index's children, a subject's referrers): only these reach anything, so a
        walk can start from them alone - a repository of plain images costs one pass."""
        return frozenset(d for d, image in self.images.items() if image.child_digests) | self._referrers.keys()

    def parents_of(self, digest: str) -> tuple[str, ...]:
        """The indexes that reference this manifest."""
        return tuple(self._parents.get(digest, ()))

    def children_of(self, digest: str) -> tuple[str, ...]:
        image = self.images.get(digest)
        return image.child_digests if image else ()

    def referrers_of(self, digest: str) -> tuple[str, ...]:
        """The images (signatures, SBOMs, attestations) whose subject is this digest."""
        return tuple(self._referrers.get(digest, ()))

    def reachable_from(self, roots: Iterable[str]) -> dict[str, str]:
        """Every digest reachable from `roots` through index children and referrers, transitively, with how it was
        reached (`root`, `index child`, `referrer`). Digests absent from the repository are included: a child may be
        missing, and what it would reach is still reachable. (Linear in what it reaches: the sweep walks 100,000-image
        repositories with it.)"""
        reason = dict.fromkeys(roots, "root")
        pending = list(reason)
        images, referrers = self.images, self._referrers
        while pending:
            digest = pending.pop()
            image = images.get(digest)
            if image is not None:
                for child in image.child_digests:
                    if child not in reason:
                        reason[child] = "index child"
                        pending.append(child)
            for referrer in referrers.get(digest, ()):
                if referrer not in reason:
                    reason[referrer] = "referrer"
                    pending.append(referrer)
        return reason
