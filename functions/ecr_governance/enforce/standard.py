"""The desired state of a repository, as pure checks over what the ECR adapter read.

Nothing here calls AWS: each function takes plain data and returns a `Check` (what was found, what it should be).
service.py turns checks into a plan and applies it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ecr_governance.enforce.model import Aspect, Check, Status
from ecr_governance.enforce.scanning import RegistryScanning
from ecr_governance.enforce.settings import EnforceSettings, TagMutability
from ecr_governance.lifecycle.validate import validate_policy
from ecr_governance.repositories import Repository
from ecr_governance.wildcard import exclusion_filter_matches


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


# ---- scanning (the registry-level coverage is planned in scanning.py) -----------------------------------------
def check_repository_scan_on_push(repository: Repository, scanning: RegistryScanning) -> Check | None:
    """Under BASIC scanning the repository-level scanOnPush flag is also kept on: consoles and auditors read it."""
    if scanning.scan_type != "BASIC":
        return None
    if repository.scan_on_push:
        return Check(Aspect.REPOSITORY_SCAN_ON_PUSH, Status.COMPLIANT, "scanOnPush=true")
    return Check(Aspect.REPOSITORY_SCAN_ON_PUSH, Status.VIOLATION, "scanOnPush=false", "scanOnPush=true")


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
