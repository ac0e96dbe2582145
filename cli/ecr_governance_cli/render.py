"""The reports as the CLI prints them (and the demo): each command's JSON document (camelCase keys as AWS's APIs,
`null` for unknown, rows sorted by repository then image; output.py prints it as json or text) and its table."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
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

from ecr_governance_cli.output import camel_keys, table


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """`1 repository`, `2 repositories`."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural_noun or (noun[:-1] + 'ies' if noun.endswith('y') else noun + 's')}"


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
REPOSITORY_ASPECT = "repository"  # a decision about the repository itself: it could not be read, or it is gone
NOT_FOUND = "RepositoryNotFoundException"


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


def _by_repository(report: EnforcementReport) -> dict[str, dict[str, Decision]]:
    """Each repository's decisions by aspect (an exempt registry-scanning decision also stands for the repository's
    own scan-on-push flag, which goes with it)."""
    by_repository: dict[str, dict[str, Decision]] = defaultdict(dict)
    for decision in report.decisions:
        if decision.repository == REGISTRY:
            continue
        if decision.action is Action.EXEMPT and decision.aspect == Aspect.REGISTRY_SCANNING:
            by_repository[decision.repository].setdefault(str(Aspect.REPOSITORY_SCAN_ON_PUSH), decision)
        by_repository[decision.repository][decision.aspect] = decision
    return by_repository


def _compliance(decisions: dict[str, Decision]) -> str:
    """COMPLIANT, NON_COMPLIANT, EXEMPT, DELETED (gone before it was read) or ERROR (it could not be read)."""
    itself = decisions.get(REPOSITORY_ASPECT)
    if itself is not None:
        return "DELETED" if itself.action is Action.REPOSITORY_GONE else "ERROR"
    if all(d.action is Action.EXEMPT for d in decisions.values()):
        return "EXEMPT"
    if any(d.action is Action.FAILED for d in decisions.values()):
        return "ERROR"
    compliant = all(
        d.status != Status.VIOLATION or d.action in (Action.REMEDIATED, Action.EXEMPT, Action.MANAGED)
        for d in decisions.values()
    )
    return "COMPLIANT" if compliant else "NON_COMPLIANT"


def _decision_document(decision: Decision) -> dict[str, Any]:
    document = camel_keys(decision.as_dict())
    document.setdefault("errorCode", None)
    return document


def enforcement_document(
    report: EnforcementReport, missing: Sequence[str] = (), effective_scanning: dict[str, Any] | None = None
) -> dict[str, Any]:
    """audit/enforce as JSON: the summary, one row per repository (a name that does not exist is an ERROR row) with
    its decisions, and the registry-level decisions. --effective-scanning adds ECR's own ScanningConfiguration."""
    by_repository = _by_repository(report)
    rows = []
    for name in sorted(set(by_repository) | set(missing)):
        if name not in missing:
            decisions = by_repository[name]
            failed = next((d for d in decisions.values() if d.action is Action.FAILED), None)
            row: dict[str, Any] = {
                "repositoryName": name,
                "compliance": _compliance(decisions),
                "decisions": [_decision_document(d) for _, d in sorted(decisions.items())],
                "error": {"code": failed.error_code, "message": failed.detail} if failed else None,
            }
        else:
            message = f"repository not found: {name}"
            row = {
                "repositoryName": name,
                "compliance": "ERROR",
                "decisions": [],
                "error": {"code": NOT_FOUND, "message": message},
            }
        if effective_scanning is not None:
            row["scanningConfiguration"] = effective_scanning.get(name)
        rows.append(row)
    return {
        "summary": {**camel_keys(report.summary()), "notFound": len(missing)},
        "repositories": rows,
        "registry": [_decision_document(d) for d in report.decisions if d.repository == REGISTRY],
    }


def enforcement_failed(document: dict[str, Any]) -> bool:
    """Whether any repository or registry decision failed (exit 1)."""
    return any(row["compliance"] == "ERROR" for row in document["repositories"]) or any(
        decision["action"] == str(Action.FAILED) for decision in document["registry"]
    )


def _scanning_text(configuration: dict[str, Any] | None) -> str:
    """ECR's ScanningConfiguration (or a failure) in a cell: `SCAN_ON_PUSH (team-a/*)`."""
    if not configuration:
        return "-"
    if "failureCode" in configuration:
        return f"unknown: {configuration['failureCode']}"
    filters = ", ".join(f.get("filter", "") for f in configuration.get("appliedScanFilters") or [])
    frequency = configuration.get("scanFrequency") or "NONE"
    return f"{frequency} ({filters})" if filters else frequency


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


