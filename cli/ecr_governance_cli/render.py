"""Human and machine renderings of the reports (CLI and demo): one table layout, plain JSON."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from ecr_governance.enforce.model import REGISTRY, Action, Aspect, Decision, EnforcementReport, Status
from ecr_governance.findings.normalize import READABLE_SCAN_STATUSES, SEVERITIES, Severity
from ecr_governance.findings.policy import FindingsReport, ScanPosture
from ecr_governance.findings.redrive import RedriveReport, Replay, ReplayKind
from ecr_governance.findings.render import alert_text, machine_document
from ecr_governance.findings.render_parts import bounded_list, image_reference
from ecr_governance.images import iso8601
from ecr_governance.lifecycle.evaluate import LifecycleDecision
from ecr_governance.lifecycle.preview import RepositoryPreview, preview_result
from ecr_governance.sweep.planner import Selection
from ecr_governance.sweep.report import FAILURES_SHOWN, KEPT_COUNTERS, RECLAIMED_COUNTERS, Outcome, SweepReport
from ecr_governance.sweep.settings import SweepMode, SweepRules
from ecr_governance.text import plain


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """`1 repository`, `2 repositories`."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural_noun or (noun[:-1] + 'ies' if noun.endswith('y') else noun + 's')}"


def table(rows: list[tuple[str, ...]], right_aligned: frozenset[int] = frozenset()) -> list[str]:
    """Columns padded to their widest cell, a dashed line under the header row."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: tuple[str, ...]) -> str:
        cells = (
            cell.rjust(width) if i in right_aligned else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    return [line(rows[0]), "  ".join("-" * width for width in widths), *(line(row) for row in rows[1:])]


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# ---- enforcement ----------------------------------------------------------------------------------------------
COLUMNS = (
    (Aspect.TAG_MUTABILITY, "TAG MUTABILITY"),
    (Aspect.REGISTRY_SCANNING, "SCAN ON PUSH (REGISTRY)"),
    (Aspect.REPOSITORY_SCAN_ON_PUSH, "SCAN ON PUSH (REPO)"),
    (Aspect.LIFECYCLE_POLICY, "LIFECYCLE POLICY"),
)
# Shown only when a run checked them (RepositoryEncryption, SignedRepositoryPatterns).
OPTIONAL_COLUMNS = ((Aspect.ENCRYPTION, "ENCRYPTION"), (Aspect.SIGNING, "SIGNING"))
REGISTRY_NOTES = (Action.FAILED, Action.NOT_REMEDIABLE, Action.DETECTED, Action.MANAGED)


def _cell(decision: Decision | None) -> str:
    if decision is None:
        return "-"
    if decision.action is Action.EXEMPT:
        return "exempt"
    if decision.action is Action.FAILED:
        return f"failed ({decision.error_code or 'error'})"
    if decision.status == Status.COMPLIANT:
        return "ok"
    if decision.status == Status.CUSTOM:
        return "custom (kept)"
    if decision.action is Action.REMEDIATED:
        return f"fixed: was {decision.before}"
    return f"{decision.before} ({decision.action})"


def _by_repository(report: EnforcementReport) -> tuple[dict[str, dict[str, Decision]], dict[str, str], list[str]]:
    """(repository -> aspect -> decision, exemption reasons, repositories deleted before they were assessed)."""
    by_repository: dict[str, dict[str, Decision]] = defaultdict(dict)
    exemption_reasons: dict[str, str] = {}
    gone: list[str] = []
    for decision in report.decisions:
        if decision.repository == REGISTRY:
            continue
        if decision.aspect == "repository" and decision.action is Action.REPOSITORY_GONE:
            gone.append(decision.repository)
            continue
        if decision.action is Action.EXEMPT:
            exemption_reasons[decision.repository] = decision.detail
            if decision.aspect == Aspect.REGISTRY_SCANNING:  # the repository-level flag goes with it
                by_repository[decision.repository][str(Aspect.REPOSITORY_SCAN_ON_PUSH)] = decision
        by_repository[decision.repository][decision.aspect] = decision
    return by_repository, exemption_reasons, gone


def _verdict(decisions: dict[str, Decision]) -> str:
    if "repository" in decisions:  # could not be read
        return "unknown"
    if all(d.action is Action.EXEMPT for d in decisions.values()):
        return "exempt"
    compliant = all(
        d.status != Status.VIOLATION or d.action in (Action.REMEDIATED, Action.EXEMPT, Action.MANAGED)
        for d in decisions.values()
    )
    return "yes" if compliant else "NO"


def _registry_line(decision: Decision) -> str:
    """One audit line per registry-level decision (scanning, creation templates, exclusions, the policy)."""
    aspect = decision.aspect.replace("_", " ")
    change = f"{decision.before} -> {decision.after}" if decision.after else decision.before
    line = f"{aspect}: {change} ({decision.action})"
    return f"{line}: {decision.detail}" if decision.detail and decision.action in REGISTRY_NOTES else line


def _notes(report: EnforcementReport) -> list[str]:
    lines = []
    for decision in report.decisions:
        if decision.repository == REGISTRY:
            lines.append(_registry_line(decision))
        elif decision.action in (Action.FAILED, Action.NOT_REMEDIABLE, Action.DETECTED):
            lines.append(f"{decision.repository}: {decision.aspect} {decision.action}: {decision.detail}")
        elif decision.status == Status.CUSTOM and decision.detail not in ("", "kept"):
            lines.append(f"{decision.repository}: custom lifecycle policy {decision.detail}")
    return lines


def enforcement_table(report: EnforcementReport, effective_scanning: dict[str, str] | None = None) -> str:
    by_repository, exemption_reasons, gone = _by_repository(report)
    checked = {d.aspect for d in report.decisions}
    columns = (*COLUMNS, *((aspect, title) for aspect, title in OPTIONAL_COLUMNS if aspect in checked))
    extra = ("ECR SAYS (SCANNING)",) if effective_scanning is not None else ()
    rows = [("REPOSITORY", *(title for _, title in columns), "COMPLIANT", *extra)]
    for repository in sorted(by_repository):
        decisions = by_repository[repository]
        if "repository" in decisions:
            cells = (_cell(decisions["repository"]), *("" for _ in columns[1:]))
        else:
            cells = tuple(_cell(decisions.get(str(aspect))) for aspect, _ in columns)
        said = (effective_scanning.get(repository, "-"),) if effective_scanning is not None else ()
        rows.append((repository, *cells, _verdict(decisions), *said))
    lines = table(rows)
    lines.extend(f"{repository}: deleted before it could be assessed (no-op)" for repository in gone)
    lines.extend(f"{repository}: exempt ({reason})" for repository, reason in sorted(exemption_reasons.items()))
    lines.extend(_notes(report))
    summary = report.summary()
    lines.append(
        f"{plural(summary['repositories'], 'repository')}: {summary['exempt_repositories']} exempt, "
        f"{summary['non_compliant_after']} non-compliant, {plural(summary['remediated'], 'setting')} remediated, "
        f"{summary['would_remediate']} would be remediated, {summary['failed']} failed; registry: "
        f"{summary['registry_non_compliant']} non-compliant, {summary['registry_failed']} failed"
    )
    return "\n".join(lines)


def enforcement_json(report: EnforcementReport, effective_scanning: dict[str, str] | None = None) -> str:
    document: dict[str, Any] = {"summary": report.summary(), "decisions": [d.as_dict() for d in report.decisions]}
    if effective_scanning is not None:
        document["effective_scanning"] = effective_scanning
    return json.dumps(document, indent=2)


# ---- lifecycle preview ----------------------------------------------------------------------------------------


def repository_preview_json(preview: RepositoryPreview) -> dict[str, Any]:
    document = preview_result(preview.decisions, preview.images)
    return {"repositoryName": preview.repository_name, **document} if preview.repository_name else document


def _totals(previews: Sequence[RepositoryPreview]) -> dict[str, int]:
    return {
        "repositoryCount": len(previews),
        "affectedRepositoryCount": sum(1 for p in previews if p.decisions),
        "evaluatedImageCount": sum(len(p.images) for p in previews),
        "expiringImageCount": sum(p.count_for("expire") for p in previews),
        "expiringBytes": sum(p.bytes_for("expire") for p in previews),
        "transitioningImageCount": sum(p.count_for("transition") for p in previews),
        "transitioningBytes": sum(p.bytes_for("transition") for p in previews),
    }


def registry_preview_json(previews: Sequence[RepositoryPreview]) -> dict[str, Any]:
    repositories = []
    for preview in previews:
        counts = _totals([preview])
        del counts["repositoryCount"], counts["affectedRepositoryCount"]
        repositories.append(
            {
                "repositoryName": preview.repository_name,
                **counts,
                "previewResults": preview_result(preview.decisions, preview.images)["previewResults"],
            }
        )
    return {"repositories": repositories, "totals": _totals(previews)}


def _action_text(decision: LifecycleDecision) -> str:
    if decision.action == "transition":
        return f"transition to {decision.target_storage_class}"
    if decision.with_subject:
        return f"expire with subject {decision.with_subject[:19]}"
    return decision.action


def repository_preview_table(preview: RepositoryPreview, now: datetime) -> str:
    title = f"repository {preview.repository_name}" if preview.repository_name else "images"
    lines = [f"Lifecycle preview of {title} as of {iso8601(now)}"]
    if preview.decisions:
        rows = [("IMAGE", "TAGS", "PUSHED", "SIZE", "ACTION", "RULE")]
        for decision in preview.decisions:
            rows.append(
                (
                    decision.image.digest[:19],
                    ",".join(decision.image.tags) or "<untagged>",
                    iso8601(decision.image.pushed_at),
                    human_bytes(decision.image.size_bytes),
                    _action_text(decision),
                    str(decision.rule_priority),
                )
            )
        lines.extend(table(rows, right_aligned=frozenset({3, 5})))
    kept = len(preview.images) - len(preview.decisions)
    expiring = f"{preview.count_for('expire')} expire ({human_bytes(preview.bytes_for('expire'))})"
    transitioning = (
        f"{preview.count_for('transition')} transition to archive ({human_bytes(preview.bytes_for('transition'))})"
    )
    lines.append(f"{plural(len(preview.images), 'image')}: {expiring}, {transitioning}, {kept} kept")
    return "\n".join(lines)


def registry_preview_table(previews: Sequence[RepositoryPreview], now: datetime) -> str:
    rows = [("REPOSITORY", "IMAGES", "EXPIRE", "EXPIRE SIZE", "TRANSITION", "TRANSITION SIZE")]
    for preview in previews:
        rows.append(
            (
                preview.repository_name or "<unnamed>",
                str(len(preview.images)),
                str(preview.count_for("expire")),
                human_bytes(preview.bytes_for("expire")),
                str(preview.count_for("transition")),
                human_bytes(preview.bytes_for("transition")),
            )
        )
    totals = _totals(previews)
    rows.append(
        (
            "TOTAL",
            str(totals["evaluatedImageCount"]),
            str(totals["expiringImageCount"]),
            human_bytes(totals["expiringBytes"]),
            str(totals["transitioningImageCount"]),
            human_bytes(totals["transitioningBytes"]),
        )
    )
    lines = [f"Lifecycle preview of {plural(len(previews), 'repository')} as of {iso8601(now)}"]
    lines.extend(table(rows, right_aligned=frozenset({1, 2, 3, 4, 5})))
    lines.append(f"{totals['affectedRepositoryCount']} of {plural(len(previews), 'repository')} affected")
    return "\n".join(lines)


# ---- scan findings --------------------------------------------------------------------------------------------
def findings_report(report: FindingsReport, output: str) -> str:
    """`findings show`: the alert's text with every finding, or its machine document with every finding."""
    if output == "json":
        return json.dumps(machine_document(report), indent=2, ensure_ascii=False)
    return alert_text(report)


