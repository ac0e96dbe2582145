"""Enforcement's typed settings, parsed once from the environment.

Each setting is said once, in its SettingDoc below (see ecr_governance.config for what reads it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ecr_governance.config import (
    BOOLEAN,
    SettingDoc,
    arn_setting,
    enum_setting,
    int_setting,
    list_setting,
    text_setting,
)
from ecr_governance.enforce.registry_settings import (
    LIFECYCLE_PACKAGE,
    REGISTRY_SETTINGS_DOCS,
    RegistrySettings,
    load_lifecycle_policy,
)
from ecr_governance.errors import SettingsError
from ecr_governance.exemptions import EXEMPTION_SETTINGS_DOCS, ExemptionSettings
from ecr_governance.organization.settings import SETTINGS_DOCS as ORGANIZATION_SETTINGS_DOCS
from ecr_governance.organization.settings import OrganizationSettings
from ecr_governance.registry_api import REGISTRY_API, RegistryApi, registry_api_setting

# The shipped standard policy, inside the lifecycle package.
STANDARD_LIFECYCLE_PACKAGE = LIFECYCLE_PACKAGE
STANDARD_LIFECYCLE_RESOURCE = "policies/standard-lifecycle.json"
# ECR's rule for a tag-mutability exclusion filter (filterType WILDCARD), and its 1-5 filter limit.
EXCLUSION_FILTER_PATTERN = re.compile(r"^[0-9a-zA-Z._*-]{1,128}$")
MAX_EXCLUSION_FILTERS = 5
MAX_RECONCILE_CONCURRENCY = 64


class Mode(StrEnum):
    ENFORCE = "enforce"
    AUDIT = "audit"


class TagMutability(StrEnum):
    MUTABLE = "MUTABLE"
    IMMUTABLE = "IMMUTABLE"
    IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
    MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"


# The modes a repository may be remediated to; the MUTABLE* modes are what the standard forbids.
COMPLIANT_TARGET_MUTABILITIES = (TagMutability.IMMUTABLE, TagMutability.IMMUTABLE_WITH_EXCLUSION)


GOVERNANCE_MODE = SettingDoc(
    "GOVERNANCE_MODE",
    "EnforceMode",
    "enforce",
    "`enforce` remediates violations; `audit` only reports them (no writes).",
    allowed=tuple(Mode),
    replaces="Mode",
)
TAG_MUTABILITY = SettingDoc(
    "TAG_MUTABILITY",
    "TagMutability",
    "IMMUTABLE",
    "Mode a non-compliant repository is set to: `IMMUTABLE` or `IMMUTABLE_WITH_EXCLUSION`.",
    allowed=tuple(COMPLIANT_TARGET_MUTABILITIES),
)
ALLOWED_EXCLUSION_FILTERS = SettingDoc(
    "ALLOWED_EXCLUSION_FILTERS",
    "AllowedExclusionFilters",
    "sha256-*",
    "Comma-separated WILDCARD tag filters (1-5, `[0-9a-zA-Z._*-]`, up to 128 characters) a repository may exclude "
    "from immutability (IMMUTABLE_WITH_EXCLUSION counts as compliant when all its filters are in this set); the "
    "filters written when `TagMutability=IMMUTABLE_WITH_EXCLUSION`. The default allows cosign signature tags.",
)
STANDARD_LIFECYCLE_POLICY = SettingDoc(
    "STANDARD_LIFECYCLE_POLICY",
    "StandardLifecyclePolicy",
    "",
    "Lifecycle policy JSON given to repositories without one; empty = the shipped "
    "`functions/ecr_governance/lifecycle/policies/standard-lifecycle.json`.",
)
REMEDIATION_TOPIC_ARN = SettingDoc(
    "REMEDIATION_TOPIC_ARN",
    "NotifyRemediations",
    "false",
    "Publish a readable notification of each run's remediations and failures (and the enforcement alarms) to an SNS "
    "topic the stack creates; NotificationEmail optionally subscribes an address.",
    allowed=BOOLEAN,
    unset="",
    feeds="the created topic's ARN when true",
)
RECONCILE_CONCURRENCY = SettingDoc(
    "RECONCILE_CONCURRENCY",
    "ReconcileConcurrency",
    "8",
    "How many repositories a reconcile reads and writes at once (1-64); ECR's management APIs have unpublished rate "
    "limits, so it is bounded and throttles are retried adaptively.",
    minimum=1,
    maximum=MAX_RECONCILE_CONCURRENCY,
)
GOVERNANCE_ROLE_ARN = SettingDoc(
    "GOVERNANCE_ROLE_ARN",
    "(the function's own role)",
    "",
    "The enforcing function's own IAM role; CloudTrail events it caused are skipped (no loops).",
)
WORK_QUEUE_URL = SettingDoc(
    "WORK_QUEUE_URL",
    "(the member work queue)",
    "",
    "An organization hub's FIFO queue of member work (Scope=organization): the template creates it and sets this; "
    "empty in a single-account stack.",
)
RECONCILE_RUNS_TABLE = SettingDoc(
    "RECONCILE_RUNS_TABLE",
    "(the runs table)",
    "",
    "An organization hub's table of reconcile runs (Scope=organization; the sweep's runs table, shared): each member "
    "account-region's counts, recorded once, and the run's one summary. Empty: no run summary, each account-region's "
    "reconcile is only logged and notified on its own.",
)
MAX_SUMMARY_DEADLINE_HOURS = 23
RECONCILE_SUMMARY_DEADLINE_HOURS = SettingDoc(
    "RECONCILE_SUMMARY_DEADLINE_HOURS",
    "ReconcileSummaryDeadlineHours",
    "4",
    "An organization hub's reconcile summary goes out when every account-region queued by the fan-out reported, or "
    "this many hours (1-23) after the fan-out, naming the account-regions that did not report (a message in the "
    "member work dead-letter queue, one still retrying).",
    minimum=1,
    maximum=MAX_SUMMARY_DEADLINE_HOURS,
)
# What the enforcing functions read, each said once (see ecr_governance.config.SettingDoc).
SETTINGS_DOCS: tuple[SettingDoc, ...] = (
    GOVERNANCE_MODE,
    TAG_MUTABILITY,
    ALLOWED_EXCLUSION_FILTERS,
    STANDARD_LIFECYCLE_POLICY,
    REMEDIATION_TOPIC_ARN,
    *EXEMPTION_SETTINGS_DOCS,
    RECONCILE_CONCURRENCY,
    REGISTRY_API,
    *REGISTRY_SETTINGS_DOCS,
    GOVERNANCE_ROLE_ARN,
    WORK_QUEUE_URL,
    RECONCILE_RUNS_TABLE,
    RECONCILE_SUMMARY_DEADLINE_HOURS,
    *ORGANIZATION_SETTINGS_DOCS,
)


def load_standard_lifecycle_policy(
    policy_text: str, setting_name: str = STANDARD_LIFECYCLE_POLICY.env
) -> dict[str, Any]:
    """Parse and validate the standard policy with the lifecycle engine ECR's own acceptance rules use."""
    return load_lifecycle_policy(policy_text, setting_name, STANDARD_LIFECYCLE_RESOURCE)


