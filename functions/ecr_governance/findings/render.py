"""The alert a security team reads (pure formatting): one Notice with a body per SNS protocol.

- `default` (e-mail and every protocol without a body of its own): readable plain text;
- `https`: an AWS Chatbot (Amazon Q Developer in chat applications) custom notification;
- `sqs` and `lambda`: a machine JSON document, `schema` naming its version.
The whole message - every body, the subject and the attributes - stays within SNS's 256 KB, counted in UTF-8 bytes
as SNS counts them. When the findings do not all fit, the most severe are kept (they come first in alert order) and
the text says `... and N more` with the console link; the chat message always lists only the few most severe.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ecr_governance.findings.normalize import READABLE_SCAN_STATUSES, SEVERITIES, Finding, ScannedImage, Severity
from ecr_governance.findings.policy import FindingsReport, SuppressionUse
from ecr_governance.notice import SNS_MESSAGE_MAX_BYTES, SUBJECT_MAX_CHARACTERS, Notice, message_size_bytes

MACHINE_SCHEMA = "ecr-governance.scan-findings-alert/v1"
CHAT_EVENT_TYPE = "ecr-governance.ScanFindingsAlert"
# The chat message is a summary: a few findings, a bounded description (chat clients truncate long messages).
CHAT_MAX_FINDINGS = 10
CHAT_MAX_NEXT_STEPS = 4
CHAT_DESCRIPTION_MAX_CHARACTERS = 3500
CHAT_TITLE_MAX_CHARACTERS = 250
SHORT_DIGEST = 19  # "sha256:" + 12 hex digits
CONSOLE_DOMAINS = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn"}
SCAN_KIND_NAMES = {"basic": "basic scanning (Amazon ECR)", "enhanced": "enhanced scanning (Amazon Inspector)"}


# ---- small pieces ---------------------------------------------------------------------------------------------
def console_url(image: ScannedImage) -> str:
    """The image's scan results in the ECR console."""
    domain = CONSOLE_DOMAINS.get(image.partition, "console.aws.amazon.com")
    return (
        f"https://{image.region}.{domain}/ecr/repositories/private/{image.registry_id}/{image.repository_name}"
        f"/_/image/{image.digest}/scan-results?region={image.region}"
    )


