"""Findings alerting's typed settings, parsed once from the environment: what both alert paths (a scan's alert, an
advisory from Inspector's finding events) share. The scan path's own two are in scan_settings.py.

Every setting has a template Parameter (template.yaml), an environment variable, a default and a doc line; a contract
test holds the three together. A bad value fails at start-up with a message naming the environment variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ecr_governance.config import SettingDoc, arn_setting, bool_setting, enum_setting, int_setting, text_setting
from ecr_governance.errors import SettingsError
from ecr_governance.findings.normalize import Severity
from ecr_governance.organization.settings import SETTINGS_DOCS as ORGANIZATION_SETTINGS_DOCS
from ecr_governance.organization.settings import OrganizationSettings

# An SSM parameter name as template.yaml builds its ARN from it: a path starting with "/" (1-1011 characters).
SSM_PARAMETER_NAME = re.compile(r"^/[a-zA-Z0-9_.\-/]{1,1010}$")

SETTINGS_DOCS: tuple[SettingDoc, ...] = (
    SettingDoc(
        "ALERT_SEVERITY_THRESHOLD",
        "AlertSeverityThreshold",
        "HIGH",
        "Lowest severity that is alerted: CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNTRIAGED or UNDEFINED "
        "(UNDEFINED alerts on every finding).",
    ),
    SettingDoc(
        "ALERT_ONLY_FIXABLE",
        "AlertOnlyFixable",
        "false",
        "`true` alerts only on findings with a fix available; a basic-scan finding, whose scanner never says, is kept.",
    ),
    SettingDoc(
        "SUPPRESSIONS_PARAMETER_NAME",
        "SuppressionsParameterName",
        "",
        "Name of an SSM String parameter (a path starting with /) holding the suppressions document; empty = no "
        "suppressions. Read with Powertools Parameters, cached for 5 minutes.",
    ),
    SettingDoc(
        "ALERT_MEMORY_DAYS",
        "AlertMemoryDays",
        "30",
        "Days the alert ledger remembers that a vulnerability was alerted for an image (1-365): within them neither "
        "path alerts it again; a vulnerability still open after them is alerted again at its next scan or finding "
        "event, as a reminder.",
    ),
    SettingDoc(
        "ALERTS_TOPIC_ARN",
        "(the stack's alerts topic)",
        "",
        "SNS topic that receives the alerts and notices; AlertNotificationEmail optionally subscribes an address. "
        "Empty (a local run) = the alert is logged instead.",
    ),
    SettingDoc(
        "ALERT_LEDGER_TABLE",
        "(the stack's alert ledger table)",
        "",
        "DynamoDB table recording what was alerted per image and vulnerability (TTL). Empty (a local run) = nothing "
        "recorded: every event alerts.",
    ),
    # An organization hub alerts its members' findings too (Scope=organization).
    *ORGANIZATION_SETTINGS_DOCS,
)


@dataclass(frozen=True)
class FindingsSettings:
    severity_threshold: Severity = Severity.HIGH
    only_fixable: bool = False
    suppressions_parameter_name: str = ""
    alert_memory_days: int = 30
    alerts_topic_arn: str = ""
    alert_ledger_table: str = ""
    organization: OrganizationSettings = field(default_factory=OrganizationSettings)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> FindingsSettings:
        return cls(**common_settings(os.environ if environ is None else environ))


def common_settings(environ: Mapping[str, str]) -> dict[str, object]:
    """The shared settings' values by field name (scan_settings.py adds its own two)."""
    parameter_name = text_setting(environ, "SUPPRESSIONS_PARAMETER_NAME", "")
    if parameter_name and not SSM_PARAMETER_NAME.match(parameter_name):
        raise SettingsError(
            f"SUPPRESSIONS_PARAMETER_NAME={parameter_name!r} is not valid: expected an SSM parameter path "
            "starting with / (letters, digits, _ . - /)"
        )
    return {
        "severity_threshold": enum_setting(environ, "ALERT_SEVERITY_THRESHOLD", "HIGH", Severity),
        "only_fixable": bool_setting(environ, "ALERT_ONLY_FIXABLE", "false"),
        "suppressions_parameter_name": parameter_name,
        "alert_memory_days": int_setting(environ, "ALERT_MEMORY_DAYS", "30", 1, 365),
        "alerts_topic_arn": arn_setting(environ, "ALERTS_TOPIC_ARN", "sns"),
        "alert_ledger_table": text_setting(environ, "ALERT_LEDGER_TABLE", ""),
        "organization": OrganizationSettings.from_environ(environ),
    }
