"""Findings alerting's typed settings, parsed once from the environment: what both alert paths (a scan's alert, an
advisory from Inspector's finding events) share. The scan path's own two are in scan_settings.py.

Each setting is said once, in its SettingDoc below (see ecr_governance.config for what reads it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from ecr_governance.config import (
    BOOLEAN,
    SettingDoc,
    arn_setting,
    bool_setting,
    enum_setting,
    int_setting,
    text_setting,
)
from ecr_governance.errors import SettingsError
from ecr_governance.findings.normalize import Severity
from ecr_governance.organization.settings import SETTINGS_DOCS as ORGANIZATION_SETTINGS_DOCS
from ecr_governance.organization.settings import OrganizationSettings

# An SSM parameter name as template.yaml builds its ARN from it: a path starting with "/" (1-1011 characters).
SSM_PARAMETER_NAME = re.compile(r"^/[a-zA-Z0-9_.\-/]{1,1010}$")

ALERT_SEVERITY_THRESHOLD = SettingDoc(
    "ALERT_SEVERITY_THRESHOLD",
    "AlertSeverityThreshold",
    "HIGH",
    "Lowest severity of a scan finding that is alerted: `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `INFORMATIONAL`, "
    "`UNTRIAGED` or `UNDEFINED` (every finding).",
    allowed=tuple(Severity),
)
ALERT_ONLY_FIXABLE = SettingDoc(
    "ALERT_ONLY_FIXABLE",
    "AlertOnlyFixable",
    "false",
    "`true` alerts only on findings with a fix available; basic-scan findings, whose fix the scanner never reports, "
    "are kept.",
    allowed=BOOLEAN,
)
SUPPRESSIONS_PARAMETER_NAME = SettingDoc(
    "SUPPRESSIONS_PARAMETER_NAME",
    "SuppressionsParameterName",
    "",
    "Name of an SSM String parameter (a path starting with `/`) holding the suppressions document (see [Scan findings "
    "alerts](findings.md)); empty = no suppressions. Read with Powertools Parameters, cached for 5 minutes.",
    pattern=f"^$|{SSM_PARAMETER_NAME.pattern}",
)
ALERT_MEMORY_DAYS = SettingDoc(
    "ALERT_MEMORY_DAYS",
    "AlertMemoryDays",
    "30",
    "Days the alert ledger remembers that a vulnerability was alerted for an image (1-365): neither the scan alert nor "
    "an Inspector finding event repeats it meanwhile; one still open afterwards is alerted again, as a reminder.",
    minimum=1,
    maximum=365,
)
ALERTS_TOPIC_ARN = SettingDoc(
    "ALERTS_TOPIC_ARN",
    "(the stack's alerts topic)",
    "",
    "SNS topic that receives the alerts and notices (always created; AlertNotificationEmail optionally subscribes an "
    "address). Empty (a local run) = the alert is logged instead.",
)
ALERT_LEDGER_TABLE = SettingDoc(
    "ALERT_LEDGER_TABLE",
    "(the stack's alert ledger table)",
    "",
    "DynamoDB table recording what was alerted per image and vulnerability (TTL). Empty (a local run) = nothing "
    "recorded: every event alerts.",
)
# What both findings functions read (scan_settings.py adds the scan function's own two).
SETTINGS_DOCS: tuple[SettingDoc, ...] = (
    ALERT_SEVERITY_THRESHOLD,
    ALERT_ONLY_FIXABLE,
    SUPPRESSIONS_PARAMETER_NAME,
    ALERT_MEMORY_DAYS,
    ALERTS_TOPIC_ARN,
    ALERT_LEDGER_TABLE,
    # An organization hub alerts its members' findings too (Scope=organization).
    *ORGANIZATION_SETTINGS_DOCS,
)


@dataclass(frozen=True)
class FindingsSettings:
    severity_threshold: Severity = Severity(ALERT_SEVERITY_THRESHOLD.default)
    only_fixable: bool = ALERT_ONLY_FIXABLE.default == "true"
    suppressions_parameter_name: str = ""
    alert_memory_days: int = int(ALERT_MEMORY_DAYS.default)
    alerts_topic_arn: str = ""
    alert_ledger_table: str = ""
    organization: OrganizationSettings = field(default_factory=OrganizationSettings)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> FindingsSettings:
        return cls(**common_settings(os.environ if environ is None else environ))


class CommonSettings(TypedDict):
    severity_threshold: Severity
    only_fixable: bool
    suppressions_parameter_name: str
    alert_memory_days: int
    alerts_topic_arn: str
    alert_ledger_table: str
    organization: OrganizationSettings


def common_settings(environ: Mapping[str, str]) -> CommonSettings:
    """The shared settings' values by field name (scan_settings.py adds its own two)."""
    parameter_name = text_setting(environ, SUPPRESSIONS_PARAMETER_NAME)
    if parameter_name and not SSM_PARAMETER_NAME.match(parameter_name):
        raise SettingsError(
            f"SUPPRESSIONS_PARAMETER_NAME={parameter_name!r} is not valid: expected an SSM parameter path "
            "starting with / (letters, digits, _ . - /)"
        )
    return {
        "severity_threshold": enum_setting(environ, ALERT_SEVERITY_THRESHOLD, Severity),
        "only_fixable": bool_setting(environ, ALERT_ONLY_FIXABLE),
        "suppressions_parameter_name": parameter_name,
        "alert_memory_days": int_setting(environ, ALERT_MEMORY_DAYS),
        "alerts_topic_arn": arn_setting(environ, ALERTS_TOPIC_ARN, "sns"),
        "alert_ledger_table": text_setting(environ, ALERT_LEDGER_TABLE),
        "organization": OrganizationSettings.from_environ(environ),
    }