def image_reference(image: ScannedImage) -> str:
    """`repository:tag` (the first tag), or `repository@sha256:0123456789ab` for an untagged image."""
    if image.tags:
        return f"{image.repository_name}:{image.tags[0]}"
    return f"{image.repository_name}@{image.digest[:SHORT_DIGEST]}"


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = max(limit - 3, 2)
    return text[: keep - keep // 2] + "..." + text[len(text) - keep // 2 :]


def _counts_text(counts: dict[Severity, int]) -> list[str]:
    return [f"{counts[severity]} {severity.lower()}" for severity in SEVERITIES if counts.get(severity)]


def _fix_reported(findings: Sequence[Finding]) -> bool:
    return any(finding.fix_available is not None for finding in findings)


def subject(report: FindingsReport) -> str:
    """`[CRITICAL] mlops/retail-api:1.4.2 - 2 critical, 5 high (4 fixable)`, at most 99 characters: the counts are
    kept, a long image reference is shortened in the middle."""
    decision = report.decision
    if not decision.should_alert:
        head, tail = "[OK] ", f" - nothing at or above {decision.threshold}"
    else:
        parts = _counts_text(decision.alerted_counts)
        if len(parts) > 3:
            parts = [*parts[:3], "..."]
        fixable = f" ({decision.fixable_count} fixable)" if _fix_reported(decision.alerted) else ""
        head, tail = f"[{decision.highest_severity}] ", f" - {', '.join(parts)}{fixable}"
    room = SUBJECT_MAX_CHARACTERS - len(head) - len(tail)
    return head + _shorten(image_reference(report.image), room) + tail


def _fix_text(finding: Finding) -> str:
    if finding.fixed_in_version:
        return f"fixed in {finding.fixed_in_version}"
    if finding.fix_available is False:
        return "no fix yet"
    if finding.fix_available:
        return "fix available"
    return ""  # the scanner does not say (basic scanning): the head of the alert says so once


def _with_fix(text: str, finding: Finding) -> str:
    fix = _fix_text(finding)
    return f"{text} - {fix}" if fix else text


def _package_text(finding: Finding) -> str:
    package = " ".join(part for part in (finding.package_name, finding.package_version) if part)
    return package or "(package not reported)"


def _score_text(finding: Finding) -> str:
    return f"{finding.score:.1f}" if finding.score is not None else "-"


def _finding_text(finding: Finding) -> str:
    exploit = "  EXPLOIT AVAILABLE" if finding.exploit_available else ""
    line = _with_fix(
        f"  {finding.severity:<13} {_score_text(finding):>4}  {finding.id}  {_package_text(finding)}", finding
    )
    line += exploit
    return f"{line}\n{' ' * 22}{finding.link}" if finding.link else line


def _finding_document(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "severity": str(finding.severity),
        "score": finding.score,
        "package": finding.package_name,
        "installedVersion": finding.package_version,
        "fixedInVersion": finding.fixed_in_version or None,
        "fixAvailable": finding.fix_available,
        "exploitAvailable": finding.exploit_available,
        "link": finding.link or None,
    }


def _use_document(use: SuppressionUse) -> dict[str, Any]:
    suppression = use.suppression
    return {
        "id": suppression.finding_id,
        "repositories": list(suppression.repositories),
        "expires": suppression.expires.isoformat(),
        "reason": suppression.reason,
        "findings": use.findings,
    }


def _ordered_counts(counts: dict[Severity, int]) -> dict[str, int]:
    return {str(severity): counts[severity] for severity in SEVERITIES if counts.get(severity)}


# ---- the plain-text body --------------------------------------------------------------------------------------
def _text_head(report: FindingsReport) -> list[str]:
    image, decision = report.image, report.decision
    scan = SCAN_KIND_NAMES.get(report.scan_kind, report.scan_kind)
    completed = f", completed {report.completed_at}" if report.completed_at else ""
    if report.scan_status not in READABLE_SCAN_STATUSES:
        completed += f", status {report.scan_status}: no findings to read"
    all_counts = " | ".join(f"{s} {decision.counts[s]}" for s in SEVERITIES if decision.counts.get(s)) or "none"
    fixable = f" ({decision.fixable_count} fixable)" if _fix_reported(decision.alerted) else ""
    only_fixable = ", only fixable ones" if decision.only_fixable else ""
    lines = [
        subject(report),
        "",
        "Image",
        f"  Repository:  {image.repository_name}",
        f"  Tags:        {', '.join(image.tags) or '<untagged>'}",
        f"  Digest:      {image.digest}",
        f"  Registry:    {image.registry_id} ({image.region})",
        f"  Scan:        {scan}{completed}",
        "",
        f"Findings by severity (the whole scan, {decision.total_findings}): {all_counts}",
        f"Alerted: {len(decision.alerted)} at or above {decision.threshold}{only_fixable}{fixable}; "
        f"{decision.suppressed_count} suppressed, {decision.below_threshold} below the threshold"
        + (f", {decision.not_fixable} without a fix" if decision.only_fixable else ""),
        "",
    ]
    if decision.alerted and not _fix_reported(decision.alerted):
        lines += ["This scanner does not report fixed versions: each finding's link says where it is fixed.", ""]
    if decision.alerted:
        lines.append(f"Findings at or above {decision.threshold}, most severe first:")
    return lines


def _text_tail(report: FindingsReport, omitted: int) -> list[str]:
    decision = report.decision
    lines = []
    if omitted:
        lines.append(f"  ... and {omitted} more: see the scan results in the console (link below)")
    if decision.suppressed:
        lines += ["", f"Suppressed findings ({decision.suppressed_count}), by suppression:"]
        lines += [
            f"  {u.suppression.describe()} until {u.suppression.expires} ({u.findings}): {u.suppression.reason}"
            for u in decision.suppressed
        ]
    if decision.expired:
        lines += ["", "EXPIRED suppressions - they suppress nothing now: renew them or fix the findings:"]
        lines += [
            f"  {u.suppression.describe()} expired {u.suppression.expires} ({u.findings} alerted above): "
            f"{u.suppression.reason}"
            for u in decision.expired
        ]
    lines += ["", "Scan results in the console:", f"  {console_url(report.image)}", "", "-- ecr-governance"]
    return lines


def alert_text(report: FindingsReport, listed: int | None = None) -> str:
    """The readable report; `listed` limits how many findings it lists (None: all)."""
    findings = report.decision.alerted
    shown = findings if listed is None else findings[:listed]
    return "\n".join([*_text_head(report), *map(_finding_text, shown), *_text_tail(report, len(findings) - len(shown))])


# ---- the machine body -----------------------------------------------------------------------------------------
def machine_head(report: FindingsReport, included: int) -> dict[str, Any]:
    image, decision = report.image, report.decision
    return {
        "schema": MACHINE_SCHEMA,
        "image": {
            "repositoryName": image.repository_name,
            "repositoryArn": image.repository_arn,
            "digest": image.digest,
            "tags": list(image.tags),
            "registryId": image.registry_id,
            "region": image.region,
        },
        "scan": {"kind": report.scan_kind, "status": report.scan_status, "completedAt": report.completed_at or None},
        "policy": {"threshold": str(decision.threshold), "onlyFixable": decision.only_fixable},
        "highestSeverity": str(decision.highest_severity) if decision.highest_severity else None,
        "counts": {
            "scan": _ordered_counts(dict(decision.counts)),
            "alerted": _ordered_counts(decision.alerted_counts),
            "fixable": decision.fixable_count,
            "suppressed": decision.suppressed_count,
            "belowThreshold": decision.below_threshold,
            "notFixable": decision.not_fixable,
        },
        "suppressions": [_use_document(use) for use in decision.suppressed],
        "expiredSuppressions": [_use_document(use) for use in decision.expired],
        "consoleUrl": console_url(image),
        "findingsAlerted": len(decision.alerted),
        "findingsIncluded": included,
        "findingsOmitted": len(decision.alerted) - included,
    }


def _machine_json(report: FindingsReport, finding_documents: Sequence[str]) -> str:
    """The document with the already-serialized findings spliced in as its last field."""
    head = json.dumps(machine_head(report, len(finding_documents)), ensure_ascii=False)
    return f'{head[:-1]}, "findings": [{",".join(finding_documents)}]}}'


def machine_document(report: FindingsReport) -> dict[str, Any]:
    """The machine document with every alerted finding (the CLI's JSON; the alert's body may hold fewer)."""
    return {
        **machine_head(report, len(report.decision.alerted)),
        "findings": list(map(_finding_document, report.decision.alerted)),
    }


# ---- the chat body --------------------------------------------------------------------------------------------
def _next_steps(report: FindingsReport) -> list[str]:
    """The fixes of the most severe findings first, then expired suppressions, then the console (always last)."""
    upgrades: dict[str, tuple[list[str], list[str]]] = {}  # package -> (fixed-in versions, finding ids)
    for finding in report.decision.alerted:
        if finding.fixed_in_version and finding.package_name:
            versions, ids = upgrades.setdefault(finding.package_name, ([], []))
            versions.extend([finding.fixed_in_version] if finding.fixed_in_version not in versions else [])
            ids.append(finding.id)
    room = CHAT_MAX_NEXT_STEPS - 1 - (1 if report.decision.expired else 0)
    steps = [
        f"Upgrade {package}: fixed in {', '.join(versions)} ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''})"
        for package, (versions, ids) in list(upgrades.items())[:room]
    ]
    if report.decision.expired:
        steps.append(f"Renew or remove {len(report.decision.expired)} expired suppression(s)")
    steps.append(f"Review the scan results: {console_url(report.image)}")
    return steps


def chat_message(report: FindingsReport) -> dict[str, Any]:
    """An AWS Chatbot custom notification (anything else Chatbot drops silently)."""
    image, decision = report.image, report.decision
    lines = [
        f"*{image_reference(image)}* `{image.digest[:SHORT_DIGEST]}` ({report.scan_kind} scan)",
        f"{', '.join(_counts_text(decision.alerted_counts)) or 'nothing'} at or above {decision.threshold}"
        + (f", {decision.fixable_count} fixable" if _fix_reported(decision.alerted) else "")
        + (f"; {decision.suppressed_count} suppressed" if decision.suppressed_count else ""),
    ]
    for finding in decision.alerted[:CHAT_MAX_FINDINGS]:
        exploit = " :warning: exploit available" if finding.exploit_available else ""
        text = f"• *{finding.severity}* {_score_text(finding)} `{finding.id}` {_package_text(finding)}"
        lines.append(_with_fix(text, finding) + exploit)
    if len(decision.alerted) > CHAT_MAX_FINDINGS:
        lines.append(f"_... and {len(decision.alerted) - CHAT_MAX_FINDINGS} more_")
    if decision.expired:
        lines.append(f"*{len(decision.expired)} expired suppression(s)* no longer suppress anything")
    description = "\n".join(lines)
    if len(description) > CHAT_DESCRIPTION_MAX_CHARACTERS:
        description = description[: CHAT_DESCRIPTION_MAX_CHARACTERS - 4].rstrip() + "\n..."
    title = subject(report)
    return {
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": f":rotating_light: {title}"[:CHAT_TITLE_MAX_CHARACTERS],
            "description": description,
            "nextSteps": _next_steps(report),
            "keywords": [str(decision.highest_severity or "OK"), image.repository_name, "ecr-governance"],
        },
        "metadata": {"summary": title, "eventType": CHAT_EVENT_TYPE},
    }


