"""Human and machine renderings of an enforcement report (CLI and demo)."""

from __future__ import annotations

import json
from collections import defaultdict

from ecr_governance.enforce import REGISTRY, Action, Decision, EnforcementReport
from ecr_governance.standard import Aspect, Status

COLUMNS = (
    (Aspect.TAG_MUTABILITY, "TAG MUTABILITY"),
    (Aspect.REGISTRY_SCANNING, "SCAN ON PUSH (REGISTRY)"),
    (Aspect.REPOSITORY_SCAN_ON_PUSH, "SCAN ON PUSH (REPO)"),
    (Aspect.LIFECYCLE_POLICY, "LIFECYCLE POLICY"),
)


def _cell(decision: Decision | None) -> str:
    if decision is None:
        return "-"
    if decision.status == Status.COMPLIANT:
        return "ok"
    if decision.status == Status.CUSTOM:
        return "custom (kept)"
    if decision.action is Action.REMEDIATED:
        return f"fixed: was {decision.before}"
    return f"{decision.before} ({decision.action})"


def report_table(report: EnforcementReport) -> str:
    by_repository: dict[str, dict[str, Decision]] = defaultdict(dict)
    exempt: dict[str, str] = {}
    gone: list[str] = []
    for decision in report.decisions:
        if decision.repository == REGISTRY:
            continue
        if decision.action is Action.EXEMPT:
            exempt[decision.repository] = decision.detail
        elif decision.aspect == "repository":
            gone.append(decision.repository)
        else:
            by_repository[decision.repository][decision.aspect] = decision
    rows = [("REPOSITORY", *(title for _, title in COLUMNS), "COMPLIANT")]
    for repository in sorted({*by_repository, *exempt}):
        if repository in exempt:
            rows.append((repository, f"exempt: {exempt[repository]}", "", "", "", "exempt"))
            continue
        decisions = by_repository[repository]
        compliant = all(d.status != Status.VIOLATION or d.action is Action.REMEDIATED for d in decisions.values())
        rows.append(
            (repository, *(_cell(decisions.get(str(aspect))) for aspect, _ in COLUMNS), "yes" if compliant else "NO")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for repository in gone:
        lines.append(f"{repository}: deleted before it could be assessed (no-op)")
    for decision in report.decisions:
        if decision.repository == REGISTRY:
            lines.append(f"registry scanning: {decision.before} -> {decision.after} ({decision.action})")
        elif decision.action in (Action.FAILED, Action.NOT_REMEDIABLE):
            lines.append(f"{decision.repository}: {decision.aspect} {decision.action}: {decision.detail}")
        elif decision.status == Status.CUSTOM and decision.detail not in ("", "kept"):
            lines.append(f"{decision.repository}: custom lifecycle policy {decision.detail}")
    summary = report.summary()
    lines.append(
        f"{summary['repositories']} repositories: {summary['exempt']} exempt, "
        f"{summary['non_compliant_after']} non-compliant, {summary['remediated']} settings remediated, "
        f"{summary['would_remediate']} would be remediated, {summary['failed']} failed"
    )
    return "\n".join(lines)


def report_json(report: EnforcementReport) -> str:
    return json.dumps({"summary": report.summary(), "decisions": [d.as_dict() for d in report.decisions]}, indent=2)
