"""Registry scanning coverage (pure): which repositories are scanned on push, and the smallest change that scans the
ones that must be, without ever starting to scan one exempt from it.

ECR's semantics (user guide, "Filters for scanning"): a rule's filter without `*` matches every repository whose name
CONTAINS it; with `*` the whole name must match. At most 2 rules, at most 100 filters a rule; BASIC scanning knows
only SCAN_ON_PUSH. Only the SCAN_ON_PUSH rule is ever changed: the scan type and a CONTINUOUS_SCAN rule are a
person's choice and stay as they are.

PutRegistryScanningConfiguration replaces the whole configuration, so a plan records the SCAN_ON_PUSH filters it was
made from, and `merge_into` applies it to the configuration read right before the write: if someone changed that rule
meanwhile, only our additions are merged into theirs (a fold of filters is applied only onto what it was planned on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ecr_governance.wildcard import is_valid_scanning_filter, scanning_filter_matches

MAX_SCANNING_RULES = 2
MAX_FILTERS_PER_SCANNING_RULE = 100
SCAN_ON_PUSH = "SCAN_ON_PUSH"
# Frequencies under which a repository's pushes get scanned.
SCANNING_FREQUENCIES = (SCAN_ON_PUSH, "CONTINUOUS_SCAN")
# Where a repository name may be cut to make a broader filter: after a namespace or word separator.
FILTER_CUT_AFTER = "/-_."


@dataclass(frozen=True)
class ScanningRule:
    scan_frequency: str  # SCAN_ON_PUSH | CONTINUOUS_SCAN | MANUAL
    filters: tuple[str, ...]  # repository filters (filterType WILDCARD)


@dataclass(frozen=True)
class RegistryScanning:
    scan_type: str  # BASIC | ENHANCED
    rules: tuple[ScanningRule, ...] = ()


def rule_covers(rule: ScanningRule, repository_name: str) -> bool:
    return rule.scan_frequency in SCANNING_FREQUENCIES and any(
        scanning_filter_matches(f, repository_name) for f in rule.filters
    )


def is_scanned_on_push(repository_name: str, scanning: RegistryScanning) -> bool:
    return any(rule_covers(rule, repository_name) for rule in scanning.rules)


def scan_on_push_filters(scanning: RegistryScanning) -> tuple[str, ...] | None:
    """The SCAN_ON_PUSH rule's filters, or None when there is no such rule."""
    rule = next((rule for rule in scanning.rules if rule.scan_frequency == SCAN_ON_PUSH), None)
    return None if rule is None else rule.filters


def describe_scanning(scanning: RegistryScanning) -> str:
    rules = "; ".join(f"{rule.scan_frequency}: {','.join(rule.filters)}" for rule in scanning.rules)
    return f"{scanning.scan_type} [{rules}]" if rules else f"{scanning.scan_type} [no rules]"


@dataclass(frozen=True)
class RepositoryCoverage:
    """What the coverage planner knows of one repository."""

    name: str
    must_scan: bool  # not exempt from scan on push (and read)
    # Exempt from scan on push: no new filter may start scanning it. A repository that could not be read is neither
    # a target nor protected: one unreadable repository must not keep a broad filter from covering the others.
    protected: bool = False


@dataclass(frozen=True)
class ScanningPlan:
    current: RegistryScanning
    planned_on: tuple[str, ...] | None  # the SCAN_ON_PUSH filters the plan was made from (None: no such rule)
    filters_after: tuple[str, ...] | None = None  # None: nothing to write
    uncovered: tuple[str, ...] = ()  # repositories that must be scanned and were not
    not_coverable: tuple[str, ...] = ()  # left uncovered by ECR's limits (reported, never silent)

    @property
    def writes(self) -> bool:
        return self.filters_after is not None


def covering_filter(repository_name: str, must_not_cover: Iterable[str]) -> str | None:
    """The broadest valid filter matching the repository and none of `must_not_cover`: `*`, a prefix cut after a
    separator (`team-a/*`, `team-*`), the name as a prefix (`name*`), the name itself (contains); None if none."""
    protected = tuple(must_not_cover)
    candidates = ["*"]
    candidates += [repository_name[: i + 1] + "*" for i, char in enumerate(repository_name) if char in FILTER_CUT_AFTER]
    candidates += [repository_name + "*", repository_name]
    for candidate in candidates:
        if not is_valid_scanning_filter(candidate) or not scanning_filter_matches(candidate, repository_name):
            continue
        if not any(scanning_filter_matches(candidate, name) for name in protected):
            return candidate
    return None


