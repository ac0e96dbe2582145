"""The desired state of a repository, as pure checks over what the ECR adapter read.

Nothing here calls AWS: each function takes plain data and returns a `Check` (what was found, what it should be).
service.py turns checks into a plan and applies it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from ecr_governance.enforce.model import Aspect, Check, RegistryScanning, Repository, ScanningRule, Status
from ecr_governance.enforce.settings import EnforceSettings, TagMutability
from ecr_governance.lifecycle.validate import validate_policy
from ecr_governance.wildcard import exclusion_filter_matches, scanning_filter_matches

# PutRegistryScanningConfiguration limits: at most 2 rules, at most 100 repository filters per rule.
MAX_SCANNING_RULES = 2
MAX_FILTERS_PER_SCANNING_RULE = 100
# Frequencies under which a repository's pushes get scanned.
SCANNING_FREQUENCIES = ("SCAN_ON_PUSH", "CONTINUOUS_SCAN")


# ---- tag mutability -------------------------------------------------------------------------------------------
def _describe_mutability(mutability: str, filters: Iterable[str]) -> str:
    filters = tuple(filters)
    return f"{mutability} [{', '.join(filters)}]" if filters else mutability


def exclusion_filter_allowed(exclusion_filter: str, allowed_filters: Iterable[str]) -> bool:
    """An existing filter is within the allowed set when it is one of them, or a literal tag one of them matches."""
    return any(
        exclusion_filter == allowed
        or ("*" not in exclusion_filter and exclusion_filter_matches(allowed, exclusion_filter))
        for allowed in allowed_filters
    )


def check_tag_mutability(repository: Repository, settings: EnforceSettings) -> Check:
    before = _describe_mutability(repository.tag_mutability, repository.exclusion_filters)
    after = _describe_mutability(settings.tag_mutability, settings.remediation_exclusion_filters)
    if repository.tag_mutability == TagMutability.IMMUTABLE:
        return Check(Aspect.TAG_MUTABILITY, Status.COMPLIANT, before)
    if repository.tag_mutability == TagMutability.IMMUTABLE_WITH_EXCLUSION:
        disallowed = [
            f
            for f in repository.exclusion_filters
            if not exclusion_filter_allowed(f, settings.allowed_exclusion_filters)
        ]
        if not disallowed:
            return Check(Aspect.TAG_MUTABILITY, Status.COMPLIANT, before)
        return Check(
            Aspect.TAG_MUTABILITY,
            Status.VIOLATION,
            before,
            after,
            detail=f"exclusion filters outside the allowed set: {', '.join(disallowed)}",
        )
    return Check(Aspect.TAG_MUTABILITY, Status.VIOLATION, before, after, detail="tags can be overwritten")


# ---- scanning -------------------------------------------------------------------------------------------------
def is_scanned_on_push(repository_name: str, scanning: RegistryScanning) -> bool:
    return any(
        rule.scan_frequency in SCANNING_FREQUENCIES
        and any(scanning_filter_matches(f, repository_name) for f in rule.filters)
        for rule in scanning.rules
    )


def check_registry_scanning(repository_name: str, scanning: RegistryScanning) -> Check:
    if is_scanned_on_push(repository_name, scanning):
        return Check(Aspect.REGISTRY_SCANNING, Status.COMPLIANT, f"{scanning.scan_type} covered")
    return Check(
        Aspect.REGISTRY_SCANNING,
        Status.VIOLATION,
        f"{scanning.scan_type} not covered",
        f"{scanning.scan_type} SCAN_ON_PUSH",
        detail="no registry scanning rule matches the repository",
    )


def check_repository_scan_on_push(repository: Repository, scanning: RegistryScanning) -> Check | None:
    """Under BASIC scanning the repository-level scanOnPush flag is also kept on: consoles and auditors read it."""
    if scanning.scan_type != "BASIC":
        return None
    if repository.scan_on_push:
        return Check(Aspect.REPOSITORY_SCAN_ON_PUSH, Status.COMPLIANT, "scanOnPush=true")
    return Check(Aspect.REPOSITORY_SCAN_ON_PUSH, Status.VIOLATION, "scanOnPush=false", "scanOnPush=true")


@dataclass(frozen=True)
class ScanningCoveragePlan:
    after: RegistryScanning | None  # None: nothing to write
    added_filters: tuple[str, ...] = ()
    not_coverable: tuple[str, ...] = ()  # repositories the limits leave uncovered (reported, never silent)


# Where a repository name may be cut to make a broader filter: after a namespace or word separator.
FILTER_CUT_AFTER = "/-_."


def covering_filter(repository_name: str, must_not_cover: Collection[str]) -> str:
    """The broadest WILDCARD filter for this repository that matches none of `must_not_cover`: `*`, then a prefix
    cut after a separator (`team-a/*`, `team-*`), else the name itself."""
    candidates = ["*"]
    candidates += [repository_name[: i + 1] + "*" for i, char in enumerate(repository_name) if char in FILTER_CUT_AFTER]
    for candidate in candidates:
        if not any(scanning_filter_matches(candidate, protected) for protected in must_not_cover):
            return candidate
    return repository_name


def plan_scanning_coverage(
    current: RegistryScanning, uncovered: Iterable[str], must_not_cover: Collection[str] | None
) -> ScanningCoveragePlan:
    """Merge the repositories into the registry's scanning rules, keeping every existing rule, type and frequency.

    `must_not_cover`: repositories a new filter must not start scanning (the exempt ones not scanned today). With
    the full list (a full reconcile), broad filters cover many repositories - and future ones - in few filters,
    which ECR's 100-filter limit needs at scale. None means the caller does not know the registry (one event), so
    each repository is added by name.
    """
    uncovered = sorted(set(uncovered))
    if not uncovered:
        return ScanningCoveragePlan(after=None)
    if must_not_cover is None:
        wanted = tuple(uncovered)
    else:
        chosen: list[str] = []
        for name in uncovered:
            if not any(scanning_filter_matches(f, name) for f in chosen):
                chosen.append(covering_filter(name, must_not_cover))
        wanted = tuple(chosen)
    rules = list(current.rules)
    target_index = next((i for i, rule in enumerate(rules) if rule.scan_frequency == "SCAN_ON_PUSH"), None)
    if target_index is None:
        if len(rules) >= MAX_SCANNING_RULES:
            return ScanningCoveragePlan(after=None, not_coverable=tuple(uncovered))
        rules.append(ScanningRule(scan_frequency="SCAN_ON_PUSH", filters=()))
        target_index = len(rules) - 1
    existing_filters = rules[target_index].filters
    room = MAX_FILTERS_PER_SCANNING_RULE - len(existing_filters)
    added = tuple(f for f in wanted if f not in existing_filters)[: max(room, 0)]
    not_coverable = tuple(name for name in uncovered if not any(scanning_filter_matches(f, name) for f in added))
    if not added:
        return ScanningCoveragePlan(after=None, not_coverable=not_coverable)
    rules[target_index] = ScanningRule(scan_frequency="SCAN_ON_PUSH", filters=existing_filters + added)
    return ScanningCoveragePlan(
        after=RegistryScanning(scan_type=current.scan_type, rules=tuple(rules)),
        added_filters=added,
        not_coverable=not_coverable,
    )


# ---- lifecycle policy -----------------------------------------------------------------------------------------
def _canonical(policy: Any) -> str:
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))


def check_lifecycle_policy(policy_text: str | None, settings: EnforceSettings) -> Check:
    if policy_text is None:
        return Check(Aspect.LIFECYCLE_POLICY, Status.VIOLATION, "none", "standard policy")
    try:
        policy = json.loads(policy_text)
    except json.JSONDecodeError:
        policy = None
    if policy is not None and _canonical(policy) == _canonical(settings.standard_lifecycle_policy):
        return Check(Aspect.LIFECYCLE_POLICY, Status.COMPLIANT, "standard policy")
    return Check(
        Aspect.LIFECYCLE_POLICY,
        Status.CUSTOM,
        "custom policy",
        detail=custom_policy_warnings(policy_text),
    )


def custom_policy_warnings(policy_text: str) -> str:
    """Report what the lifecycle validator finds in a custom policy we keep (e.g. a multi-prefix AND rule)."""
    report = validate_policy(policy_text)  # reports unparseable text as an error; never raises
    findings = [*report.errors, *report.warnings]
    return "kept" + ("; " + "; ".join(str(finding) for finding in findings) if findings else "")
