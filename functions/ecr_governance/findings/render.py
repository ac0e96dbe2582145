"""The alert for one scanned image (pure formatting): one Notice with a body per SNS protocol.

- `default` (e-mail and every protocol without a body of its own): readable plain text;
- `https`: an AWS Chatbot (Amazon Q Developer in chat applications) custom notification;
- `sqs` and `lambda`: an OCSF Vulnerability Finding (findings/ocsf.py).
The whole message - every body, the subject and the attributes - stays within SNS's 256 KB, counted in UTF-8 bytes
as SNS counts them. When the findings do not all fit, the most severe are kept (they come first in alert order) and
the text says `... and N more` with the console link; the chat message lists only the few most severe. Every other
part is bounded (render_parts.py), so the head alone always fits: an alert always goes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from ecr_governance.findings import ocsf
from ecr_governance.findings.normalize import READABLE_SCAN_STATUSES, SEVERITIES, Severity
from ecr_governance.findings.policy import FindingsReport, SuppressionUse
from ecr_governance.findings.render_parts import (
    LIST_CHARACTERS,
    MAX_LISTED_SUPPRESSIONS,
    MAX_PROBLEM_LINES,
    PROBLEM_CHARACTERS,
    REASON_CHARACTERS,
    VERSION_CHARACTERS,
    bounded_list,
    chat_message,
    console_url,
    counts_text,
    finding_chat_line,
    finding_text,
    fix_reported,
    image_reference,
    largest_fitting,
    member_attributes,
    problem_lines,
    registry_chat,
    registry_text,
    shorten_middle,
    splice_last,
    suppression_lines,
)
from ecr_governance.findings.render_signing import signing_chat, signing_document, signing_text
from ecr_governance.notice import SNS_MESSAGE_MAX_BYTES, SUBJECT_MAX_CHARACTERS, Notice, message_size_bytes
from ecr_governance.text import bounded, chat, chat_code, plain, well_formed

CHAT_EVENT_TYPE = "ecr-governance.ScanFindingsAlert"
# The chat message is a summary: a few findings, a bounded description (chat clients truncate long messages).
CHAT_MAX_FINDINGS = 10
CHAT_MAX_NEXT_STEPS = 4
CHAT_DESCRIPTION_MAX_CHARACTERS = 3500
MAX_UPGRADE_VERSIONS = 5
SCAN_KIND_NAMES = {"basic": "basic scanning (Amazon ECR)", "enhanced": "enhanced scanning (Amazon Inspector)"}


@dataclass(frozen=True)
class Written:
    """The text's head, each finding's text lines and OCSF vulnerability, the chat body: written once, listed in
    every notice the search for the largest one that fits builds."""

    head: list[str]
    lines: list[str]
    vulnerabilities: list[str]
    chat: str


def subject(report: FindingsReport) -> str:
    """`[CRITICAL] mlops/retail-api:1.4.2 - 2 critical, 5 high (4 fixable)`, at most 99 characters: the counts are
    kept, a long image reference is shortened in the middle."""
    decision, signing_failed = report.decision, "; signing FAILED" if report.failed_signings else ""
    if decision.should_alert:
        parts = counts_text(decision.alerted_counts)
        if len(parts) > 3:
            parts = [*parts[:3], "..."]
        fixable = f" ({decision.fixable_count} fixable)" if fix_reported(decision.alerted) else ""
        head, tail = f"[{decision.highest_severity}] ", f" - {', '.join(parts)}{fixable}{signing_failed}"
    elif signing_failed:
        head, tail = "[SIGNING FAILED] ", f" - nothing at or above {decision.threshold}{signing_failed}"
    else:
        head, tail = "[OK] ", f" - nothing at or above {decision.threshold}"
    room = SUBJECT_MAX_CHARACTERS - len(head) - len(tail)
    return head + shorten_middle(plain(image_reference(report.image), 400), room) + tail


# ---- the plain-text body --------------------------------------------------------------------------------------
def _image_lines(report: FindingsReport) -> list[str]:
    image = report.image
    scan = SCAN_KIND_NAMES.get(report.scan_kind, report.scan_kind)
    completed = f", completed {report.completed_at}" if report.completed_at else ""
    if report.scan_status not in READABLE_SCAN_STATUSES:
        completed += f", status {plain(report.scan_status, 64)}: no findings to read"
    tags = bounded_list([plain(tag, 128) for tag in image.tags]) or "<untagged>"
    return [
        "Image",
        f"  Repository:  {plain(image.repository_name, 256)}",
        f"  Tags:        {tags}",
        f"  Digest:      {plain(image.digest, 128)}",
        f"  Registry:    {registry_text(image)}",
        f"  Scan:        {scan}{completed}",
    ]


def _text_head(report: FindingsReport) -> list[str]:
    decision = report.decision
    all_counts = " | ".join(f"{s} {decision.counts[s]}" for s in SEVERITIES if decision.counts.get(s)) or "none"
    fixable = f" ({decision.fixable_count} fixable)" if fix_reported(decision.alerted) else ""
    only_fixable = ", only fixable ones" if decision.only_fixable else ""
    lines = [
        subject(report),
        "",
        *_image_lines(report),
        "",
        *signing_text(report.signing),
        f"Findings by severity (the whole scan, {decision.total_findings}): {all_counts}",
        f"Alerted: {len(decision.alerted)} at or above {decision.threshold}{only_fixable}{fixable}; "
        f"{decision.suppressed_count} suppressed, {decision.below_threshold} below the threshold"
        + (f", {decision.not_fixable} without a fix" if decision.only_fixable else ""),
    ]
    if decision.previously_alerted:
        lines.append(
            f"Not repeated: {decision.previously_alerted} at or above {decision.threshold} already alerted for this "
            "image (an earlier scan or an Inspector finding event)"
        )
    lines += problem_lines(decision.suppression_problems)
    lines.append("")
    if decision.alerted and not fix_reported(decision.alerted):
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
        lines += suppression_lines(decision.suppressed, expired=False)
    if decision.expired:
        lines += ["", "EXPIRED suppressions - they suppress nothing now: renew them or fix the findings:"]
        lines += suppression_lines(decision.expired, expired=True)
    link = console_url(report.image)
    if link:
        lines += ["", "Scan results in the console:", f"  {link}"]
    return [*lines, "", "-- ecr-governance"]


def alert_text(report: FindingsReport, listed: int | None = None, written: Written | None = None) -> str:
    """The readable report (also what `findings show` prints); `listed` limits how many findings it lists."""
    findings = report.decision.alerted
    shown = len(findings) if listed is None else min(listed, len(findings))
    head = written.head if written else _text_head(report)
    lines = written.lines[:shown] if written else [finding_text(finding) for finding in findings[:shown]]
    return "\n".join([*head, *lines, *_text_tail(report, len(findings) - shown)])


# ---- the machine body (OCSF) ----------------------------------------------------------------------------------
def _use_document(use: SuppressionUse) -> dict[str, Any]:
    suppression = use.suppression
    return {
        "id": well_formed(suppression.finding_id),
        "repositories": list(suppression.repositories),
        "expires": suppression.expires.isoformat(),
        "reason": bounded(well_formed(suppression.reason), REASON_CHARACTERS),
        "findings": use.findings,
    }


def _ordered_counts(counts: dict[Severity, int]) -> dict[str, int]:
    return {str(severity): counts[severity] for severity in SEVERITIES if counts.get(severity)}


def machine_head(report: FindingsReport, included: int) -> dict[str, Any]:
    """The OCSF finding without its vulnerabilities; `unmapped` carries what OCSF has no attribute for."""
    image, decision = report.image, report.decision
    uses = slice(0, MAX_LISTED_SUPPRESSIONS)  # as many as the text lists
    unmapped = {
        "alert": "scan",
        "scan": {"kind": report.scan_kind, "status": report.scan_status, "completedAt": report.completed_at or None},
        "policy": {"threshold": str(decision.threshold), "onlyFixable": decision.only_fixable},
        "counts": {
            "scan": _ordered_counts(dict(decision.counts)),
            "alerted": _ordered_counts(decision.alerted_counts),
            "fixable": decision.fixable_count,
            "suppressed": decision.suppressed_count,
            "belowThreshold": decision.below_threshold,
            "notFixable": decision.not_fixable,
            "previouslyAlerted": decision.previously_alerted,
        },
        "suppressions": [_use_document(use) for use in decision.suppressed[uses]],
        "expiredSuppressions": [_use_document(use) for use in decision.expired[uses]],
        "signing": signing_document(report.signing),
        "suppressionProblems": [
            bounded(well_formed(problem), PROBLEM_CHARACTERS)
            for problem in decision.suppression_problems[:MAX_PROBLEM_LINES]
        ],
        "findingsAlerted": len(decision.alerted),
        "findingsIncluded": included,
        "findingsOmitted": len(decision.alerted) - included,
    }
    scan_uid = f"{ocsf.image_resource_uid(image)}/scan/{report.completed_at}"
    return ocsf.finding_document(
        uid=f"ecr-governance:{scan_uid}",
        title=subject(report),
        severity=decision.highest_severity,
        closed=False,
        time=report.completed_at,
        image=image,
        console_url=console_url(image),
        resources=[ocsf.resource(image, image_reference(image))],
        unmapped=unmapped,
    )


def machine_document(report: FindingsReport) -> dict[str, Any]:
    """The OCSF finding with every alerted finding (the CLI's JSON; the alert's body may hold fewer)."""
    findings = report.decision.alerted
    return {
        **machine_head(report, len(findings)),
        "vulnerabilities": [ocsf.vulnerability(finding, report.scan_kind) for finding in findings],
    }


# ---- the chat body --------------------------------------------------------------------------------------------
def _upgrade_step(package: str, versions: list[str], ids: list[str]) -> str:
    shown_versions = bounded_list([chat_code(v, VERSION_CHARACTERS) for v in versions[:MAX_UPGRADE_VERSIONS]], 300)
    more = f" (+{len(versions) - MAX_UPGRADE_VERSIONS} more)" if len(versions) > MAX_UPGRADE_VERSIONS else ""
    shown_ids = ", ".join(chat_code(finding_id, 64) for finding_id in ids[:3]) + (", ..." if len(ids) > 3 else "")
    return f"Upgrade {chat_code(package, 200)}: fixed in {shown_versions}{more} ({shown_ids})"


def _next_steps(report: FindingsReport) -> list[str]:
    """The fixes of the most severe findings first, then expired suppressions, then the console (always last)."""
    upgrades: dict[str, tuple[dict[str, None], list[str]]] = {}  # package -> (fixed-in versions, finding ids)
    for finding in report.decision.alerted:
        if finding.fixed_in_version and finding.package_name:
            versions, ids = upgrades.setdefault(finding.package_name, ({}, []))
            versions[finding.fixed_in_version] = None
            ids.append(finding.id)
    room = CHAT_MAX_NEXT_STEPS - 1 - (1 if report.decision.expired else 0) - (1 if report.failed_signings else 0)
    steps = [_upgrade_step(package, list(versions), ids) for package, (versions, ids) in list(upgrades.items())[:room]]
    if report.failed_signings:
        steps.append("Check the signing profile named above: the image stays unsigned")
    if report.decision.expired:
        steps.append(f"Renew or remove {len(report.decision.expired)} expired suppression(s)")
    link = console_url(report.image)
    steps.append(f"Review the scan results: {link}" if link else "Review the scan results in the ECR console")
    return steps


def _chat_description(report: FindingsReport) -> str:
    image, decision = report.image, report.decision
    where = f" in {registry_chat(image)}" if image.account_name else ""
    lines = [
        f"*{chat(image_reference(image), 400)}* {chat_code(image.digest[:19], 19)} ({report.scan_kind} scan){where}",
        f"{', '.join(counts_text(decision.alerted_counts)) or 'nothing'} at or above {decision.threshold}"
        + (f", {decision.fixable_count} fixable" if fix_reported(decision.alerted) else "")
        + (f"; {decision.suppressed_count} suppressed" if decision.suppressed_count else ""),
        *signing_chat(report.signing),
        *map(finding_chat_line, decision.alerted[:CHAT_MAX_FINDINGS]),
    ]
    if len(decision.alerted) > CHAT_MAX_FINDINGS:
        lines.append(f"_... and {len(decision.alerted) - CHAT_MAX_FINDINGS} more_")
    if decision.expired:
        lines.append(f"*{len(decision.expired)} expired suppression(s)* no longer suppress anything")
    if decision.suppression_problems:
        lines.append(f"*{len(decision.suppression_problems)} invalid suppression(s) skipped*: fix the document")
    description = "\n".join(lines)
    if len(description) > CHAT_DESCRIPTION_MAX_CHARACTERS:  # cut at a line: never inside a code span or entity
        description = description[:CHAT_DESCRIPTION_MAX_CHARACTERS].rsplit("\n", 1)[0] + "\n..."
    return description


def _keyword(report: FindingsReport) -> str:
    if report.decision.highest_severity:
        return str(report.decision.highest_severity)
    return "SIGNING FAILED" if report.failed_signings else "OK"


def chat_body(report: FindingsReport) -> str:
    return chat_message(
        icon=":rotating_light:",
        summary=subject(report),
        description=_chat_description(report),
        next_steps=_next_steps(report),
        keywords=[_keyword(report), report.image.repository_name, "ecr-governance"],
        event_type=CHAT_EVENT_TYPE,
    )


# ---- the notice, within SNS's byte limit ----------------------------------------------------------------------
def alert_notice(report: FindingsReport, max_message_bytes: int = SNS_MESSAGE_MAX_BYTES) -> Notice:
    """The alert, listing as many of the most severe findings as fit in `max_message_bytes` (SNS's limit).

    Each finding is written (its text lines, its OCSF vulnerability) only while the bytes it adds at the least - in
    the text and in the two machine bodies - still fit: 10,000 findings never become a 10 MB message to measure."""
    written = Written(head=_text_head(report), lines=[], vulnerabilities=[], chat=chat_body(report))
    room = max_message_bytes - message_size_bytes(notice_listing(report, written, 0))
    for finding in report.decision.alerted:
        line = finding_text(finding)
        vulnerability = json.dumps(ocsf.vulnerability(finding, report.scan_kind), ensure_ascii=False)
        room -= len(line.encode()) + 1 + 2 * (len(vulnerability.encode()) + 1)
        if room < 0:
            break
        written.lines.append(line)
        written.vulnerabilities.append(vulnerability)
    return largest_fitting(len(written.lines), partial(notice_listing, report, written), max_message_bytes)


def notice_listing(report: FindingsReport, written: Written, listed: int) -> Notice:
    """The alert listing the first `listed` findings."""
    machine = splice_last(machine_head(report, listed), "vulnerabilities", written.vulnerabilities[:listed])
    attributes = {
        "alert": "scan",
        "severity": str(report.decision.highest_severity or "NONE"),
        "repository": bounded(report.image.repository_name, LIST_CHARACTERS),
        **({"signing": "FAILED"} if report.failed_signings else {}),
        **member_attributes([report.image]),
    }
    return Notice(
        subject=subject(report),
        text=alert_text(report, listed, written),
        bodies={"https": written.chat, "sqs": machine, "lambda": machine},
        attributes=attributes,
    )
