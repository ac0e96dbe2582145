"""The sample registry's images, as `ecr-governance emulator --seed` makes them, so that every example in the docs and
every file in events/ does real work on them.

moto stamps an image's push time at the moment it is pushed, cannot backdate it, and digests an image by its layers.
So each image is pushed over HTTP like any client pushes (PutImage with `imageDigest`, which moto keeps), and then
what ECR would have recorded over time is set on the emulator's backend in this process: when the image was pushed
(days ago) and last pulled, and its latest scan (moto's own queue of DescribeImageScanFindings answers). Nothing else
is touched: every read still goes through the emulator's API.

What it holds: scanned images whose digests and counts are those of events/findings/ (basic findings, enhanced
findings, a failed scan); old untagged images and multi-arch builds for events/sweep/ and the sweep examples; a
tagged multi-arch release with its signature, which stays; images too young or pulled too recently to go.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ecr_governance.images import OCI_INDEX, OCI_MANIFEST

from ecr_governance_cli.scan_samples import failed_scan_response, findings_for_counts, scan_findings_response

ACCOUNT = "123456789012"  # moto's default account, and the sample events'
# The images events/findings/ names (a contract test holds them to the event files).
RETAIL_API_RELEASE = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd"
RETAIL_API_ENHANCED = "sha256:36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77e5e1a2b3c4d5"
LEDGER_UNTAGGED = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
INDEXER_FAILED = "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"


@dataclass(frozen=True)
class Scan:
    counts: dict[str, int] = field(default_factory=dict)  # by severity; empty with status FAILED
    enhanced: bool = False
    failed: bool = False


@dataclass(frozen=True)
class SampleImage:
    repository: str
    name: str  # what it is, and the seed of its manifest's digests
    days_old: float
    tags: tuple[str, ...] = ()
    digest: str | None = None
    pulled_days_ago: float | None = None
    scan: Scan | None = None
    manifests: tuple[str, ...] = ()  # an index: the names of the manifests it lists
    subject: str | None = None  # a referrer: the name of the image it refers to


def oci_manifest(seed: str, subject: str | None = None, size: int = 41_943_040) -> str:
    """An OCI image manifest whose digests derive from `seed` (moto digests an image by its layers); with `subject`,
    a referrer of that image (a signature, an SBOM)."""

    def digest(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"{kind}{seed}".encode()).hexdigest()

    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": size, "digest": digest("c")},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 1, "digest": digest("l")}],
    }
    if subject:
        manifest["subject"] = {"mediaType": OCI_INDEX, "digest": subject, "size": 512}
    return json.dumps(manifest)


def oci_index(children: dict[str, str]) -> str:
    """An OCI image index over platform manifests ({"linux/amd64": digest, ...})."""
    entries = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": 1024,
            "platform": {"os": platform.split("/")[0], "architecture": platform.split("/")[1]},
        }
        for platform, digest in children.items()
    ]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})


def _multi_arch(repository: str, name: str, days_old: float, tags: tuple[str, ...] = ()) -> list[SampleImage]:
    children = tuple(f"{name} {platform}" for platform in ("linux/amd64", "linux/arm64"))
    return [
        *(SampleImage(repository, child, days_old) for child in children),
        SampleImage(repository, name, days_old, tags, manifests=children),
    ]


FEATURE_STORE = "team-ml/feature-store"
SAMPLE_IMAGES: tuple[SampleImage, ...] = (
    SampleImage("mlops/retail-api", "retail-api 1.4.2", 16, ("1.4.2",), RETAIL_API_RELEASE,
                scan=Scan({"CRITICAL": 2, "HIGH": 5, "MEDIUM": 9})),
    SampleImage("mlops/retail-api", "retail-api 1.4.3", 15, ("1.4.3", "latest"), RETAIL_API_ENHANCED,
                scan=Scan({"CRITICAL": 1, "HIGH": 4, "MEDIUM": 6, "LOW": 3}, enhanced=True)),
    *(SampleImage("team-payments/ledger", f"ledger prod-{n}", 75 - 5 * n, (f"prod-{n}",)) for n in range(1, 15)),
    SampleImage("team-payments/ledger", "ledger build 0", 40, digest=LEDGER_UNTAGGED,
                scan=Scan({"HIGH": 1, "LOW": 3})),
    SampleImage("team-payments/ledger", "ledger build 1", 35),
    SampleImage("team-payments/ledger", "ledger build 2", 2),
    *(SampleImage("team-search/indexer", f"indexer dev-{n}", 10 - 2 * n, (f"dev-{n}",)) for n in range(1, 4)),
    SampleImage("team-search/indexer", "indexer dev-4", 1, ("dev-4",), INDEXER_FAILED, scan=Scan(failed=True)),
    SampleImage("team-web/frontend", "frontend release-1.0", 50, ("release-1.0",), scan=Scan({"MEDIUM": 2})),
    SampleImage("team-web/frontend", "frontend release-1.1", 10, ("release-1.1",)),
    SampleImage("team-web/frontend", "frontend build 7", 45),
    SampleImage("team-web/frontend", "frontend build 8", 35),
    SampleImage("team-data/etl", "etl 2026.11.01", 30, ("2026.11.01",)),
    SampleImage("sandbox/experiments", "experiment 1", 90),
    SampleImage("sandbox/experiments", "experiment 2", 60),
    # The sweep's repository: a multi-arch release and its signature stay; a stale multi-arch build and orphaned CI
    # builds go (pushed, and so idle, over 30 days ago); a build too young, and an old one pulled two days ago, stay.
    *_multi_arch(FEATURE_STORE, "feature-store v2.3.0", 60, ("v2.3.0",)),
    SampleImage(FEATURE_STORE, "signature of v2.3.0", 60, subject="feature-store v2.3.0"),
    *_multi_arch(FEATURE_STORE, "feature-store stale build", 45),
    SampleImage(FEATURE_STORE, "ci-build-409", 40, pulled_days_ago=2),
    SampleImage(FEATURE_STORE, "ci-build-410", 38),
    SampleImage(FEATURE_STORE, "ci-build-411", 33),
    SampleImage(FEATURE_STORE, "ci-build-413", 3),
    SampleImage(FEATURE_STORE, "feature-store v2.4.0", 1, ("v2.4.0",)),
)  # fmt: skip


def push_sample_images(ecr: Any, region: str, now: datetime | None = None) -> dict[str, str]:
    """Push SAMPLE_IMAGES and record their history on the in-process emulator's backend; their digests by name."""
    from moto.ecr.models import ecr_backends  # moto: a development dependency, like the emulator itself

    now = now or datetime.now(UTC)
    backend = ecr_backends[ACCOUNT][region]
    digests: dict[str, str] = {}
    for sample in SAMPLE_IMAGES:
        repository = backend.repositories[sample.repository]
        # moto fails an untagged push into a repository with tag-mutability exclusion filters: set them aside.
        filters, repository.image_tag_mutability_exclusion_filters = (
            repository.image_tag_mutability_exclusion_filters,
            None,
        )
        try:
            digest = _push(ecr, sample, digests)
        finally:
            repository.image_tag_mutability_exclusion_filters = filters
        digests[sample.name] = digest
        image = next(i for i in repository.images if i.get_image_digest() == digest)
        pushed = now - timedelta(days=sample.days_old)
        image.image_pushed_at = int(pushed.timestamp())
        if sample.pulled_days_ago is not None:
            image.last_recorded_pull_time = int((now - timedelta(days=sample.pulled_days_ago)).timestamp())
        if sample.scan is not None:
            _record_scan(image, sample, digest, pushed + timedelta(minutes=3))
    return digests