def _shown_severities(threshold: Severity) -> list[Severity]:
    return [severity for severity in SEVERITIES if severity.at_least(threshold)]


def _posture_image(posture: ScanPosture) -> str:
    """The image's tags (bounded), its digest when it has none, "-" for a repository row; terminal-safe."""
    if posture.image is None:
        return "-"
    if posture.image.tags:
        return bounded_list([plain(tag, 128) for tag in posture.image.tags], 60)
    return plain(image_reference(posture.image).removeprefix(posture.repository_name).lstrip(":@"), 80)


def findings_summary_table(postures: list[ScanPosture], threshold: Severity) -> str:
    shown = _shown_severities(threshold)
    rows = [("REPOSITORY", "IMAGE", "PUSHED", "SCAN", *map(str, shown), f">= {threshold}")]
    for posture in postures:
        counted = posture.scan_status in READABLE_SCAN_STATUSES  # else there are no counts to show, not zeros
        rows.append(
            (
                plain(posture.repository_name, 256),
                _posture_image(posture),
                posture.pushed_at or "-",
                plain(posture.scan_status, 64),
                *(str(posture.counts.get(severity, 0)) if counted else "-" for severity in shown),
                str(posture.at_or_above(threshold)) if counted else "-",
            )
        )
    lines = table(rows, right_aligned=frozenset(range(4, len(rows[0]))))
    lines += [f"{plain(p.repository_name, 256)}: {plain(p.detail, 1000)}" for p in postures if p.detail]
    images = [posture for posture in postures if posture.image is not None]
    flagged = sum(1 for posture in images if posture.at_or_above(threshold))
    unscanned = sum(1 for posture in images if posture.scan_status == "NOT_SCANNED")
    repositories = len({posture.repository_name for posture in postures})
    lines.append(
        f"{plural(len(images), 'tagged image')} in {plural(repositories, 'repository')}: {flagged} with findings at "
        f"or above {threshold}, {unscanned} not scanned"
    )
    return "\n".join(lines)