# ---- the notice, within SNS's byte limit ----------------------------------------------------------------------
def _envelope_bytes(piece: str) -> int:
    """Bytes `piece` adds inside the MessageStructure=json envelope (JSON string escaping, UTF-8)."""
    return len(json.dumps(piece, ensure_ascii=False).encode()) - 2


def _notice(report: FindingsReport, finding_documents: Sequence[str], chat: str, listed: int) -> Notice:
    machine = _machine_json(report, finding_documents[:listed])
    decision = report.decision
    return Notice(
        subject=subject(report),
        text=alert_text(report, listed),
        bodies={"https": chat, "sqs": machine, "lambda": machine},
        attributes={
            "severity": str(decision.highest_severity or "NONE"),
            "repository": report.image.repository_name,
        },
    )


def alert_notice(report: FindingsReport, max_message_bytes: int = SNS_MESSAGE_MAX_BYTES) -> Notice:
    """The alert, listing as many of the most severe findings as fit in `max_message_bytes` (SNS's limit)."""
    findings = report.decision.alerted
    finding_documents = [json.dumps(_finding_document(f), ensure_ascii=False) for f in findings]
    chat = json.dumps(chat_message(report), ensure_ascii=False)
    # What each listed finding adds: its text lines in `default`, its document in `sqs` and in `lambda`.
    costs = (
        _envelope_bytes(_finding_text(finding) + "\n") + 2 * (_envelope_bytes(document) + 1)
        for finding, document in zip(findings, finding_documents, strict=True)
    )
    budget = max_message_bytes - message_size_bytes(_notice(report, finding_documents, chat, 0))
    listed = 0
    for cost in costs:
        if cost > budget:
            break
        budget -= cost
        listed += 1
    # The "... and N more" line and the counts change with `listed`: measure the real message, step back if needed.
    while True:
        notice = _notice(report, finding_documents, chat, listed)
        if message_size_bytes(notice) <= max_message_bytes:
            return notice
        if listed == 0:
            raise ValueError(f"the alert exceeds {max_message_bytes} bytes even without findings")
        listed -= 1
