"""Scan-findings alerting's typed settings, parsed once from the environment.

Every setting has a template Parameter (template.yaml), an environment variable, a default and a doc line; a contract
test holds the three together. A bad value fails at start-up with a message naming the environment variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ecr_governance.config import SettingDoc, arn_setting, bool_setting, enum_setting, text_setting
from ecr_governance.errors import SettingsError
from ecr_governance.findings.normalize import Severity

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
        "IMPORT_FINDINGS_TO_SECURITY_HUB",
        "ImportBasicFindingsToSecurityHub",
        "false",
        "`true` imports the alerted basic-scan findings into Security Hub (BatchImportFindings); enhanced findings "
        "already reach it through Amazon Inspector.",
    ),
    SettingDoc(
        "ALERTS_TOPIC_ARN",
        "(the stack's alerts topic)",
        "",
        "SNS topic that receives one alert per scanned image; AlertNotificationEmail optionally subscribes an "
        "address. Empty (a local run) = the alert is logged instead.",
    ),
    SettingDoc(
        "IDEMPOTENCY_TABLE_NAME",
        "(the stack's idempotency table)",
        "",
        "DynamoDB table of Powertools Idempotency records (one alert per scan). Empty (a local run) = idempotency "
        "off, with a WARNING line.",
    ),
)


@dataclass(frozen=True)
class FindingsSettings:
    severity_threshold: Severity = Severity.HIGH
    only_fixable: bool = False
    suppressions_parameter_name: str = ""
    import_to_security_hub: bool = False
    alerts_topic_arn: str = ""
    idempotency_table_name: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> FindingsSettings:
        environ = os.environ if environ is None else environ
        parameter_name = text_setting(environ, "SUPPRESSIONS_PARAMETER_NAME", "")
        if parameter_name and not SSM_PARAMETER_NAME.match(parameter_name):
            raise SettingsError(
                f"SUPPRESSIONS_PARAMETER_NAME={parameter_name!r} is not valid: expected an SSM parameter path "
                "starting with / (letters, digits, _ . - /)"
            )
        return cls(
            severity_threshold=enum_setting(environ, "ALERT_SEVERITY_THRESHOLD", "HIGH", Severity),
            only_fixable=bool_setting(environ, "ALERT_ONLY_FIXABLE", "false"),
            suppressions_parameter_name=parameter_name,
            import_to_security_hub=bool_setting(environ, "IMPORT_FINDINGS_TO_SECURITY_HUB", "false"),
            alerts_topic_arn=arn_setting(environ, "ALERTS_TOPIC_ARN", "sns"),
            idempotency_table_name=text_setting(environ, "IDEMPOTENCY_TABLE_NAME", ""),
        )