def _redrive_result(replay: Replay, report: RedriveReport) -> str:
    message_id = replay.message.message_id
    if message_id in report.redriven:
        return "redriven"
    if message_id in report.failed:
        return f"failed: {report.failed[message_id]}"
    if report.applied or replay.kind is ReplayKind.UNKNOWN:
        return "left in place"
    return "would redrive"


def redrive_rows(report: RedriveReport) -> list[dict[str, Any]]:
    return [{**replay.describe(), "result": _redrive_result(replay, report)} for replay in report.replays]


def redrive_table(report: RedriveReport) -> str:
    rows = [("MESSAGE", "REPLAY", "TARGET", "EVENT", "REPOSITORY", "RESULT")]
    for row in redrive_rows(report):
        rows.append(
            tuple(
                plain(str(row[key] or "-"), 200)
                for key in ("messageId", "replay", "target", "detailType", "repository", "result")
            )
        )
    lines = table(rows) if report.replays else ["the queue holds no message"]
    if not report.applied and report.replays:
        lines.append("dry run: nothing was replayed or deleted; run again with --apply")
    else:
        lines.append(f"{len(report.redriven)} redriven, {len(report.failed)} failed (left in the queue)")
    return "\n".join(lines)


def redrive_json(report: RedriveReport) -> str:
    return json.dumps(
        {
            "applied": report.applied,
            "messages": redrive_rows(report),
            "redriven": len(report.redriven),
            "failed": len(report.failed),
        },
        indent=2,
    )


