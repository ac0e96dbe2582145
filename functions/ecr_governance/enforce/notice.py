"""The remediation notice a person reads: what a run changed and what needs attention (pure formatting)."""

from __future__ import annotations

from collections import defaultdict

from ecr_governance.enforce.model import Action, EnforcementReport
from ecr_governance.notice import Notice

NOTIFIED_ACTIONS = (Action.REMEDIATED, Action.FAILED, Action.NOT_REMEDIABLE)


def remediation_notice(report: EnforcementReport, context: str) -> Notice | None:
    """A readable notice of the run, or None when it changed nothing and nothing failed."""
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
    attention = report.count(Action.FAILED) + report.count(Action.NOT_REMEDIABLE)
    subject = f"ECR governance: {remediated} setting{'' if remediated == 1 else 's'} remediated"
    if attention:
        subject += f", {attention} need{'s' if attention == 1 else ''} attention"
    lines = [f"ecr-governance {context}.", ""]
    for repository in sorted(by_repository):
        lines.append(repository)
        lines.extend(by_repository[repository])
        lines.append("")
    if attention or any(d.action is Action.FAILED for d in notable):
        lines.append("Settings marked failed or not_remediable were left as they are: see the function's logs.")
    return Notice(subject=subject, text="\n".join(lines))
