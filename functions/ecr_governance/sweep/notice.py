"""The run's summary a person reads: what the sweep reclaimed across the registry and what needs attention."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ecr_governance.notice import Notice
from ecr_governance.organization.membership import account_label, not_onboarded_list
from ecr_governance.sweep.ledger import RunState, UnitRef
from ecr_governance.sweep.report import KEPT_COUNTERS, RECLAIMED_COUNTERS

GIB = 1024**3  # AWS bills storage per GB-month of 2^30 bytes
UNSWEPT_SHOWN = 20
ACCOUNTS_SHOWN = 20


@dataclass(frozen=True)
class Prices:
    """USD per GB-month, per storage class (StoragePricePerGbMonth, ArchivePricePerGbMonth)."""

    standard: float = 0.10
    archive: float = 0.10

    def of(self, storage_class: str) -> float:
        return self.archive if storage_class == "archive" else self.standard

    def monthly_usd(self, bytes_by_class: Mapping[str, int]) -> float:
        """What storing these bytes costs a month (ECR's per-image sizes: an upper bound, shared layers counted)."""
        return sum(size / GIB * self.of(storage) for storage, size in bytes_by_class.items())


def sweep_notice(state: RunState, prices: Prices) -> Notice:
    counts = state.counts
    dry_run = state.mode == "dry-run"
    images = counts.get("would_delete", 0) if dry_run else counts.get("deleted", 0)
    by_class = {storage: counts.get(counter, 0) for storage, counter in RECLAIMED_COUNTERS.items()}
    reclaimed = counts.get("bytes_reclaimable", 0) if dry_run else sum(by_class.values())
    savings = prices.monthly_usd(by_class)
    failures = counts.get("failed", 0) + counts.get("repositories_failed", 0)
    verb = "would delete" if dry_run else "deleted"
    subject = f"ECR sweep{' (dry run)' if dry_run else ''}: {images} untagged images {verb}, {reclaimed / GIB:.2f} GiB"
    if failures:
        subject += f", {failures} failed"
    if state.unswept:
        subject += f", {len(state.unswept)} not swept"
    lines = [
        f"ecr-governance sweep run {state.run_id}, started {state.started_at}, mode {state.mode}.",
        "",
        _repositories_line(state),
        f"Images examined: {counts.get('examined', 0)}; kept: {_kept(counts) or 'none'}.",
        f"Candidates (untagged, old, idle, not in use, needed by nothing that stays): {counts.get('candidates', 0)}.",
        _reclaimed_line(dry_run, images, reclaimed, by_class, savings=savings, prices=prices),
        f"Kept at the last moment: {counts.get('tagged_since_plan', 0)} tagged since the plan, "
        f"{counts.get('no_longer_eligible', 0)} pulled, used or changed since, {counts.get('protected', 0)} reached "
        f"from an image that stays, {counts.get('parent_not_deleted', 0)} below an image not deleted, "
        f"{counts.get('kept_by_ecr', 0)} still referenced by an index (ECR refused), "
        f"{counts.get('manifest_unread', 0)} in repositories with an unreadable manifest; "
        f"{counts.get('already_gone', 0)} already gone.",
        _in_use_line(state.in_use_available),
    ]
    if counts.get("deferred"):
        lines.append(f"Left for the next run: {counts['deferred']} (could not be handed on in time).")
    if failures:
        lines.append(f"Failed: {failures} - see the worker's `sweep report` log lines (error codes and reasons).")
    lines.extend(_per_account_lines(state))
    if state.unswept:
        names = ", ".join(sorted({_where(state, unit) for unit in state.unswept})[:UNSWEPT_SHOWN])
        lines.append(
            f"Not swept by the run's deadline ({len(state.unswept)}): {names} - a message in the sweep's dead-letter "
            "queue or still retrying; the figures above leave them out."
        )
    attributes = {"mode": state.mode, "failures": str(failures), "unswept": str(len(state.unswept))}
    return Notice(subject=subject, text="\n".join(lines), attributes=attributes)


def _repositories_line(state: RunState) -> str:
    counts = state.counts
    exempt = state.exempt + counts.get("repositories_exempt", 0)
    targets = counts.get("targets", 0)
    where = f" in {targets} account-regions ({counts.get('targets_failed', 0)} could not be read)" if targets else ""
    return (
        f"Repositories swept{where}: {counts.get('repositories', 0)} ({exempt} exempt when planned and "
        f"{counts.get('repositories_exempt_now', 0)} since, left alone; {counts.get('repositories_gone', 0)} deleted "
        f"meanwhile; {counts.get('repositories_failed', 0)} could not be read)."
    )


def _per_account_lines(state: RunState) -> list[str]:
    """An organization run: each member account's figures (the most reclaimed first), and the accounts not reached."""
    lines = []
    if state.per_account:
        lines.append("Per account:")
        ranked = sorted(
            state.per_account.items(),
            key=lambda item: (-sum(item[1].get(c, 0) for c in RECLAIMED_COUNTERS.values()), item[0]),
        )
        for account, counts in ranked[:ACCOUNTS_SHOWN]:
            reclaimed = sum(counts.get(counter, 0) for counter in RECLAIMED_COUNTERS.values())
            failed = counts.get("failed", 0) + counts.get("repositories_failed", 0)
            lines.append(
                f"  {_account_label(state, account)}: {counts.get('deleted', 0)} deleted, {reclaimed / GIB:.2f} GiB; "
                f"{counts.get('would_delete', 0)} would delete; {failed} failed"
            )
        if len(ranked) > ACCOUNTS_SHOWN:
            lines.append(f"  ... and {len(ranked) - ACCOUNTS_SHOWN} more accounts (each in the runs table)")
    if state.not_onboarded:
        shown = not_onboarded_list(state.not_onboarded, ACCOUNTS_SHOWN)
        lines.append(f"Not onboarded ({len(state.not_onboarded)}; their role could not be assumed): {shown}")
    return lines


def _account_label(state: RunState, account: str) -> str:
    return account_label(account, state.account_names.get(account, ""))


def _where(state: RunState, unit: UnitRef) -> str:
    """A repository, or an organization run's account-region (unit ids: target/<account>/<region>)."""
    if not unit.account:
        return unit.repository
    if not unit.repository:
        return f"{_account_label(state, unit.account)} in {unit.unit_id.rsplit('/', 1)[-1]} (every repository)"
    return f"{_account_label(state, unit.account)} {unit.repository}"


def _kept(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[counter]} {reason}" for reason, counter in KEPT_COUNTERS.items() if counts.get(counter))


def _reclaimed_line(
    dry_run: bool, images: int, reclaimed: int, by_class: dict[str, int], *, savings: float, prices: Prices
) -> str:
    if dry_run:
        return (
            f"Images a delete run would delete: {images}, {reclaimed / GIB:.2f} GiB (ECR's per-image sizes: layers "
            "shared between images are counted in each, so this is an upper bound)."
        )
    parts = ", ".join(
        f"{size / GIB:.2f} GiB {storage} at {prices.of(storage):.4g} USD per GB-month"
        for storage, size in by_class.items()
    )
    return (
        f"Images deleted: {images}, {reclaimed / GIB:.2f} GiB ({parts}) - about {savings:.2f} USD a month (ECR's "
        "per-image sizes: layers shared between images are counted in each, so this is an upper bound)."
    )


def _in_use_line(available: bool | None) -> str:
    if available is False:
        return (
            "In-use data: not available (Amazon Inspector does not scan this registry's images), so untagged images "
            "deployed by digest were recognised only by their pulls (SweepMinIdleDays)."
        )
    if available:
        return "In-use data: Amazon Inspector's; images it saw in ECS tasks or EKS pods within the idle window stayed."
    return "In-use data: not asked (nothing to delete)."
