"""How much dearer a lifecycle preview is than the least work any preview must do.

Workload: one repository of 10,000 images (release, environment, feature-branch and untagged images, a year of
pushes and pulls) under a 10-rule policy that uses prefixes, patterns, every count type and a transition.
Baseline: sorting the same 10,000 records by push time once — every preview has to order images by push time, so
this is the natural lower bound. The preview is evaluate() plus preview_result() (the GetLifecyclePolicyPreview
document). Prints median times over interleaved rounds and the median of the per-round ratios.

Run: .venv/bin/python bench/bench_lifecycle_preview.py [--images N] [--repeat N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ecr_governance.images import ImageRecord
from ecr_governance.lifecycle.evaluate import evaluate
from ecr_governance.lifecycle.policy import parse_policy
from ecr_governance.lifecycle.preview import preview_result
from ecr_governance.lifecycle.validate import validate_policy

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def rule(priority: int, selection: dict, action: dict | None = None) -> dict:
    return {"rulePriority": priority, "selection": selection, "action": action or {"type": "expire"}}


def days(count_type: str, number: int) -> dict:
    return {"countType": count_type, "countUnit": "days", "countNumber": number}


TEN_RULE_POLICY = {
    "rules": [
        rule(
            1,
            {
                "tagStatus": "tagged",
                "tagPatternList": ["v*.*.*"],
                "countType": "imageCountMoreThan",
                "countNumber": 200,
            },
        ),
        rule(
            2, {"tagStatus": "tagged", "tagPrefixList": ["prod-"], "countType": "imageCountMoreThan", "countNumber": 50}
        ),
        rule(
            3,
            {
                "tagStatus": "tagged",
                "tagPrefixList": ["staging-"],
                "countType": "imageCountMoreThan",
                "countNumber": 20,
            },
        ),
        rule(4, {"tagStatus": "tagged", "tagPrefixList": ["dev-"], **days("sinceImagePushed", 30)}),
        rule(5, {"tagStatus": "tagged", "tagPatternList": ["feature-*-*"], **days("sinceImagePulled", 14)}),
        rule(
            6,
            {
                "tagStatus": "tagged",
                "tagPatternList": ["*-arm64"],
                "countType": "imageCountMoreThan",
                "countNumber": 30,
            },
        ),
        rule(
            7,
            {"tagStatus": "tagged", "tagPatternList": ["sha-*"], **days("sinceImagePulled", 90)},
            {"type": "transition", "targetStorageClass": "archive"},
        ),
        rule(
            8,
            {"tagStatus": "tagged", "tagPrefixList": ["nightly"], "countType": "imageCountMoreThan", "countNumber": 7},
        ),
        rule(9, {"tagStatus": "untagged", **days("sinceImagePushed", 7)}),
        rule(10, {"tagStatus": "any", **days("sinceImagePushed", 365)}),
    ]
}


def synthetic_repository(image_count: int, seed: int = 7) -> list[ImageRecord]:
    """Releases, environment builds, feature branches, nightlies and CI leftovers pushed over 18 months."""
    rng = random.Random(seed)
    families = (
        (3, lambda i: (f"v{i // 100}.{i // 10 % 10}.{i % 10}",)),
        (1, lambda i: (f"prod-{i}",)),
        (1, lambda i: (f"staging-{i}",)),
        (2, lambda i: (f"dev-{i}",)),
        (2, lambda i: (f"feature-login-{i}",)),
        (1, lambda i: (f"build-{i}-arm64",)),
        (2, lambda i: (f"sha-{i:08x}",)),
        (1, lambda i: (f"nightly-{i}",)),
        (3, lambda i: ()),
    )
    tag_makers = [maker for weight, maker in families for _ in range(weight)]
    images = []
    for index in range(image_count):
        pushed_at = NOW - timedelta(seconds=rng.randrange(540 * 86400))
        pulled = rng.random() < 0.6
        images.append(
            ImageRecord(
                digest=f"sha256:{rng.getrandbits(256):064x}",
                pushed_at=pushed_at,
                tags=rng.choice(tag_makers)(index),
                last_pulled_at=pushed_at + timedelta(seconds=rng.randrange(86400 * 120)) if pulled else None,
                size_bytes=rng.randrange(20, 900) * 1024 * 1024,
            )
        )
    return images


def seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    report = validate_policy(TEN_RULE_POLICY)
    if not report.valid:
        raise SystemExit(f"benchmark policy is invalid: {report.errors[0]}")
    policy = parse_policy(TEN_RULE_POLICY)
    images = synthetic_repository(args.images)

    def full_preview() -> dict:
        return preview_result(evaluate(policy, images, NOW), images)

    def sort_once() -> list[ImageRecord]:
        return sorted(images, key=lambda image: image.pushed_at)

    preview = full_preview()  # warm-up, and the numbers the policy produces
    # Interleaved rounds: a load spike on a shared machine then hits baseline and preview alike, and the median of the
    # per-round ratios stays meaningful even when absolute times drift.
    rounds = [
        (seconds(sort_once), seconds(lambda: evaluate(policy, images, NOW)), seconds(full_preview))
        for _ in range(args.repeat)
    ]
    baseline = statistics.median(r[0] for r in rounds)
    evaluation = statistics.median(r[1] for r in rounds)
    previewing = statistics.median(r[2] for r in rounds)
    summary = preview["summary"]
    print(f"workload: {len(images):,} images, {len(policy.rules)}-rule policy, {args.repeat} interleaved rounds")
    print(
        f"policy outcome: {summary['expiringImageTotalCount']:,} expire, "
        f"{summary['transitioningImageTotalCount']:,} transition, "
        f"{len(images) - len(preview['previewResults']):,} kept"
    )
    print(f"baseline: sort {len(images):,} records by push time once  {baseline * 1000:8.2f} ms (median)")
    print(f"evaluate()                                       {evaluation * 1000:8.2f} ms (median)")
    print(f"preview: evaluate() + preview_result()           {previewing * 1000:8.2f} ms (median)")
    print(
        f"ratio evaluate / sort-once baseline (median of rounds): {statistics.median(r[1] / r[0] for r in rounds):.1f}x"
    )
    print(
        f"ratio preview / sort-once baseline (median of rounds):  {statistics.median(r[2] / r[0] for r in rounds):.1f}x"
    )


if __name__ == "__main__":
    main()