@dataclass(frozen=True)
class EnforceSettings:
    mode: Mode = Mode(GOVERNANCE_MODE.default)
    tag_mutability: TagMutability = TagMutability(TAG_MUTABILITY.default)
    allowed_exclusion_filters: tuple[str, ...] = (ALLOWED_EXCLUSION_FILTERS.default,)
    standard_lifecycle_policy: dict[str, Any] = field(default_factory=dict)
    exemptions: ExemptionSettings = field(default_factory=ExemptionSettings)
    reconcile_concurrency: int = int(RECONCILE_CONCURRENCY.default)
    remediation_topic_arn: str = ""
    governance_role_arn: str = ""
    registry_api: RegistryApi = RegistryApi(REGISTRY_API.default)
    organization: OrganizationSettings = field(default_factory=OrganizationSettings)
    work_queue_url: str = ""
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    runs_table: str = ""
    summary_deadline_hours: int = int(RECONCILE_SUMMARY_DEADLINE_HOURS.default)

    @property
    def writes_enabled(self) -> bool:
        return self.mode is Mode.ENFORCE

    @property
    def remediation_exclusion_filters(self) -> tuple[str, ...]:
        """The exclusion filters written along with the target mutability (none for plain IMMUTABLE)."""
        if self.tag_mutability is TagMutability.IMMUTABLE_WITH_EXCLUSION:
            return self.allowed_exclusion_filters
        return ()

    @property
    def reads_tags_in_bulk(self) -> bool:
        """Whether exemption tags come from the Resource Groups Tagging API (which emulators do not serve for ECR)."""
        return self.registry_api is RegistryApi.AWS

    @property
    def reads_newer_registry_settings(self) -> bool:
        """Whether the endpoint serves the registry settings ECR added in 2025 (creation templates, pull-through
        cache rules, pull-time update exclusions, managed signing); emulators do not."""
        return self.registry_api is RegistryApi.AWS

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> EnforceSettings:
        environ = os.environ if environ is None else environ
        mode = enum_setting(environ, GOVERNANCE_MODE, Mode)
        mutability = enum_setting(environ, TAG_MUTABILITY, TagMutability)
        allowed_filters = _allowed_exclusion_filters(environ)
        if mutability is TagMutability.IMMUTABLE_WITH_EXCLUSION and not allowed_filters:
            raise SettingsError("TAG_MUTABILITY=IMMUTABLE_WITH_EXCLUSION needs ALLOWED_EXCLUSION_FILTERS (1 to 5)")
        topic_arn = arn_setting(environ, REMEDIATION_TOPIC_ARN, "sns")
        return cls(
            mode=mode,
            tag_mutability=mutability,
            allowed_exclusion_filters=allowed_filters,
            standard_lifecycle_policy=load_standard_lifecycle_policy(text_setting(environ, STANDARD_LIFECYCLE_POLICY)),
            exemptions=ExemptionSettings.from_environ(environ),
            reconcile_concurrency=int_setting(environ, RECONCILE_CONCURRENCY),
            remediation_topic_arn=topic_arn,
            governance_role_arn=text_setting(environ, GOVERNANCE_ROLE_ARN),
            registry_api=registry_api_setting(environ),
            organization=OrganizationSettings.from_environ(environ),
            work_queue_url=text_setting(environ, WORK_QUEUE_URL),
            registry=RegistrySettings.from_environ(environ),
            runs_table=text_setting(environ, RECONCILE_RUNS_TABLE),
            summary_deadline_hours=int_setting(environ, RECONCILE_SUMMARY_DEADLINE_HOURS),
        )


def _allowed_exclusion_filters(environ: Mapping[str, str]) -> tuple[str, ...]:
    allowed_filters = list_setting(environ, ALLOWED_EXCLUSION_FILTERS)
    for pattern in allowed_filters:
        if not EXCLUSION_FILTER_PATTERN.match(pattern):
            raise SettingsError(
                f"ALLOWED_EXCLUSION_FILTERS: {pattern!r} is not a valid exclusion filter "
                "(1-128 characters from 0-9 a-z A-Z . _ * -)"
            )
    if len(allowed_filters) > MAX_EXCLUSION_FILTERS:
        raise SettingsError(
            f"ALLOWED_EXCLUSION_FILTERS has {len(allowed_filters)} filters; ECR allows at most {MAX_EXCLUSION_FILTERS}"
        )
    return allowed_filters
