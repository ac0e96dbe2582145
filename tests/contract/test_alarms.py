"""The stack's alarms, written once: each alarm in template.yaml must be exactly what `expected_alarm` builds from one
line of ALARMS (what it watches, where it notifies) - the same period, threshold, statistic per kind and missing-data
rule for all - so the near-copies in the template cannot drift apart. A new alarm is a line here first."""

from __future__ import annotations

from typing import Any

import pytest
from ecr_governance import SERVICE_NAME

OPERATIONS = [{"Ref": "OperationsTopic"}]
REMEDIATIONS = {"Fn::If": ["Notify", [{"Ref": "RemediationTopic"}], {"Ref": "AWS::NoValue"}]}
SWEEP = {"Fn::If": ["SweepNotify", [{"Ref": "SweepTopic"}], {"Ref": "AWS::NoValue"}]}
# Alarm -> (kind, what it watches: a queue or topic logical id, or a metric the code emits; where it notifies).
ALARMS: dict[str, tuple[str, str, Any]] = {
    "RemediationFailuresAlarm": ("metric", "RemediationsFailed", REMEDIATIONS),
    "ViolationsNotRemediableAlarm": ("metric", "ViolationsNotRemediable", REMEDIATIONS),
    "EnforceRepositoryFailuresAlarm": ("queue", "EnforceRepositoryFailures", REMEDIATIONS),
    "MemberWorkDeadLetterAlarm": ("queue", "MemberWorkDeadLetterQueue", REMEDIATIONS),
    "ScanFindingsFailuresAlarm": ("queue", "ScanFindingsFailures", OPERATIONS),
    "InspectorFindingsDeadLetterAlarm": ("queue", "InspectorFindingsDeadLetterQueue", OPERATIONS),
    "AlertsDroppedAlarm": ("topic", "AlertsTopic", OPERATIONS),
    "EventsRejectedAlarm": ("metric", "EventsRejected", OPERATIONS),
    "AlertLedgerFailuresAlarm": ("metric", "AlertLedgerFailures", OPERATIONS),
    "SuppressionProblemsAlarm": ("metric", "SuppressionProblems", OPERATIONS),
    "SigningStatusUnreadAlarm": ("metric", "SigningStatusUnread", OPERATIONS),
    "SecurityHubImportFailuresAlarm": ("metric", "SecurityHubImportFailures", OPERATIONS),
    "SweepDeadLetterAlarm": ("queue", "SweepDeadLetterQueue", SWEEP),
}
# Every alarm fires on the first 5-minute period with anything in it; no data is no problem.
SHARED = {
    "Period": 300,
    "EvaluationPeriods": 1,
    "Threshold": 0,
    "ComparisonOperator": "GreaterThanThreshold",
    "TreatMissingData": "notBreaching",
}


def expected_alarm(kind: str, subject: str, actions: Any, namespace: str) -> dict[str, Any]:
    watched = {
        "queue": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "Maximum"),
        "topic": ("AWS/SNS", "NumberOfNotificationsFailed", "TopicName", "Sum"),
    }
    if kind == "metric":  # Powertools Metrics: the template's namespace, the service dimension
        dimension = {"Name": "service", "Value": SERVICE_NAME}
        return {**SHARED, "Namespace": namespace, "MetricName": subject, "Dimensions": [dimension],
                "Statistic": "Sum", "AlarmActions": actions}  # fmt: skip
    alarm_namespace, metric, dimension_name, statistic = watched[kind]
    dimension = {"Name": dimension_name, "Value": {"Fn::GetAtt": [subject, dimension_name]}}
    return {**SHARED, "Namespace": alarm_namespace, "MetricName": metric, "Dimensions": [dimension],
            "Statistic": statistic, "AlarmActions": actions}  # fmt: skip


def test_every_alarm_of_the_template_has_its_line(template: dict[str, Any]) -> None:
    alarms = {i for i, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == set(ALARMS)


@pytest.mark.parametrize("alarm_id", sorted(ALARMS))
def test_each_alarm_is_what_its_line_builds(template: dict[str, Any], alarm_id: str) -> None:
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    properties = dict(template["Resources"][alarm_id]["Properties"])
    description = properties.pop("AlarmDescription")
    assert len(description) > 30, "say what fired and where to look"
    assert properties == expected_alarm(*ALARMS[alarm_id], namespace)
