"""The settings of the registry-wide aspects ECR added in 2025-26 (issue 15): the lifecycle class of pull-through
cache repositories, the scanner roles pull times must not count, the repositories that must be signed, the
encryption repositories must have, and the registry-level aspects an account leaves out of the standard."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from typing import Any

from ecr_governance.config import SettingDoc, enum_setting, list_setting, text_setting
from ecr_governance.errors import SettingsError
from ecr_governance.lifecycle.validate import validate_policy
from ecr_governance.signing import SIGNED_REPOSITORY_PATTERNS

LIFECYCLE_PACKAGE = "ecr_governance.lifecycle"
CACHE_LIFECYCLE_RESOURCE = "policies/cache-lifecycle.json"
# ECR's PrincipalArn (RegisterPullTimeUpdateExclusion) and its limit of 100 exclusions a registry.
PRINCIPAL_ARN_PATTERN = re.compile(r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[\w+=,.@-]+(/[\w+=,.@-]+)*")
MAX_PULL_TIME_EXCLUSIONS = 100
# ECR's kmsKey of a creation template's encryption configuration.
KMS_KEY_PATTERN = re.compile(r"arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-z0-9-]+")


class RepositoryEncryption(StrEnum):
    AES256 = "AES256"  # ECR's default: not checked
    KMS = "KMS"
    KMS_DSSE = "KMS_DSSE"


class RegistryAspect(StrEnum):
    """The registry-level aspects an account can leave out of the standard (ExemptRegistryAspects)."""

    CREATION_TEMPLATE = "creation-template"
    PULL_TIME_EXCLUSIONS = "pull-time-exclusions"
    REGISTRY_POLICY = "registry-policy"


CACHE_LIFECYCLE_POLICY = SettingDoc(
    "CACHE_LIFECYCLE_POLICY",
    "CacheLifecyclePolicy",
    "",
    "Lifecycle policy JSON of pull-through cache repositories (their images are pulled by digest, untagged: the "
    "standard policy's expire-untagged rule would delete images in use); empty = the shipped "
    "`functions/ecr_governance/lifecycle/policies/cache-lifecycle.json` (expire cached images not pulled for 90 "
    "days). A cache repository carrying our standard policy gets this one; a custom policy is kept.",
)
SCANNER_ROLE_ARNS = SettingDoc(
    "SCANNER_ROLE_ARNS",
    "ScannerRoleArns",
    "",
    "Comma-separated IAM role ARNs of scanners that pull every image (at most 100); each must be a pull-time update "
    "exclusion, and enforce mode registers the missing ones (`RegisterPullTimeUpdateExclusion`), so a scanner's "
    "pulls keep no image looking in use.",
)
REPOSITORY_ENCRYPTION = SettingDoc(
    "REPOSITORY_ENCRYPTION",
    "RepositoryEncryption",
    "AES256",
    "Encryption every repository must have (Security Hub ECR.5): `AES256` (not checked), `KMS` (KMS or KMS_DSSE) or "
    "`KMS_DSSE`; detect only, since encryption is fixed at creation - the ROOT creation template carries it for new "
    "repositories.",
    allowed=tuple(RepositoryEncryption),
)
REPOSITORY_KMS_KEY_ARN = SettingDoc(
    "REPOSITORY_KMS_KEY_ARN",
    "RepositoryKmsKeyArn",
    "",
    "The KMS key repositories must be encrypted with (needs `RepositoryEncryption` KMS or KMS_DSSE; empty = any key, "
    "AWS-managed included); the ROOT creation template names it.",
    pattern=f"^$|^{KMS_KEY_PATTERN.pattern}$",
)
EXEMPT_REGISTRY_ASPECTS = SettingDoc(
    "EXEMPT_REGISTRY_ASPECTS",
    "ExemptRegistryAspects",
    "",
    "Comma-separated registry-level aspects left out of the standard: `creation-template`, `pull-time-exclusions`, "
    "`registry-policy` (each reported `exempt`).",
)
REGISTRY_SETTINGS_DOCS: tuple[SettingDoc, ...] = (
    CACHE_LIFECYCLE_POLICY,
    SCANNER_ROLE_ARNS,
    SIGNED_REPOSITORY_PATTERNS,
    REPOSITORY_ENCRYPTION,
    REPOSITORY_KMS_KEY_ARN,
    EXEMPT_REGISTRY_ASPECTS,
)


def load_lifecycle_policy(policy_text: str, setting_name: str, shipped_resource: str) -> dict[str, Any]:
    """Parse and validate a policy setting (empty: the shipped one) with ECR's own acceptance rules."""
    source = setting_name
    if not policy_text:
        policy_text = resources.files(LIFECYCLE_PACKAGE).joinpath(shipped_resource).read_text()
        source = f"{setting_name} (shipped {shipped_resource})"
    try:
        policy = json.loads(policy_text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{source} is not valid JSON: {error.msg} at line {error.lineno}") from error
    report = validate_policy(policy)
    if not report.valid or not isinstance(policy, dict):
        problems = "; ".join(str(finding) for finding in report.errors)
        raise SettingsError(f"{source} is not a valid ECR lifecycle policy: {problems}")
    return policy


def _each_matching(values: tuple[str, ...], name: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    for value in values:
        if not pattern.fullmatch(value):
            raise SettingsError(f"{name}: {value!r} is not {what}")
    return values


@dataclass(frozen=True)
class RegistrySettings:
    cache_lifecycle_policy: dict[str, Any] = field(default_factory=dict)
    scanner_role_arns: tuple[str, ...] = ()
    signed_repository_patterns: tuple[str, ...] = ()
    repository_encryption: RepositoryEncryption = RepositoryEncryption.AES256
    repository_kms_key_arn: str = ""
    exempt_aspects: frozenset[RegistryAspect] = frozenset()

    @property
    def requires_kms(self) -> bool:
        return self.repository_encryption is not RepositoryEncryption.AES256

    def covers(self, aspect: RegistryAspect) -> bool:
        """Whether the account left this registry-level aspect out of the standard."""
        return aspect in self.exempt_aspects

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RegistrySettings:
        scanners = list_setting(environ, SCANNER_ROLE_ARNS)
        _each_matching(scanners, "SCANNER_ROLE_ARNS", PRINCIPAL_ARN_PATTERN, "an IAM role or user ARN")
        if len(scanners) > MAX_PULL_TIME_EXCLUSIONS:
            raise SettingsError(f"SCANNER_ROLE_ARNS names {len(scanners)} roles; ECR keeps at most 100 exclusions")
        key = text_setting(environ, REPOSITORY_KMS_KEY_ARN)
        _each_matching((key,) if key else (), "REPOSITORY_KMS_KEY_ARN", KMS_KEY_PATTERN, "a KMS key ARN")
        encryption = enum_setting(environ, REPOSITORY_ENCRYPTION, RepositoryEncryption)
        if key and encryption is RepositoryEncryption.AES256:
            raise SettingsError("REPOSITORY_KMS_KEY_ARN needs REPOSITORY_ENCRYPTION=KMS or KMS_DSSE")
        exempt = list_setting(environ, EXEMPT_REGISTRY_ASPECTS)
        unknown = sorted(set(exempt) - set(RegistryAspect))
        if unknown:
            choices = ", ".join(RegistryAspect)
            raise SettingsError(f"EXEMPT_REGISTRY_ASPECTS: {', '.join(unknown)} is not one of {choices}")
        return cls(
            cache_lifecycle_policy=load_lifecycle_policy(
                text_setting(environ, CACHE_LIFECYCLE_POLICY), CACHE_LIFECYCLE_POLICY.env, CACHE_LIFECYCLE_RESOURCE
            ),
            scanner_role_arns=scanners,
            signed_repository_patterns=list_setting(environ, SIGNED_REPOSITORY_PATTERNS),
            repository_encryption=encryption,
            repository_kms_key_arn=key,
            exempt_aspects=frozenset(RegistryAspect(aspect) for aspect in exempt),
        )
