"""The run's summary a person reads: what the sweep reclaimed across the registry and what needs attention."""

from __future__ import annotations

from ecr_governance.notice import Notice
from ecr_governance.sweep.report import KEPT_COUNTERS, RunTotals

GIB = 1024**3  # AWS bills storage per GB-month of 2^30 bytes


def sweep_notice(totals: RunTotals, price_per_gb_month: float) -> Notice:
    counts = totals.counts
    dry_run = totals.mode == "dry-run"
    images = counts["would_delete"] if dry_run else counts["deleted"]
    reclaimed = counts["bytes_reclaimable"] if dry_run else counts["bytes_reclaimed"]
    savings = reclaimed / GIB * price_per_gb_month
    failures = counts["failed"] + counts["repositories_failed"]
    verb = "would delete" if dry_run else "deleted"
    subject = f"ECR sweep{' (dry run)' if dry_run else ''}: {images} untagged images {verb}, {reclaimed / GIB:.2f} GiB"
    if failures:
        subject += f", {failures} failed"
    kept = ", ".join(f"{counts[counter]} {reason}" for reason, counter in KEPT_COUNTERS.items() if counts.get(counter))
    lines = [
        f"ecr-governance sweep run {totals.run_id}, started {totals.started_at}, mode {totals.mode}.",
        "",
        f"Repositories swept: {counts['repositories']} ({totals.exempt} exempt and left alone; "
        f"{counts['repositories_gone']} deleted meanwhile; {counts['repositories_failed']} could not be read).",
        f"Images examined: {counts['examined']}; kept: {kept or 'none'}.",
        f"Candidates (untagged, old, idle, needed by nothing that stays): {counts['candidates']}.",
        f"Images {verb}: {images}, {reclaimed / GIB:.2f} GiB - about {savings:.2f} USD a month at "
        f"{price_per_gb_month:.2f} USD per GB-month (ECR's per-image sizes: layers shared between images are "
        "counted in each, so this is an upper bound).",
        f"Kept at the last moment: {counts['tagged_since_plan']} tagged since the plan, "
        f"{counts['no_longer_eligible']} pulled or changed since, {counts['protected']} reached from those, "
        f"{counts['kept_by_ecr']} still referenced by an index (ECR refused); {counts['already_gone']} already gone.",
    ]
    if counts["deferred"]:
        lines.append(f"Left for the next run: {counts['deferred']} (could not be handed on in time).")
    if failures:
        lines.append(f"Failed: {failures} - see the worker's `sweep report` log lines (error codes and reasons).")
    attributes = {"mode": totals.mode, "failures": str(failures)}
    return Notice(subject=subject, text="\n".join(lines), attributes=attributes)