# ---- sweep ----------------------------------------------------------------------------------------------------
# Outcomes after which a planned candidate is still in the registry: kept at the last moment.
KEPT_LATE = (
    Outcome.TAGGED_SINCE_PLAN,
    Outcome.NO_LONGER_ELIGIBLE,
    Outcome.PROTECTED,
    Outcome.PARENT_NOT_DELETED,
    Outcome.MANIFEST_UNREAD,
    Outcome.KEPT_BY_ECR,
)


def _days_text(span: timedelta) -> str:
    days = span / timedelta(days=1)
    if 0 < days < 1:
        return f"{span.total_seconds():.3g} seconds"
    return f"{days:g} day" if days == 1 else f"{days:g} days"


def _rules_text(rules: SweepRules, now: datetime) -> str:
    mode = "dry run: nothing deleted" if not rules.deletes else "delete"
    archived = "archived images past their 90-day minimum too" if rules.sweep_archived else "archived images kept"
    return (
        f"Untagged sweep ({mode}) as of {iso8601(now)}: pushed more than {_days_text(rules.min_age)} ago, "
        f"not pulled within {_days_text(rules.min_idle)}, {archived}"
    )


def sweep_progress(position: int, total: int, report: SweepReport) -> str:
    if report.failure is not None:
        state = f"failed ({report.failure.code})"
    elif report.gone:
        state = "deleted meanwhile"
    else:
        verb = "deleted" if report.mode is SweepMode.DELETE else "would delete"
        state = f"{report.count(Outcome.DELETED) + report.count(Outcome.WOULD_DELETE)} {verb}"
    return f"[{position}/{total}] {report.repository}: {state}"