def enforcement_table(
    report: EnforcementReport, missing: Sequence[str] = (), effective_scanning: dict[str, Any] | None = None
) -> str:
    by_repository = _by_repository(report)
    checked = {d.aspect for d in report.decisions}
    columns = (*COLUMNS, *((aspect, title) for aspect, title in OPTIONAL_COLUMNS if aspect in checked))
    blank = tuple("" for _ in columns[1:])
    extra = ("ECR SAYS (SCANNING)",) if effective_scanning is not None else ()
    rows = [("REPOSITORY", *(title for _, title in columns), "COMPLIANT", *extra)]
    notes: list[str] = []
    for name in sorted(set(by_repository) | set(missing)):
        decisions = None if name in missing else by_repository[name]
        if decisions is None:
            cells, verdict = (f"failed ({NOT_FOUND})", *blank), "ERROR"
            notes.append(f"{name}: repository not found")
        elif REPOSITORY_ASPECT in decisions:
            cells, verdict = (_cell(decisions[REPOSITORY_ASPECT]), *blank), _compliance(decisions)
        else:
            cells = tuple(_cell(decisions.get(str(aspect))) for aspect, _ in columns)
            verdict = _compliance(decisions)
        said = (_scanning_text(effective_scanning.get(name)),) if effective_scanning is not None else ()
        rows.append((name, *cells, verdict, *said))
    lines = table(rows)
    lines.extend(notes)
    for name, decisions in sorted(by_repository.items()):
        if name in missing:
            continue
        itself = decisions.get(REPOSITORY_ASPECT)
        if itself is not None and itself.action is Action.REPOSITORY_GONE:
            lines.append(f"{name}: deleted before it could be assessed (no-op)")
        exemption = next((d for d in decisions.values() if d.action is Action.EXEMPT), None)
        if exemption is not None:
            lines.append(f"{name}: exempt ({exemption.detail})")
    lines.extend(_notes(report))
    summary = report.summary()
    lines.append(
        f"{plural(summary['repositories'], 'repository')}: {summary['exempt_repositories']} exempt, "
        f"{summary['non_compliant_after']} non-compliant, {plural(summary['remediated'], 'setting')} remediated, "
        f"{summary['would_remediate']} would be remediated, {summary['failed'] + len(missing)} failed; registry: "
        f"{summary['registry_non_compliant']} non-compliant, {summary['registry_failed']} failed"
    )
    return "\n".join(lines)


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


def findings_report_document(report: FindingsReport) -> dict[str, Any]:
    return machine_document(report)


def _shown_severities(threshold: Severity) -> list[Severity]:
    return [severity for severity in SEVERITIES if severity.at_least(threshold)]


def _posture_image(posture: ScanPosture) -> str:
    """The image's tags (bounded), its digest when it has none, "-" for a repository row; terminal-safe."""
    if posture.image is None:
        return "-"
    if posture.image.tags:
        return bounded_list([plain(tag, 128) for tag in posture.image.tags], 60)
    return plain(image_reference(posture.image).removeprefix(posture.repository_name).lstrip(":@"), 80)


def sorted_postures(postures: list[ScanPosture]) -> list[ScanPosture]:
    """By repository, then image (oldest push first)."""
    return sorted(postures, key=lambda p: (p.repository_name, p.pushed_at, p.image.digest if p.image else ""))


def findings_summary_table(postures: list[ScanPosture], threshold: Severity) -> str:
    shown = _shown_severities(threshold)
    rows = [("REPOSITORY", "IMAGE", "PUSHED", "SCAN", *map(str, shown), f">= {threshold}")]
    postures = sorted_postures(postures)
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


def redrive_document(report: RedriveReport) -> dict[str, Any]:
    return {
        "applied": report.applied,
        "messages": redrive_rows(report),
        "redriven": len(report.redriven),
        "failed": len(report.failed),
    }


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


def sweep_table(
    reports: Sequence[SweepReport], selection: Selection, rules: SweepRules, now: datetime, missing: Sequence[str] = ()
) -> str:
    lines = [_rules_text(rules, now)]
    if reports:
        lines.extend(table(_sweep_rows(reports, rules), right_aligned=frozenset(range(1, 8))))
    totals = _sweep_totals(reports)
    kept = [f"{totals[counter]} {reason}" for reason, counter in KEPT_COUNTERS.items() if totals.get(counter)]
    if kept:
        lines.append(f"kept: {', '.join(kept)}")
    for report in reports:
        lines.extend(_sweep_report_notes(report))
    lines.extend(_sweep_selection_notes(selection, missing))
    verb = "deleted" if rules.deletes else "would be deleted"
    images = totals.get("deleted", 0) + totals.get("would_delete", 0)
    size = sum(totals.get(counter, 0) for counter in RECLAIMED_COUNTERS.values()) + totals.get("bytes_reclaimable", 0)
    failed = totals.get("failed", 0) + totals.get("repositories_failed", 0) + len(selection.unreadable) + len(missing)
    lines.append(
        f"{plural(len(reports), 'repository')} swept: {plural(images, 'image')} {verb} ({human_bytes(size)}, "
        f"ECR's per-image sizes: an upper bound), {failed} failed"
    )
    return "\n".join(lines)


