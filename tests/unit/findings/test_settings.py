"""Alerting's settings: defaults, and a bad value fails at start-up naming its environment variable."""

import pytest
from ecr_governance.errors import SettingsError
from ecr_governance.findings.normalize import Severity
from ecr_governance.findings.settings import FindingsSettings


def test_defaults_alert_on_high_and_above_without_suppressions_or_security_hub():
    settings = FindingsSettings.from_environ({})
    assert settings == FindingsSettings()
    assert settings.severity_threshold is Severity.HIGH and not settings.only_fixable
    assert settings.suppressions_parameter_name == "" and not settings.import_to_security_hub


def test_every_setting_is_read():
    settings = FindingsSettings.from_environ(
        {
            "ALERT_SEVERITY_THRESHOLD": "CRITICAL",
            "ALERT_ONLY_FIXABLE": "true",
            "SUPPRESSIONS_PARAMETER_NAME": "/ecr-governance/suppressions",
            "IMPORT_FINDINGS_TO_SECURITY_HUB": "true",
            "ALERTS_TOPIC_ARN": "arn:aws:sns:ap-southeast-1:123456789012:alerts",
            "IDEMPOTENCY_TABLE_NAME": "ecr-governance-IdempotencyTable-1",
        }
    )
    assert settings == FindingsSettings(
        Severity.CRITICAL,
        True,
        "/ecr-governance/suppressions",
        True,
        "arn:aws:sns:ap-southeast-1:123456789012:alerts",
        "ecr-governance-IdempotencyTable-1",
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ALERT_SEVERITY_THRESHOLD": "SEVERE"}, "ALERT_SEVERITY_THRESHOLD='SEVERE' is not valid"),
        ({"ALERT_ONLY_FIXABLE": "yes"}, "ALERT_ONLY_FIXABLE='yes' is not valid"),
        ({"SUPPRESSIONS_PARAMETER_NAME": "suppressions"}, "SUPPRESSIONS_PARAMETER_NAME='suppressions' is not valid"),
        ({"ALERTS_TOPIC_ARN": "arn:aws:sqs:ap-southeast-1:1:q"}, "ALERTS_TOPIC_ARN='arn:aws:sqs:ap-southeast-1:1:q'"),
    ],
)
def test_a_bad_value_names_its_variable(environ, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        FindingsSettings.from_environ(environ)
