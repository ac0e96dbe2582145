"""ECR API calls of a registry-wide untagged sweep, against the minimum the ECR API allows for that work.

Workload: 100 repositories x 1,000 images: per repository 100 multi-arch images (an index over two untagged platform
manifests: 10% of the images are indexes; 70 releases tagged, 20 stale untagged builds, 10 recent untagged builds),
50 referrers (5%: signatures of releases, signatures of stale builds, SBOMs of orphaned CI builds; DescribeImages
reports their subject, as ECR does), 250 tagged single-platform images, and 400 untagged ones (250 orphaned CI
builds, 100 recent, 50 old but pulled last week).

Baseline ("minimal"), computed from the seeded labels alone, not from the sweep's counters:
  planner: ceil(R / 1000) DescribeRepositories pages + 1 ListTagsForResource per repository (tags are the only way
           to learn a tag exemption)
  worker: 1 DescribePullThroughCacheRules (which repositories are pull-through caches; asked every 10 minutes)
  worker, per repository:
    1 DescribeRepositories + 1 ListTagsForResource (its exemption as it is now, not as the planner saw it)
    + ceil(N / 1000) DescribeImages pages (imageStatus ANY, maxResults 1000) to plan
    + ceil(indexes / 100) BatchGetImage (an index's children are only in its manifest)
    + ceil(referrer candidates / 100) BatchGetImage: the untagged images that could go and whose subject
      DescribeImages does not report - each may be a referrer of something that stays, only its manifest says
      (the orphans, and the platform manifests of stale untagged indexes)
    + D BatchDeleteImage, where D is the fewest calls that delete every image in a later call than every image it
      is reachable from (index before child, subject before referrer) with at most 100 a call:
      max(ceil(deletions / 100), the longest chain of candidates)
    + D x ceil(N / 1000) DescribeImages pages: before every delete call, the whole repository listed again - the
      only read that shows a new tagged index or a subject pushed back (ECR has no "changed since" filter); for a
      repository of up to 1,000 images that is the one call the by-digest re-check used to be
  Inspector (in-use data, counted apart): 1 BatchGetAccountStatus per worker (cached 10 minutes) + 2 ListCoverage
  per repository (in use now; last in use within the idle window).
Target: ours / minimal = 1.00. Nothing here is timed but the run itself.

Seeding 100,000 images into moto over HTTP takes longer than the bench is worth, so ECR here is an in-memory fake at
botocore's `before-call` hook: the real EcrRegistry adapter, boto3 paginators and request serialization run, and the
counting hook (the same one the enforcement bench uses) sees every request; only the HTTP round trip is replaced.
The fake answers like ECR where the count depends on it: maxResults and nextToken, no index children in
DescribeImages, ImageNotFoundException for a by-digest read of a gone image, ImageReferencedByManifestList.

Run: `make bench` (or .venv/bin/python bench/bench_sweep_api_calls.py [--repositories N] [--images N]).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.exemptions import ExemptionSettings
from ecr_governance.images import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from ecr_governance.sweep.plan import MAX_BATCH, InUse
from ecr_governance.sweep.planner import SweepPlanner
from ecr_governance.sweep.settings import SweepMode, SweepRules
from ecr_governance.sweep.worker import SweepWorker
from ecr_governance_cli.callcount import EcrCallCounter

REGION = "ap-southeast-1"
ACCOUNT = "123456789012"
NOW = datetime(2026, 11, 28, tzinfo=UTC)
RULES = SweepRules(SweepMode.DELETE)  # 14 days old, 30 days idle
OPERATIONS = (
    "DescribeRepositories",
    "ListTagsForResource",
    "DescribePullThroughCacheRules",
    "DescribeImages",
    "BatchGetImage",
    "BatchDeleteImage",
)


@dataclass
class SeededImage:
    digest: str
    label: str  # what the seed made it; the baseline is computed from these
    pushed_days_ago: float
    tags: tuple[str, ...] = ()
    pulled_days_ago: float | None = None
    media_type: str = DOCKER_MANIFEST
    children: tuple[str, ...] = ()
    subject: str | None = None
    size: int = 0


# Labels of the images that must go; every other label must stay.
CANDIDATE_LABELS = frozenset({"stale index", "stale child", "stale signature", "orphan", "orphan sbom"})


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def synthetic_repository(name: str, count: int = 1000) -> list[SeededImage]:
    """The mix of the module docstring, scaled to `count` images (a multiple of 20), deterministic by name."""
    scale = count // 1000 or 1
    images: list[SeededImage] = []

    def add(label: str, days: float, **extra: Any) -> SeededImage:
        image = SeededImage(_digest(name, label, len(images)), label, days, size=(len(images) % 97 + 3) << 20, **extra)
        images.append(image)
        return image

    releases, stale, recent = [], [], []
    for unit in range(100 * scale):
        group = "release" if unit % 10 < 7 else "stale" if unit % 10 < 9 else "recent"
        age = 2 if group == "recent" else 60 + unit % 300
        child_label = {"release": "release child", "stale": "stale child", "recent": "recent child"}[group]
        children = tuple(add(child_label, age, media_type=OCI_MANIFEST).digest for _ in range(2))
        tags = (f"v{unit}.0",) if group == "release" else ()
        label = {"release": "release index", "stale": "stale index", "recent": "recent index"}[group]
        index = add(label, age, tags=tags, media_type=OCI_INDEX, children=children)
        {"release": releases, "stale": stale, "recent": recent}[group].append(index)
    orphans = []
    for number in range(650 * scale):
        if number < 250 * scale:
            add("tagged", 1 + number % 400, tags=(f"build-{number}",))
        elif number < 500 * scale:
            orphans.append(add("orphan", 31 + number % 300))
        elif number < 600 * scale:
            add("young", number % 14)
        else:
            add("pulled", 90, pulled_days_ago=number % 30)
    for number in range(50 * scale):
        if number < 30 * scale:
            add("release signature", 50, subject=releases[number % len(releases)].digest, media_type=OCI_MANIFEST)
        elif number < 40 * scale:
            add("stale signature", 50, subject=stale[number % len(stale)].digest, media_type=OCI_MANIFEST)
        else:
            add("orphan sbom", 50, subject=orphans[number % len(orphans)].digest, media_type=OCI_MANIFEST)
    assert len(images) == 1000 * scale, len(images)
    return images


class FakeEcr:
    """ECR's answers from memory, given at botocore's before-call hook (see the module docstring)."""

    def __init__(self, repositories: dict[str, list[SeededImage]], tags: dict[str, dict[str, str]] | None = None):
        self.images = {name: {image.digest: image for image in seeded} for name, seeded in repositories.items()}
        self.tags = tags or {}

    def attach(self, client: Any) -> None:
        client.meta.events.register_last("before-call.ecr", self)

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        request = json.loads(params.get("body") or b"{}")
        try:
            return _Http(200), getattr(self, model.name)(request)
        except _Refused as refused:
            return _Http(400), {"Error": {"Code": refused.code, "Message": refused.message}}

    # ---- operations ---------------------------------------------------------------------------------------------
    def DescribeRepositories(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - ECR's names
        names = sorted(self.images)
        page, token = _page(names, request, 1000)
        repositories = [
            {"repositoryName": n, "repositoryArn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{n}"} for n in page
        ]
        return {"repositories": repositories, **token}

    def ListTagsForResource(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = request["resourceArn"].split(":repository/", 1)[1]
        return {"tags": [{"Key": k, "Value": v} for k, v in self.tags.get(name, {}).items()]}

    def DescribeImages(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        repository = self._repository(request)
        if "imageIds" in request:
            digests = [image_id["imageDigest"] for image_id in request["imageIds"]]
            if len(digests) > 100 or any(d not in repository for d in digests):
                raise _Refused("ImageNotFoundException", "an image does not exist within the repository")
            return {"imageDetails": [_detail(repository[d]) for d in digests]}
        page, token = _page(list(repository.values()), request, 1000)
        return {"imageDetails": [_detail(image) for image in page], **token}

    def BatchGetImage(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        repository = self._repository(request)
        assert len(request["imageIds"]) <= 100 and OCI_INDEX in request["acceptedMediaTypes"]
        found = [repository[i["imageDigest"]] for i in request["imageIds"] if i["imageDigest"] in repository]
        return {
            "images": [
                {"imageId": {"imageDigest": image.digest}, "imageManifest": _manifest(image)} for image in found
            ],
            "failures": [],
        }

    def BatchDeleteImage(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        repository = self._repository(request)
        assert len(request["imageIds"]) <= 100
        deleted, failures = [], []
        for image_id in request["imageIds"]:
            digest = image_id["imageDigest"]
            if digest not in repository:
                failures.append({"imageId": image_id, "failureCode": "ImageNotFound", "failureReason": "not found"})
            elif any(digest in other.children for other in repository.values()):
                failures.append(
                    {"imageId": image_id, "failureCode": "ImageReferencedByManifestList", "failureReason": "in use"}
                )
            else:
                del repository[digest]
                deleted.append(image_id)
        return {"imageIds": deleted, "failures": failures} if deleted else {"failures": failures}

    def DescribePullThroughCacheRules(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return {"pullThroughCacheRules": []}

    def _repository(self, request: dict[str, Any]) -> dict[str, SeededImage]:
        if request["repositoryName"] not in self.images:
            raise _Refused("RepositoryNotFoundException", "not found")
        return self.images[request["repositoryName"]]


class _Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class _Http:
    status_code: int
    headers: dict[str, str] | None = None


def _page(items: list[Any], request: dict[str, Any], limit: int) -> tuple[list[Any], dict[str, str]]:
    size = min(int(request.get("maxResults", 100)), limit)
    start = int(request.get("nextToken", "0"))
    end = start + size
    return items[start:end], ({"nextToken": str(end)} if end < len(items) else {})


def _detail(image: SeededImage) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "imageDigest": image.digest,
        "imagePushedAt": NOW - timedelta(days=image.pushed_days_ago),
        "imageSizeInBytes": image.size,
        "imageManifestMediaType": image.media_type,
        "imageStatus": "ACTIVE",
    }
    if image.tags:
        detail["imageTags"] = list(image.tags)
    if image.pulled_days_ago is not None:
        detail["lastRecordedPullTime"] = NOW - timedelta(days=image.pulled_days_ago)
    if image.subject:
        detail["subjectManifestDigest"] = image.subject
    return detail


def _manifest(image: SeededImage) -> str:
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": image.media_type}
    if image.children:
        manifest["manifests"] = [{"mediaType": OCI_MANIFEST, "digest": child, "size": 1024} for child in image.children]
    if image.subject:
        manifest["subject"] = {"mediaType": OCI_INDEX, "digest": image.subject, "size": 1024}
    return json.dumps(manifest)


def minimal_calls(repositories: dict[str, list[SeededImage]]) -> Counter[str]:
    """The fewest ECR calls for this work, from the seed's labels (see the module docstring)."""
    minimal: Counter[str] = Counter(
        DescribeRepositories=math.ceil(len(repositories) / 1000) + len(repositories),
        ListTagsForResource=2 * len(repositories),
        DescribePullThroughCacheRules=1,  # once per worker every 10 minutes: which repositories are caches
    )
    for images in repositories.values():
        indexes = sum(1 for image in images if image.media_type == OCI_INDEX)
        referrer_candidates = sum(1 for image in images if image.label in {"orphan", "stale child"})
        candidates = {image.digest: image for image in images if image.label in CANDIDATE_LABELS}
        delete_calls = max(math.ceil(len(candidates) / MAX_BATCH), _longest_chain(candidates))
        pages = math.ceil(len(images) / 1000)
        minimal["DescribeImages"] += pages * (1 + delete_calls)
        minimal["BatchGetImage"] += math.ceil(indexes / 100) + math.ceil(referrer_candidates / 100)
        minimal["BatchDeleteImage"] += delete_calls
    return minimal


