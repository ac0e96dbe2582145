"""What both findings handlers build the same way from their settings: the rules (the suppressions parameter through
Powertools Parameters) and the guarded publisher (the alert ledger and the alerts topic; without them, a local run,
every alert is logged and nothing recorded)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecr_governance.aws.alert_ledger import DynamoAlertLedger
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.ssm import SsmSuppressions
from ecr_governance.findings.ledger import GuardedPublisher, UnrecordedAlerts
from ecr_governance.findings.normalize import Severity
from ecr_governance.findings.ports import LoggedAlerts
from ecr_governance.findings.reader import RulesReader
from ecr_governance.findings.settings import FindingsSettings

# A burst of events reads the suppressions parameter once.
SUPPRESSIONS_CACHE_SECONDS = 300
# Alerts published, counted per severity (the scan alert's highest, an advisory's own): AlertsCritical, AlertsHigh...
ALERT_METRIC_BY_SEVERITY = {severity: f"Alerts{severity.capitalize()}" for severity in Severity}


def rules_reader(settings: FindingsSettings, make_client: Callable[[str], Any]) -> RulesReader:
    name = settings.suppressions_parameter_name
    return RulesReader(
        settings, SsmSuppressions(make_client("ssm"), name, SUPPRESSIONS_CACHE_SECONDS) if name else None
    )


def guarded_publisher(settings: FindingsSettings, make_client: Callable[[str], Any]) -> GuardedPublisher:
    retention_seconds = settings.alert_memory_days * 86400
    return GuardedPublisher(
        DynamoAlertLedger(make_client("dynamodb"), settings.alert_ledger_table, retention_seconds)
        if settings.alert_ledger_table
        else UnrecordedAlerts(),
        SnsPublisher(make_client("sns"), settings.alerts_topic_arn) if settings.alerts_topic_arn else LoggedAlerts(),
    )