def _sweep_totals(reports: Sequence[SweepReport]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for report in reports:
        for name, value in report.counts().items():
            totals[name] += value
    return dict(totals)


def sweep_table(  # noqa: C901, PLR0912 - issue 18 reworks the CLI; split there
    reports: Sequence[SweepReport], selection: Selection, rules: SweepRules, now: datetime
) -> str:
    gone_column = "DELETED" if rules.deletes else "WOULD DELETE"
    rows = [("REPOSITORY", "IMAGES", "KEPT", "CANDIDATES", gone_column, "KEPT LATE", "FAILED", "SIZE")]
    for report in reports:
        examined = len(report.plan.decisions) if report.plan else 0
        candidates = len(report.plan.candidates) if report.plan else 0
        rows.append(
            (
                report.repository,
                str(examined),
                str(examined - candidates),
                str(candidates),
                str(report.count(Outcome.DELETED) + report.count(Outcome.WOULD_DELETE)),
                str(sum(report.count(outcome) for outcome in KEPT_LATE)),
                str(len(report.failed_images) if report.failure is None else "all"),
                human_bytes(report.bytes),
            )
        )
    lines = [_rules_text(rules, now)]
    if reports:
        lines.extend(table(rows, right_aligned=frozenset(range(1, 8))))
    totals = _sweep_totals(reports)
    kept = [f"{totals[counter]} {reason}" for reason, counter in KEPT_COUNTERS.items() if totals.get(counter)]
    if kept:
        lines.append(f"kept: {', '.join(kept)}")
    for report in reports:
        if report.failure is not None:
            lines.append(f"{report.repository}: not swept: {report.failure.code}: {report.failure.message}")
        elif report.gone:
            lines.append(f"{report.repository}: deleted during the sweep")
        elif report.exempt_now:
            lines.append(f"{report.repository}: exempt ({report.exempt_now})")
        if report.plan is not None and report.plan.unread:
            unread = "; ".join(f"{d[:19]}: {why}" for d, why in list(report.plan.unread.items())[:FAILURES_SHOWN])
            lines.append(f"{report.repository}: nothing untagged deleted: manifests unread ({unread})")
        for outcome in report.failed_images[:FAILURES_SHOWN]:
            lines.append(f"{report.repository}: {outcome.digest[:19]} failed: {outcome.code}: {outcome.detail}")
        for outcome in report.outcomes.values():
            if outcome.outcome in KEPT_LATE:
                lines.append(f"{report.repository}: {outcome.digest[:19]} kept ({outcome.outcome}): {outcome.detail}")
    for name, why in selection.exempt:
        lines.append(f"{name}: exempt ({why})")
    for name, failure in selection.unreadable:
        lines.append(f"{name}: not swept: its tags could not be read ({failure.code})")
    verb = "deleted" if rules.deletes else "would be deleted"
    images = totals.get("deleted", 0) + totals.get("would_delete", 0)
    size = sum(totals.get(counter, 0) for counter in RECLAIMED_COUNTERS.values()) + totals.get("bytes_reclaimable", 0)
    failed = totals.get("failed", 0) + totals.get("repositories_failed", 0) + len(selection.unreadable)
    lines.append(
        f"{plural(len(reports), 'repository')} swept: {plural(images, 'image')} {verb} ({human_bytes(size)}, "
        f"ECR's per-image sizes: an upper bound), {failed} failed"
    )
    return "\n".join(lines)


def findings_summary_json(postures: list[ScanPosture], threshold: Severity) -> str:
    return json.dumps(
        {
            "threshold": str(threshold),
            "images": [
                {
                    "repository": posture.repository_name,
                    "tags": list(posture.image.tags) if posture.image else [],
                    "digest": posture.image.digest if posture.image else None,
                    "pushedAt": posture.pushed_at or None,
                    "scanStatus": posture.scan_status,
                    "counts": {str(severity): posture.counts.get(severity, 0) for severity in SEVERITIES},
                    "atOrAboveThreshold": posture.at_or_above(threshold),
                    **({"error": posture.detail} if posture.detail else {}),
                }
                for posture in postures
            ],
        },
        indent=2,
    )


def sweep_json(
    reports: Sequence[SweepReport], selection: Selection, rules: SweepRules, now: datetime
) -> dict[str, Any]:
    return {
        "mode": str(rules.mode),
        "asOf": iso8601(now),
        "rules": {
            "minAgeDays": rules.min_age / timedelta(days=1),
            "minIdleDays": rules.min_idle / timedelta(days=1),
            "sweepArchived": rules.sweep_archived,
        },
        "repositories": [
            {
                **{key: value for key, value in report.log_fields().items() if key not in ("mode", "failures")},
                "images": report.image_rows(),
            }
            for report in reports
        ],
        "exempt": [{"repository": name, "reason": why} for name, why in selection.exempt],
        "unreadable": [{"repository": name, "error_code": failure.code} for name, failure in selection.unreadable],
        "totals": _sweep_totals(reports),
    }
