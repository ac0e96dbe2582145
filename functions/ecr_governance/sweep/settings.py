"""The sweep's typed settings, parsed once from the environment (both sweep functions read the same ones).

Every setting has a template Parameter, an environment variable, a default and a doc line (SETTINGS_DOCS); a contract
test holds the three together. Exemptions are enforcement's: a repository exempt from `lifecycle` is never swept.
The worker obeys its own settings, not the planner's: switching SweepMode to dry-run stops deletions at once, in
messages already queued, handed on or redriven too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from ecr_governance.config import (
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
from ecr_governance.registry_api import REGISTRY_API_DOC, RegistryApi, registry_api_setting

MAX_DAYS = 3650  # ten years: beyond it a minimum age means "never"
MAX_DEADLINE_HOURS = 23  # a daily run's summary comes before the next run starts


class SweepMode(StrEnum):
    DRY_RUN = "dry-run"
    DELETE = "delete"


SETTINGS_DOCS: tuple[SettingDoc, ...] = (
    SettingDoc(
        "SWEEP_MODE",
        "SweepMode",
        "dry-run",
        "`dry-run` plans and reports every repository's sweep but deletes nothing; `delete` deletes the candidates.",
    ),
    SettingDoc(
        "SWEEP_MIN_AGE_DAYS",
        "SweepMinAgeDays",
        "14",
        "An untagged image is a candidate only when it was pushed more than this many days ago.",
    ),
    SettingDoc(
        "SWEEP_MIN_IDLE_DAYS",
        "SweepMinIdleDays",
        "30",
        "... and not pulled within this many days (lastRecordedPullTime; an image never pulled counts from its push).",
    ),
    SettingDoc(
        "SWEEP_ARCHIVED",
        "SweepArchived",
        "false",
        "`true` also sweeps archived images whose 90-day archive minimum has passed; ACTIVATING images never.",
    ),
    SettingDoc(
        "STORAGE_PRICE_PER_GB_MONTH",
        "StoragePricePerGbMonth",
        "0.10",
        "USD per GB-month of ECR standard storage, for the estimated monthly savings in the run summary.",
    ),
    SettingDoc(
        "ARCHIVE_PRICE_PER_GB_MONTH",
        "ArchivePricePerGbMonth",
        "0.10",
        "USD per GB-month of ECR archive storage (the same as standard for a registry's first 150 TB, 0.07 above), "
        "for the savings of archived images swept.",
    ),
    SettingDoc(
        "SWEEP_RUN_DEADLINE_HOURS",
        "SweepRunDeadlineHours",
        "6",
        "A run's summary goes out when every repository is swept, or this many hours after the run started, naming "
        "the repositories not swept (a message in the dead-letter queue, one still retrying).",
    ),
    SettingDoc(
        "SWEEP_TOPIC_ARN",
        "NotifySweep",
        "",
        "SNS topic that receives one summary per run; the template creates it and sets this when NotifySweep=true "
        "(SweepNotificationEmail optionally subscribes an address). Empty = no summary.",
    ),
    SettingDoc(
        "SWEEP_QUEUE_URL",
        "(the sweep queue)",
        "",
        "The queue of repository and continuation messages. Empty (a local invoke): the planner reports what it "
        "would send and the worker finishes every repository in one invocation.",
    ),
    SettingDoc(
        "SWEEP_RUNS_TABLE",
        "(the runs table)",
        "",
        "DynamoDB table of each run's results (atomic counters; the last result publishes the summary). Empty: "
        "results are only logged.",
    ),
    REGISTRY_API_DOC,
    *EXEMPTION_SETTINGS_DOCS,
    *ORGANIZATION_SETTINGS_DOCS,
)


@dataclass(frozen=True)
class SweepRules:
    """What one repository's sweep obeys: the settings in force where the sweep runs (never a message's copy)."""

    mode: SweepMode = SweepMode.DRY_RUN
    min_age: timedelta = timedelta(days=14)
    min_idle: timedelta = timedelta(days=30)
    sweep_archived: bool = False

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
    storage_price_per_gb_month: float = 0.10
    archive_price_per_gb_month: float = 0.10
    run_deadline: timedelta = timedelta(hours=6)
    topic_arn: str = ""
    queue_url: str = ""
    runs_table: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SweepSettings:
        environ = os.environ if environ is None else environ
        rules = SweepRules(
            mode=enum_setting(environ, "SWEEP_MODE", "dry-run", SweepMode),
            min_age=timedelta(days=float_setting(environ, "SWEEP_MIN_AGE_DAYS", "14", 0, MAX_DAYS)),
            min_idle=timedelta(days=float_setting(environ, "SWEEP_MIN_IDLE_DAYS", "30", 0, MAX_DAYS)),
            sweep_archived=bool_setting(environ, "SWEEP_ARCHIVED", "false"),
        )
        queue_url = text_setting(environ, "SWEEP_QUEUE_URL", "")
        if queue_url and not queue_url.startswith(("https://", "http://")):
            raise SettingsError(f"SWEEP_QUEUE_URL={queue_url!r} is not valid: expected an SQS queue URL (https://...)")
        return cls(
            rules=rules,
            exemptions=ExemptionSettings.from_environ(environ),
            organization=OrganizationSettings.from_environ(environ),
            registry_api=registry_api_setting(environ),
            storage_price_per_gb_month=float_setting(environ, "STORAGE_PRICE_PER_GB_MONTH", "0.10", 0.0, 1000.0),
            archive_price_per_gb_month=float_setting(environ, "ARCHIVE_PRICE_PER_GB_MONTH", "0.10", 0.0, 1000.0),
            run_deadline=timedelta(hours=int_setting(environ, "SWEEP_RUN_DEADLINE_HOURS", "6", 1, MAX_DEADLINE_HOURS)),
            topic_arn=arn_setting(environ, "SWEEP_TOPIC_ARN", "sns"),
            queue_url=queue_url,
            runs_table=text_setting(environ, "SWEEP_RUNS_TABLE", ""),
        )
