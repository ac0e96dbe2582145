"""The desired state of a repository, as pure checks over what the ECR adapter read.

Nothing here calls AWS: each function takes plain data and returns a `Check` (what was found, what it should be).
assess.py runs them; apply.py writes what a violation with a safe write needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ecr_governance.enforce.model import Aspect, Check, Status
from ecr_governance.enforce.registry_settings import RegistrySettings, RepositoryEncryption
from ecr_governance.enforce.scanning import RegistryScanning
from ecr_governance.enforce.settings import EnforceSettings, TagMutability
from ecr_governance.lifecycle.validate import validate_policy
from ecr_governance.repositories import Repository
from ecr_governance.signing import SigningRule, signing_rule_for
from ecr_governance.wildcard import exclusion_filter_matches

ENCRYPTION_FIXED_AT_CREATION = (
    "encryption is fixed when a repository is created: re-create it (the ROOT creation template encrypts the "
    "repositories ECR creates)"
)
CACHE_CLASS_DETAIL = (
    "a pull-through cache repository is pulled by digest (untagged): the standard policy's expire-untagged rule "
    "would delete images in use"
)


# ---- tag mutability -------------------------------------------------------------------------------------------
def describe_mutability(mutability: str, filters: Iterable[str]) -> str:
    filters = tuple(filters)
    return f"{mutability} [{', '.join(filters)}]" if filters else mutability


def exclusion_filter_allowed(exclusion_filter: str, allowed_filters: Iterable[str]) -> bool:
    """An existing filter is within the allowed set when it is one of them, or a literal tag one of them matches."""
    return any(
        exclusion_filter == allowed
        or ("*" not in exclusion_filter and exclusion_filter_matches(allowed, exclusion_filter))
        for allowed in allowed_filters
    )


def mutability_problem(mutability: str, filters: Iterable[str], settings: EnforceSettings) -> str | None:
    """Why a tag mutability (a repository's or a creation template's) breaks the standard, or None."""
    if mutability == TagMutability.IMMUTABLE:
        return None
    if mutability == TagMutability.IMMUTABLE_WITH_EXCLUSION:
        disallowed = [f for f in filters if not exclusion_filter_allowed(f, settings.allowed_exclusion_filters)]
        return f"exclusion filters outside the allowed set: {', '.join(disallowed)}" if disallowed else None
    return "tags can be overwritten"


def check_tag_mutability(repository: Repository, settings: EnforceSettings) -> Check:
    before = describe_mutability(repository.tag_mutability, repository.exclusion_filters)
    problem = mutability_problem(repository.tag_mutability, repository.exclusion_filters, settings)
    if problem is None:
        return Check(Aspect.TAG_MUTABILITY, Status.COMPLIANT, before)
    after = describe_mutability(settings.tag_mutability, settings.remediation_exclusion_filters)
    return Check(Aspect.TAG_MUTABILITY, Status.VIOLATION, before, after, detail=problem)


# ---- scanning (the registry-level coverage is planned in scanning.py) -----------------------------------------
def check_repository_scan_on_push(repository: Repository, scanning: RegistryScanning) -> Check | None:
    """Under BASIC scanning the repository-level scanOnPush flag is also kept on: consoles and auditors read it."""
    if scanning.scan_type != "BASIC":
        return None
    if repository.scan_on_push:
        return Check(Aspect.REPOSITORY_SCAN_ON_PUSH, Status.COMPLIANT, "scanOnPush=true")
    return Check(Aspect.REPOSITORY_SCAN_ON_PUSH, Status.VIOLATION, "scanOnPush=false", "scanOnPush=true")


# ---- lifecycle policy -----------------------------------------------------------------------------------------
def canonical_policy(policy: Any) -> str:
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))


def check_lifecycle_policy(policy_text: str | None, settings: EnforceSettings, cache: bool = False) -> Check:
    """The standard policy (the cache policy for a pull-through cache repository) or a custom one, kept."""
    wanted = "cache policy" if cache else "standard policy"
    if policy_text is None:
        return Check(Aspect.LIFECYCLE_POLICY, Status.VIOLATION, "none", wanted)
    try:
        policy = canonical_policy(json.loads(policy_text))
    except json.JSONDecodeError:
        policy = None
    standard = canonical_policy(settings.standard_lifecycle_policy)
    if policy == (canonical_policy(settings.registry.cache_lifecycle_policy) if cache else standard):
        return Check(Aspect.LIFECYCLE_POLICY, Status.COMPLIANT, wanted)
    if cache and policy == standard:  # ours, of the wrong class: replacing it overwrites nobody's choice
        return Check(Aspect.LIFECYCLE_POLICY, Status.VIOLATION, "standard policy", wanted, CACHE_CLASS_DETAIL)
    return Check(Aspect.LIFECYCLE_POLICY, Status.CUSTOM, "custom policy", detail=custom_policy_warnings(policy_text))


def custom_policy_warnings(policy_text: str) -> str:
    """Report what the lifecycle validator finds in a custom policy we keep (e.g. a multi-prefix AND rule)."""
    report = validate_policy(policy_text)  # reports unparseable text as an error; never raises
    findings = [*report.errors, *report.warnings]
    return "kept" + ("; " + "; ".join(str(finding) for finding in findings) if findings else "")


# ---- encryption and signing (detect only: no safe write exists) -----------------------------------------------
def encryption_problem(encryption_type: str, kms_key: str, settings: RegistrySettings) -> str | None:
    """Why an encryption (a repository's or a template's) is not what RepositoryEncryption asks, or None."""
    accepted = {RepositoryEncryption.KMS, RepositoryEncryption.KMS_DSSE}
    if settings.repository_encryption is RepositoryEncryption.KMS_DSSE:
        accepted = {RepositoryEncryption.KMS_DSSE}
    if encryption_type not in accepted:
        return f"{encryption_type or 'AES256'}, not {settings.repository_encryption}"
    if settings.repository_kms_key_arn and kms_key != settings.repository_kms_key_arn:
        return f"KMS key {kms_key or 'aws/ecr'}, not {settings.repository_kms_key_arn}"
    return None


def check_encryption(repository: Repository, settings: RegistrySettings) -> Check:
    """Security Hub ECR.5: encrypted with a KMS key (the one named, if one is)."""
    before = repository.encryption_type + (f" ({repository.kms_key})" if repository.kms_key else "")
    problem = encryption_problem(repository.encryption_type, repository.kms_key, settings)
    if problem is None:
        return Check(Aspect.ENCRYPTION, Status.COMPLIANT, before)
    return Check(Aspect.ENCRYPTION, Status.VIOLATION, before, str(settings.repository_encryption), problem)


def check_signing(repository: Repository, rules: Iterable[SigningRule]) -> Check:
    """A repository SignedRepositoryPatterns names: a managed signing rule signs its images on push."""
    rule = signing_rule_for(repository.name, rules)
    if rule is not None:
        return Check(Aspect.SIGNING, Status.COMPLIANT, f"signed by {rule.signing_profile_arn}")
    detail = "no managed signing rule matches the repository: add one (PutSigningConfiguration, a Signer profile)"
    return Check(Aspect.SIGNING, Status.VIOLATION, "not signed", "signed on push", detail)
