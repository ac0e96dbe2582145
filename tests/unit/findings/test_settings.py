"""Alerting's settings: defaults, and a bad value fails at start-up naming its environment variable."""

import pytest
from ecr_governance.errors import SettingsError
from ecr_governance.findings.normalize import Severity
from ecr_governance.findings.scan_settings import ScanFindingsSettings
from ecr_governance.findings.settings import FindingsSettings


def test_defaults_alert_on_high_and_above_without_suppressions_or_security_hub():
    settings = ScanFindingsSettings.from_environ({})
    assert settings == ScanFindingsSettings() and FindingsSettings.from_environ({}) == FindingsSettings()
    assert settings.severity_threshold is Severity.HIGH and not settings.only_fixable
    assert settings.suppressions_parameter_name == "" and not settings.import_to_security_hub
    assert settings.alert_memory_days == 30


def test_every_setting_is_read():
    settings = ScanFindingsSettings.from_environ(
        {
            "ALERT_SEVERITY_THRESHOLD": "CRITICAL",
            "ALERT_ONLY_FIXABLE": "true",
            "SUPPRESSIONS_PARAMETER_NAME": "/ecr-governance/suppressions",
            "ALERT_MEMORY_DAYS": "7",
            "IMPORT_FINDINGS_TO_SECURITY_HUB": "true",
            "ALERTS_TOPIC_ARN": "arn:aws:sns:ap-southeast-1:123456789012:alerts",
            "ALERT_LEDGER_TABLE": "ecr-governance-AlertLedgerTable-1",
            "IDEMPOTENCY_TABLE_NAME": "ecr-governance-IdempotencyTable-1",
        }
    )
    assert settings == ScanFindingsSettings(
        severity_threshold=Severity.CRITICAL,
        only_fixable=True,
        suppressions_parameter_name="/ecr-governance/suppressions",
        alert_memory_days=7,
        alerts_topic_arn="arn:aws:sns:ap-southeast-1:123456789012:alerts",
        alert_ledger_table="ecr-governance-AlertLedgerTable-1",
        import_to_security_hub=True,
        idempotency_table_name="ecr-governance-IdempotencyTable-1",
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ALERT_SEVERITY_THRESHOLD": "SEVERE"}, "ALERT_SEVERITY_THRESHOLD='SEVERE' is not valid"),
        ({"ALERT_ONLY_FIXABLE": "yes"}, "ALERT_ONLY_FIXABLE='yes' is not valid"),
        ({"SUPPRESSIONS_PARAMETER_NAME": "suppressions"}, "SUPPRESSIONS_PARAMETER_NAME='suppressions' is not valid"),
        ({"ALERTS_TOPIC_ARN": "arn:aws:sqs:ap-southeast-1:1:q"}, "ALERTS_TOPIC_ARN='arn:aws:sqs:ap-southeast-1:1:q'"),
        ({"ALERT_MEMORY_DAYS": "0"}, "ALERT_MEMORY_DAYS='0' is not valid"),
        ({"IMPORT_FINDINGS_TO_SECURITY_HUB": "1"}, "IMPORT_FINDINGS_TO_SECURITY_HUB='1' is not valid"),
    ],
)
def test_a_bad_value_names_its_variable(environ, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        ScanFindingsSettings.from_environ(environ)