def _sweep_rows(reports: Sequence[SweepReport], rules: SweepRules) -> list[tuple[str, ...]]:
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
    return rows


def _sweep_report_notes(report: SweepReport) -> Iterator[str]:
    """Why a repository was not swept, what it kept unread, and each image that failed or was kept late."""
    if report.failure is not None:
        yield f"{report.repository}: not swept: {report.failure.code}: {report.failure.message}"
    elif report.gone:
        yield f"{report.repository}: deleted during the sweep"
    elif report.exempt_now:
        yield f"{report.repository}: exempt ({report.exempt_now})"
    if report.plan is not None and report.plan.unread:
        unread = "; ".join(f"{d[:19]}: {why}" for d, why in list(report.plan.unread.items())[:FAILURES_SHOWN])
        yield f"{report.repository}: nothing untagged deleted: manifests unread ({unread})"
    for outcome in report.failed_images[:FAILURES_SHOWN]:
        yield f"{report.repository}: {outcome.digest[:19]} failed: {outcome.code}: {outcome.detail}"
    for outcome in report.outcomes.values():
        if outcome.outcome in KEPT_LATE:
            yield f"{report.repository}: {outcome.digest[:19]} kept ({outcome.outcome}): {outcome.detail}"


def _sweep_selection_notes(selection: Selection, missing: Sequence[str]) -> Iterator[str]:
    for name, why in selection.exempt:
        yield f"{name}: exempt ({why})"
    for name, failure in selection.unreadable:
        yield f"{name}: not swept: its tags could not be read ({failure.code})"
    for name in missing:
        yield f"{name}: not swept: {NOT_FOUND}: repository not found"


def findings_summary_json(postures: list[ScanPosture], threshold: Severity) -> dict[str, Any]:
    """The posture as JSON: counts are null (unknown), not zeros, for an image without a readable scan."""
    rows = []
    for posture in sorted_postures(postures):
        counted = posture.scan_status in READABLE_SCAN_STATUSES
        rows.append(
            {
                "repositoryName": posture.repository_name,
                "imageTags": list(posture.image.tags) if posture.image else [],
                "imageDigest": posture.image.digest if posture.image else None,
                "imagePushedAt": posture.pushed_at or None,
                "scanStatus": posture.scan_status,
                "findingSeverityCounts": (
                    {str(severity): posture.counts.get(severity, 0) for severity in SEVERITIES} if counted else None
                ),
                "atOrAboveThreshold": posture.at_or_above(threshold) if counted else None,
                "error": posture.detail or None,
            }
        )
    return {"threshold": str(threshold), "repositories": rows}


def _image_order(row: dict[str, Any]) -> tuple[str, str]:
    return (row.get("imagePushedAt") or "", row.get("imageDigest") or "")


def _sweep_row(report: SweepReport) -> dict[str, Any]:
    fields = {k: v for k, v in report.log_fields().items() if k not in ("repository", "mode", "failures", "error")}
    failure = report.failure
    status = "ERROR" if failure or report.failed_images else "DELETED" if report.gone else "SWEPT"
    return {
        "repositoryName": report.repository,
        "status": "EXEMPT" if report.exempt_now else status,
        **camel_keys(fields),
        "error": {"code": failure.code, "message": failure.message} if failure else None,
        "images": sorted(report.image_rows(), key=_image_order),
    }


def sweep_json(
    reports: Sequence[SweepReport], selection: Selection, rules: SweepRules, now: datetime, missing: Sequence[str] = ()
) -> dict[str, Any]:
    """The sweep as JSON: one row per repository - swept, exempt, unreadable or not found - sorted by name, each
    swept one with every image (oldest push first), its decision, reason and outcome."""
    rows = [_sweep_row(report) for report in reports]
    rows += [
        {"repositoryName": name, "status": "EXEMPT", "reason": why, "error": None} for name, why in selection.exempt
    ]
    rows += [
        {"repositoryName": name, "status": "ERROR", "error": {"code": failure.code, "message": failure.message}}
        for name, failure in selection.unreadable
    ]
    rows += [
        {"repositoryName": name, "status": "ERROR", "error": {"code": NOT_FOUND, "message": "repository not found"}}
        for name in missing
    ]
    return {
        "mode": str(rules.mode),
        "asOf": iso8601(now),
        "rules": {
            "minAgeDays": rules.min_age / timedelta(days=1),
            "minIdleDays": rules.min_idle / timedelta(days=1),
            "sweepArchived": rules.sweep_archived,
        },
        "repositories": sorted(rows, key=lambda row: row["repositoryName"]),
        "totals": camel_keys(_sweep_totals(reports)),
    }