def _covering_set(targets: Sequence[str], protected: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(filters, names no filter can cover): greedy over sorted names, broadest filter first. Past ECR's limit the
    remaining names are left to `_with_limit` to report (bounds the work on a registry that needs a filter each)."""
    chosen: list[str] = []
    impossible: list[str] = []
    for name in sorted(set(targets)):
        if any(scanning_filter_matches(f, name) for f in chosen):
            continue
        if len(chosen) > MAX_FILTERS_PER_SCANNING_RULE:
            impossible.append(name)
            continue
        candidate = covering_filter(name, protected)
        if candidate is None:
            impossible.append(name)
        else:
            chosen.append(candidate)
    return tuple(chosen), tuple(impossible)


def _with_limit(
    filters: tuple[str, ...], uncovered: Sequence[str], protected_impossible: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Cut to ECR's 100 filters; the repositories the cut leaves uncovered are not coverable."""
    kept = filters[:MAX_FILTERS_PER_SCANNING_RULE]
    left = [name for name in uncovered if not any(scanning_filter_matches(f, name) for f in kept)]
    return kept, tuple(sorted(set(left) | set(protected_impossible)))


def plan_full_coverage(current: RegistryScanning, repositories: Sequence[RepositoryCoverage]) -> ScanningPlan:
    """A full reconcile: scan every repository that must be, as the smallest set of SCAN_ON_PUSH filters.

    The SCAN_ON_PUSH rule is rewritten as the smallest covering set when that is fewer filters than appending to it
    (so names added one by one for new repositories fold into prefixes or `*`), keeping every repository it covers
    today covered and newly covering none that must not be scanned.
    """
    planned_on = scan_on_push_filters(current)
    other_rules = [rule for rule in current.rules if rule.scan_frequency != SCAN_ON_PUSH]

    def covered_elsewhere(name: str) -> bool:
        return any(rule_covers(rule, name) for rule in other_rules)

    def covered_by_ours(name: str) -> bool:
        return any(scanning_filter_matches(f, name) for f in planned_on or ())

    uncovered = tuple(sorted(r.name for r in repositories if r.must_scan and not is_scanned_on_push(r.name, current)))
    kept = [r.name for r in repositories if covered_by_ours(r.name) and not covered_elsewhere(r.name)]
    protected = [r.name for r in repositories if r.protected and not is_scanned_on_push(r.name, current)]
    if planned_on is None and uncovered and len(current.rules) >= MAX_SCANNING_RULES:
        return ScanningPlan(current, planned_on, uncovered=uncovered, not_coverable=uncovered)
    rewritten, impossible = _covering_set([*kept, *uncovered], protected)
    existing = planned_on or ()
    appended_new, impossible_new = _covering_set(uncovered, protected)
    appended = existing + tuple(f for f in appended_new if f not in existing)
    if not uncovered and len(rewritten) >= len(existing):
        return ScanningPlan(current, planned_on)  # steady state: nothing to cover, nothing to fold
    if len(rewritten) < len(appended) and not set(impossible) & set(kept):
        filters, not_coverable = _with_limit(rewritten, uncovered, impossible)
    else:
        filters, not_coverable = _with_limit(appended, uncovered, impossible_new)
    if filters == existing:
        return ScanningPlan(current, planned_on, uncovered=uncovered, not_coverable=not_coverable)
    return ScanningPlan(current, planned_on, filters, uncovered, not_coverable)


def plan_event_coverage(
    current: RegistryScanning,
    repository_name: str,
    registry_names: Sequence[str],
    is_scan_exempt: Callable[[str], bool],
) -> ScanningPlan:
    """One repository (an event): add the narrowest filter that scans it - its name as a prefix, else the name
    (contains) - unless that would start scanning a repository exempt from it. `is_scan_exempt` is asked only about
    the few repositories a candidate would newly cover; the daily reconcile later folds such filters."""
    planned_on = scan_on_push_filters(current)
    if is_scanned_on_push(repository_name, current):
        return ScanningPlan(current, planned_on)
    uncovered = (repository_name,)
    if planned_on is None and len(current.rules) >= MAX_SCANNING_RULES:
        return ScanningPlan(current, planned_on, uncovered=uncovered, not_coverable=uncovered)
    existing = planned_on or ()
    for candidate in (repository_name + "*", repository_name):
        if not is_valid_scanning_filter(candidate):
            continue
        newly = [
            name
            for name in registry_names
            if name != repository_name
            and scanning_filter_matches(candidate, name)
            and not is_scanned_on_push(name, current)
        ]
        if not any(is_scan_exempt(name) for name in newly):
            if len(existing) >= MAX_FILTERS_PER_SCANNING_RULE:
                break
            return ScanningPlan(current, planned_on, (*existing, candidate), uncovered)
    return ScanningPlan(current, planned_on, uncovered=uncovered, not_coverable=uncovered)


def merge_into(fresh: RegistryScanning, plan: ScanningPlan) -> RegistryScanning | None:
    """The configuration to write: the plan applied to what the registry holds NOW (read right before writing).

    The scan type and every other rule come from `fresh`. If the SCAN_ON_PUSH rule is what the plan was made from,
    the plan's filters replace it; if someone changed it meanwhile, only the plan's additions are appended to theirs.
    None: nothing to write (already there, or no room for a SCAN_ON_PUSH rule).
    """
    if plan.filters_after is None:
        return None
    fresh_filters = scan_on_push_filters(fresh)
    if fresh_filters == plan.planned_on:
        filters = plan.filters_after
    else:
        additions = [f for f in plan.filters_after if f not in (plan.planned_on or ())]
        base = fresh_filters or ()
        filters = (*base, *(f for f in additions if f not in base))[:MAX_FILTERS_PER_SCANNING_RULE]
    if filters == fresh_filters:
        return None
    rules = [rule for rule in fresh.rules if rule.scan_frequency != SCAN_ON_PUSH]
    if fresh_filters is None and len(rules) >= MAX_SCANNING_RULES:
        return None
    position = next((i for i, rule in enumerate(fresh.rules) if rule.scan_frequency == SCAN_ON_PUSH), len(rules))
    rules.insert(position, ScanningRule(SCAN_ON_PUSH, tuple(filters)))
    return RegistryScanning(fresh.scan_type, tuple(rules))