def _push(ecr: Any, sample: SampleImage, digests: dict[str, str]) -> str:
    if sample.manifests:
        manifest = oci_index({name.rsplit(" ", 1)[1]: digests[name] for name in sample.manifests})
        media_type, digest = OCI_INDEX, sample.digest or "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    else:
        subject = digests[sample.subject] if sample.subject else None
        manifest, media_type, digest = oci_manifest(sample.name, subject), OCI_MANIFEST, sample.digest
    tags = sample.tags or (None,)
    for tag in tags:
        request = {"repositoryName": sample.repository, "imageManifest": manifest, "imageManifestMediaType": media_type}
        if tag:
            request["imageTag"] = tag
        if digest:
            request["imageDigest"] = digest
        digest = ecr.put_image(**request)["image"]["imageId"]["imageDigest"]
    return digest


def _record_scan(image: Any, sample: SampleImage, digest: str, completed: datetime) -> None:
    """The image's latest scan as DescribeImageScanFindings will answer it, however the image is named: moto hands
    one queued answer to each distinct imageId it is asked about, so a few copies cover by-digest and by-tag reads."""
    scan = sample.scan
    assert scan is not None
    if scan.failed:
        answer = failed_scan_response(sample.repository, digest)
    else:
        findings = findings_for_counts(scan.counts, enhanced=scan.enhanced)
        stamp = completed.strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = scan_findings_response(sample.repository, digest, findings, completed_at=stamp, enhanced=scan.enhanced)
    image.last_scan = completed
    image.scan_finding_results_queue = [answer] * 8