def _longest_chain(candidates: dict[str, SeededImage]) -> int:
    """The most candidates on one path index -> child / subject -> referrer: each needs a call of its own."""
    depth: dict[str, int] = {}

    def depth_of(digest: str) -> int:
        if digest not in depth:
            image = candidates[digest]
            parents = [p for p in candidates.values() if digest in p.children]
            if image.subject in candidates:
                parents.append(candidates[image.subject])
            depth[digest] = 1 + max((depth_of(p.digest) for p in parents), default=0)
        return depth[digest]

    return max((depth_of(d) for d in candidates), default=0)


class ReadToDeleteWindow:
    """The time from the end of each DescribeImages call to the start of the next BatchDeleteImage call."""

    def __init__(self) -> None:
        self.last_read_end = 0.0
        self.gaps: list[float] = []

    def attach(self, client: Any) -> None:
        client.meta.events.register("after-call.ecr.DescribeImages", self.read_ended)
        client.meta.events.register_first("before-call.ecr.BatchDeleteImage", self.delete_starts)

    def read_ended(self, **_: Any) -> None:
        self.last_read_end = time.perf_counter()

    def delete_starts(self, **_: Any) -> None:
        self.gaps.append(time.perf_counter() - self.last_read_end)


class CountingInspector:
    """Inspector's in-use data, answered from memory (nothing in use) and counted: the bench has no Inspector."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def covers_registry(self, account_id: str) -> bool:
        self.calls["BatchGetAccountStatus"] += 1
        return True

    def images_in_use(self, repository_name: str, since: datetime) -> InUse:
        self.calls["ListCoverage"] += 2  # the adapter's two filtered queries
        return InUse(available=True, last_in_use={})


def _ratio(ours: int, minimal: int) -> str:
    return f"{ours / minimal:.2f}" if minimal else ("-" if ours == 0 else "inf")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=100)
    parser.add_argument("--images", type=int, default=1000, help="per repository, a multiple of 1000")
    args = parser.parse_args()
    repositories = {
        f"team-{n % 7}/service-{n:03d}": synthetic_repository(f"r{n}", args.images) for n in range(args.repositories)
    }
    fake = FakeEcr({name: list(images) for name, images in repositories.items()})
    client = boto3.client("ecr", region_name=REGION, aws_access_key_id="bench", aws_secret_access_key="bench")
    counter = EcrCallCounter()
    counter.attach(client)  # first: it counts, then the fake answers
    fake.attach(client)
    registry = EcrRegistry(client)
    window = ReadToDeleteWindow()
    window.attach(client)

    started = time.perf_counter()
    selection = SweepPlanner(registry, ExemptionSettings()).select()
    inspector = CountingInspector()
    worker = SweepWorker(registry, registry, RULES, ExemptionSettings(), in_use=inspector, clock=lambda: NOW)
    reports = [worker.sweep_repository(name) for name in selection.repositories]
    elapsed = time.perf_counter() - started

    minimal = minimal_calls(repositories)
    total_images = sum(len(images) for images in repositories.values())
    print(f"workload: {len(repositories)} repositories x {args.images:,} images = {total_images:,} images")
    print(f"  per repository: {Counter(image.label for image in next(iter(repositories.values())))}")
    print(f"sweep (delete mode) in {elapsed:.1f} s, in-memory ECR at botocore's before-call hook (not moto)\n")
    print(f"  {'operation':<24}{'ours':>8}{'minimal':>9}{'ratio':>8}")
    for name in [*OPERATIONS, *sorted(set(counter.calls) - set(OPERATIONS))]:
        print(f"  {name:<24}{counter.calls[name]:>8}{minimal[name]:>9}{_ratio(counter.calls[name], minimal[name]):>8}")
    ours, least = sum(counter.calls.values()), sum(minimal.values())
    print(f"  {'total':<24}{ours:>8}{least:>9}{_ratio(ours, least):>8}")
    print(f"  ratio ours/minimal = {ours / least:.3f} (target 1.00)")
    inspector_minimal = {"BatchGetAccountStatus": 1, "ListCoverage": 2 * len(selection.repositories)}
    print(f"  Inspector (in-use data): {dict(inspector.calls)}, minimal {inspector_minimal}")
    gaps = sorted(window.gaps)
    print(
        f"\nwindow between the last read (the re-read listing) and each BatchDeleteImage call, here without a network:"
        f" median {statistics.median(gaps) * 1000:.1f} ms, 95th percentile {gaps[int(len(gaps) * 0.95)] * 1000:.1f} ms,"
        f" max {gaps[-1] * 1000:.1f} ms over {len(gaps)} calls (the re-plan of {args.images:,} images and the request's"
        " serialization; against AWS add one request's travel)"
    )

    # What the sweep did, read back from the fake registry (not from the reports), against the seed's labels.
    expected_left = {
        name: {image.digest for image in images if image.label not in CANDIDATE_LABELS}
        for name, images in repositories.items()
    }
    left = {name: set(images) for name, images in fake.images.items()}
    deleted = total_images - sum(len(digests) for digests in left.values())
    print(
        f"\nread back: {deleted:,} images deleted; left exactly the images that must stay: {left == expected_left}; "
        f"failures in the reports: {sum(len(r.failed_images) for r in reports)}"
    )
    return 0 if left == expected_left else 1


if __name__ == "__main__":
    sys.exit(main())
