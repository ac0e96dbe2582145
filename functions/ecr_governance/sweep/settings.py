"""The sweep's typed settings, parsed once from the environment (both sweep functions read the same ones).

Each setting is said once, in its SettingDoc below (see ecr_governance.config). Exemptions are enforcement's: a
repository exempt from `lifecycle` is never swept. The worker obeys its own settings, not the planner's: switching
SweepMode to dry-run stops deletions at once, in messages already queued, handed on or redriven too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from ecr_governance.config import (
    BOOLEAN,
    SettingDoc,
    arn_setting,
    bool_setting,
    enum_setting,
    float_setting,
    int_setting,
    text_setting,
)
from ecr_governance.errors import SettingsError
from ecr_governance.exemptions import EXEMPTION_SETTINGS_DOCS, ExemptionSettings
from ecr_governance.organization.settings import SETTINGS_DOCS as ORGANIZATION_SETTINGS_DOCS
from ecr_governance.organization.settings import OrganizationSettings
from ecr_governance.registry_api import REGISTRY_API, RegistryApi, registry_api_setting

MAX_DAYS = 3650  # ten years: beyond it a minimum age means "never"
MAX_DEADLINE_HOURS = 23  # a daily run's summary comes before the next run starts


class SweepMode(StrEnum):
    DRY_RUN = "dry-run"
    DELETE = "delete"


PRICE_PATTERN = r"^[0-9]+(\.[0-9]+)?$"  # the template's: a plain decimal number
SWEEP_MODE = SettingDoc(
    "SWEEP_MODE",
    "SweepMode",
    "dry-run",
    "Untagged sweep: `dry-run` plans and reports every repository's sweep but deletes nothing; `delete` deletes the "
    "candidates (see [Untagged sweep](sweep.md)).",
    allowed=tuple(SweepMode),
)
SWEEP_MIN_AGE_DAYS = SettingDoc(
    "SWEEP_MIN_AGE_DAYS",
    "SweepMinAgeDays",
    "14",
    "An untagged image is swept only when it was pushed more than this many days ago (0-3650, fractions allowed).",
    minimum=0,
    maximum=MAX_DAYS,
)
SWEEP_MIN_IDLE_DAYS = SettingDoc(
    "SWEEP_MIN_IDLE_DAYS",
    "SweepMinIdleDays",
    "30",
    "... and not pulled within this many days (`lastRecordedPullTime`; an image never pulled counts from its push).",
    minimum=0,
    maximum=MAX_DAYS,
)
SWEEP_ARCHIVED = SettingDoc(
    "SWEEP_ARCHIVED",
    "SweepArchived",
    "false",
    "`true` also sweeps archived images whose 90-day archive minimum has passed (ACTIVATING images never).",
    allowed=BOOLEAN,
)
STORAGE_PRICE_PER_GB_MONTH = SettingDoc(
    "STORAGE_PRICE_PER_GB_MONTH",
    "StoragePricePerGbMonth",
    "0.10",
    "USD per GB-month of ECR standard storage, for the run summary's estimated monthly savings and the "
    "MonthlySavingsUsd metric.",
    minimum=0.0,
    maximum=1000.0,
    pattern=PRICE_PATTERN,
)
ARCHIVE_PRICE_PER_GB_MONTH = SettingDoc(
    "ARCHIVE_PRICE_PER_GB_MONTH",
    "ArchivePricePerGbMonth",
    "0.10",
    "USD per GB-month of ECR archive storage (the same as standard for a registry's first 150 TB, 0.07 above), for "
    "the savings of archived images swept; the summary shows standard and archive bytes apart.",
    minimum=0.0,
    maximum=1000.0,
    pattern=PRICE_PATTERN,
)
SWEEP_RUN_DEADLINE_HOURS = SettingDoc(
    "SWEEP_RUN_DEADLINE_HOURS",
    "SweepRunDeadlineHours",
    "6",
    "A run's summary goes out when every repository reported, or this many hours (1-23) after the run started, naming "
    "the repositories not swept (a message in the dead-letter queue, one still retrying).",
    minimum=1,
    maximum=MAX_DEADLINE_HOURS,
)
SWEEP_TOPIC_ARN = SettingDoc(
    "SWEEP_TOPIC_ARN",
    "NotifySweep",
    "false",
    "Publish one summary per sweep run (and the sweep dead-letter alarm) to an SNS topic the stack creates; "
    "NotificationEmail optionally subscribes an address.",
    allowed=BOOLEAN,
    unset="",
    feeds="the created topic's ARN when true",
)
SWEEP_QUEUE_URL = SettingDoc(
    "SWEEP_QUEUE_URL",
    "(the sweep queue)",
    "",
    "The queue of repository and continuation messages. Empty (a local invoke): the planner reports what it would send "
    "and the worker finishes every repository in one invocation.",
)
SWEEP_RUNS_TABLE = SettingDoc(
    "SWEEP_RUNS_TABLE",
    "(the runs table)",
    "",
    "DynamoDB table of each run's results (atomic counters; the last result publishes the summary). Empty: results "
    "are only logged.",
)
# What both sweep functions read, each said once (see ecr_governance.config.SettingDoc).
SETTINGS_DOCS: tuple[SettingDoc, ...] = (
    SWEEP_MODE,
    SWEEP_MIN_AGE_DAYS,
    SWEEP_MIN_IDLE_DAYS,
    SWEEP_ARCHIVED,
    STORAGE_PRICE_PER_GB_MONTH,
    ARCHIVE_PRICE_PER_GB_MONTH,
    SWEEP_RUN_DEADLINE_HOURS,
    SWEEP_TOPIC_ARN,
    SWEEP_QUEUE_URL,
    SWEEP_RUNS_TABLE,
    REGISTRY_API,
    *EXEMPTION_SETTINGS_DOCS,
    *ORGANIZATION_SETTINGS_DOCS,
)


@dataclass(frozen=True)
class SweepRules:
    """What one repository's sweep obeys: the settings in force where the sweep runs (never a message's copy)."""

    mode: SweepMode = SweepMode(SWEEP_MODE.default)
    min_age: timedelta = timedelta(days=float(SWEEP_MIN_AGE_DAYS.default))
    min_idle: timedelta = timedelta(days=float(SWEEP_MIN_IDLE_DAYS.default))
    sweep_archived: bool = SWEEP_ARCHIVED.default == "true"

    @property
    def deletes(self) -> bool:
        return self.mode is SweepMode.DELETE

    def __post_init__(self) -> None:
        for name, value in (("min_age", self.min_age), ("min_idle", self.min_idle)):
            if not timedelta(0) <= value <= timedelta(days=MAX_DAYS):
                raise SettingsError(f"{name} must be from 0 to {MAX_DAYS} days, got {value}")


@dataclass(frozen=True)
class SweepSettings:
    rules: SweepRules = field(default_factory=SweepRules)
    exemptions: ExemptionSettings = field(default_factory=ExemptionSettings)
    organization: OrganizationSettings = field(default_factory=OrganizationSettings)
    registry_api: RegistryApi = RegistryApi.AWS
    storage_price_per_gb_month: float = float(STORAGE_PRICE_PER_GB_MONTH.default)
    archive_price_per_gb_month: float = float(ARCHIVE_PRICE_PER_GB_MONTH.default)
    run_deadline: timedelta = timedelta(hours=int(SWEEP_RUN_DEADLINE_HOURS.default))
    topic_arn: str = ""
    queue_url: str = ""
    runs_table: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SweepSettings:
        environ = os.environ if environ is None else environ
        rules = SweepRules(
            mode=enum_setting(environ, SWEEP_MODE, SweepMode),
            min_age=timedelta(days=float_setting(environ, SWEEP_MIN_AGE_DAYS)),
            min_idle=timedelta(days=float_setting(environ, SWEEP_MIN_IDLE_DAYS)),
            sweep_archived=bool_setting(environ, SWEEP_ARCHIVED),
        )
        queue_url = text_setting(environ, SWEEP_QUEUE_URL)
        if queue_url and not queue_url.startswith(("https://", "http://")):
            raise SettingsError(f"SWEEP_QUEUE_URL={queue_url!r} is not valid: expected an SQS queue URL (https://...)")
        return cls(
            rules=rules,
            exemptions=ExemptionSettings.from_environ(environ),
            organization=OrganizationSettings.from_environ(environ),
            registry_api=registry_api_setting(environ),
            storage_price_per_gb_month=float_setting(environ, STORAGE_PRICE_PER_GB_MONTH),
            archive_price_per_gb_month=float_setting(environ, ARCHIVE_PRICE_PER_GB_MONTH),
            run_deadline=timedelta(hours=int_setting(environ, SWEEP_RUN_DEADLINE_HOURS)),
            topic_arn=arn_setting(environ, SWEEP_TOPIC_ARN, "sns"),
            queue_url=queue_url,
            runs_table=text_setting(environ, SWEEP_RUNS_TABLE),
        )
