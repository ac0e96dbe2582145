"""The registry-level aspects besides creation templates, as pure checks: pull-time update exclusions and the
registry policy; and the checks that stand for an aspect left out, or unread."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ecr_governance.enforce.model import Aspect, Check, RegistryCheck, Status
from ecr_governance.enforce.registry_model import RegisterExclusion, RegistryPolicy
from ecr_governance.enforce.registry_settings import MAX_PULL_TIME_EXCLUSIONS
from ecr_governance.errors import Failure

ORGANIZATION_CONDITION_KEY = "aws:principalorgid"


def exempt_check(aspect: Aspect) -> RegistryCheck:
    return RegistryCheck(Check(aspect, Status.EXEMPT, "unchanged", detail="left out by ExemptRegistryAspects"))


def unread_check(aspect: Aspect, failure: Failure) -> RegistryCheck:
    return RegistryCheck(Check(aspect, Status.UNKNOWN, "not read"), failure=failure)


# ---- pull-time update exclusions ------------------------------------------------------------------------------
def check_pull_time_exclusions(exclusions: Sequence[str], scanner_roles: Sequence[str]) -> list[RegistryCheck]:
    """Every scanner role named is excluded (its pulls would make every image look in use, so `sinceImagePulled`
    rules and the sweep's idle threshold never fire); registering one is safe and done in enforce mode."""
    registered = set(exclusions)
    missing = [role for role in dict.fromkeys(scanner_roles) if role not in registered]
    before = f"{len(registered)} registered" + (f": {', '.join(sorted(registered))}" if registered else "")
    if not missing:
        return [RegistryCheck(Check(Aspect.PULL_TIME_EXCLUSIONS, Status.COMPLIANT, before))]
    room = MAX_PULL_TIME_EXCLUSIONS - len(registered)
    checks = []
    for index, role in enumerate(missing):
        detail = "a scanner role whose pulls count as use" if index < room else "ECR's 100 exclusions are taken"
        check = Check(Aspect.PULL_TIME_EXCLUSIONS, Status.VIOLATION, f"{role} not excluded", "excluded", detail)
        fits = index < room
        checks.append(RegistryCheck(check, RegisterExclusion(role) if fits else None, limit_reached=not fits))
    return checks


# ---- the registry policy (detect only) ------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _outside_principals(statement: dict[str, Any], account: str) -> list[str]:
    """The principals of an Allow statement outside the registry's account (`*` included)."""
    if "NotPrincipal" in statement:
        return ["NotPrincipal (everyone else)"]
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        return []
    outside = []
    for value in _as_list(principal.get("AWS", [])):
        text = str(value)
        owner = text.split(":")[4] if text.startswith("arn:") and text.count(":") >= 5 else text
        if owner != account:
            outside.append(text)
    return outside


def _names_organization(statement: dict[str, Any]) -> bool:
    conditions = statement.get("Condition")
    if not isinstance(conditions, dict):
        return False
    return any(
        isinstance(keys, dict) and any(str(key).lower() == ORGANIZATION_CONDITION_KEY for key in keys)
        for keys in conditions.values()
    )


def outside_grants(policy_text: str, account: str) -> list[str]:
    """Allow statements that grant principals outside the account without an aws:PrincipalOrgID condition, as
    `<Sid or statement N>: <principals>`; an unreadable policy is one finding."""
    try:
        document = json.loads(policy_text)
    except json.JSONDecodeError:
        return ["the policy is not valid JSON"]
    statements = _as_list(document.get("Statement", [])) if isinstance(document, dict) else []
    findings = []
    for number, statement in enumerate(statements, start=1):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or _names_organization(statement):
            continue
        outside = _outside_principals(statement, account)
        if outside:
            findings.append(f"{statement.get('Sid') or f'statement {number}'}: {', '.join(outside)}")
    return findings


def check_registry_policy(policy: RegistryPolicy | None) -> list[RegistryCheck]:
    if policy is None or not policy.text:
        return [RegistryCheck(Check(Aspect.REGISTRY_POLICY, Status.COMPLIANT, "none"))]
    findings = outside_grants(policy.text, policy.registry_id)
    if not findings:
        return [RegistryCheck(Check(Aspect.REGISTRY_POLICY, Status.COMPLIANT, "grants stay in the account or org"))]
    detail = "grants principals outside the account without an aws:PrincipalOrgID condition (detect only)"
    return [
        RegistryCheck(Check(Aspect.REGISTRY_POLICY, Status.VIOLATION, finding, "aws:PrincipalOrgID condition", detail))
        for finding in findings
    ]
