"""Readable remediation notifications: pure formatting plus a thin SNS adapter."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from botocore.exceptions import ClientError

from ecr_governance.enforce import Action, EnforcementReport
from ecr_governance.errors import AccessDenied

NOTIFIED_ACTIONS = (Action.REMEDIATED, Action.FAILED, Action.NOT_REMEDIABLE)
SNS_SUBJECT_LIMIT = 100
NOTIFY_IAM_ACTIONS = frozenset({"sns:Publish"})


def remediation_message(report: EnforcementReport, context: str) -> tuple[str, str] | None:
    """(subject, body) for a person to read, or None when the run changed nothing and nothing failed."""
    notable = [d for d in report.decisions if d.action in NOTIFIED_ACTIONS]
    if not notable:
        return None
    by_repository: dict[str, list[str]] = defaultdict(list)
    for decision in notable:
        change = f"{decision.before} -> {decision.after}" if decision.after else decision.before
        line = f"  - {decision.aspect}: {change} [{decision.action}]"
        if decision.detail and decision.action is not Action.REMEDIATED:
            line += f" - {decision.detail}"
        by_repository[decision.repository].append(line)
    remediated = report.count(Action.REMEDIATED)
    failed = report.count(Action.FAILED) + report.count(Action.NOT_REMEDIABLE)
    subject = f"ECR governance: {remediated} setting(s) remediated"
    if failed:
        subject += f", {failed} need attention"
    lines = [f"ecr-governance {context}.", ""]
    for repository in sorted(by_repository):
        lines.append(repository)
        lines.extend(by_repository[repository])
        lines.append("")
    if failed:
        lines.append("Settings marked failed or not_remediable were left as they are: see the function's logs.")
    return subject[:SNS_SUBJECT_LIMIT], "\n".join(lines)


class SnsNotifier:
    def __init__(self, sns_client: Any, topic_arn: str):
        self._sns = sns_client
        self._topic_arn = topic_arn

    def publish(self, subject: str, body: str) -> None:
        try:
            self._sns.publish(TopicArn=self._topic_arn, Subject=subject, Message=body)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"AuthorizationError", "AccessDenied"}:
                raise AccessDenied(f"access denied: sns:Publish to {self._topic_arn}") from error
            raise
