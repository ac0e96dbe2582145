"""How much dearer the sweep's plan of one 100,000-image repository is than sorting those records once.

Workload: the mix of bench_sweep_api_calls.py scaled to 100,000 images in one repository (10,000 multi-arch images
over 20,000 platform manifests, 5,000 referrers, 65,000 single-platform images), as the worker holds them once the
manifests are read (index children and subjects known). The plan is `plan_sweep`: every image's own reason, the
keep-set (ImageGraph.reachable_from what stays), the candidates ordered parents first, every image's decision.
Baseline: sorting the same records by push time once - the least any per-image decision over a repository costs.
Target: within 10x. Prints medians over interleaved rounds and the median of the per-round ratios.

Run: .venv/bin/python bench/bench_sweep_plan.py [--images N] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
from datetime import timedelta

from bench_lifecycle_preview import seconds
from bench_sweep_api_calls import NOW, RULES, SeededImage, synthetic_repository
from ecr_governance.images import ImageRecord
from ecr_governance.sweep.plan import plan_sweep


def record(image: SeededImage) -> ImageRecord:
    return ImageRecord(
        digest=image.digest,
        pushed_at=NOW - timedelta(days=image.pushed_days_ago),
        tags=image.tags,
        last_pulled_at=None if image.pulled_days_ago is None else NOW - timedelta(days=image.pulled_days_ago),
        size_bytes=image.size,
        manifest_media_type=image.media_type,
        child_digests=image.children,
        subject_digest=image.subject,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000, help="a multiple of 1,000")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    images = [record(image) for image in synthetic_repository("big", args.images)]

    def plan() -> object:
        return plan_sweep("big", images, RULES, NOW)

    def sort_once() -> list[ImageRecord]:
        return sorted(images, key=lambda image: image.pushed_at)

    outcome = plan_sweep("big", images, RULES, NOW)  # warm-up, and what the plan decides
    rounds = [(seconds(sort_once), seconds(plan)) for _ in range(args.repeat)]
    baseline = statistics.median(r[0] for r in rounds)
    planning = statistics.median(r[1] for r in rounds)
    kept = outcome.kept_counts()
    print(f"workload: {len(images):,} images in one repository, {args.repeat} interleaved rounds")
    print(f"plan outcome: {len(outcome.candidates):,} candidates; kept {dict(kept)}")
    print(f"baseline: sort {len(images):,} records by push time once  {baseline * 1000:8.1f} ms (median)")
    print(f"plan_sweep()                                       {planning * 1000:8.1f} ms (median)")
    print(
        f"ratio plan / sort-once baseline (median of rounds): {statistics.median(p / s for s, p in rounds):.1f}x "
        "(target within 10x)"
    )


if __name__ == "__main__":
    main()
