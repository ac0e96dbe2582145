"""What both alerts (one per scanned image, one per vulnerability) write the same way: names, links, finding lines
per medium, bounded lists, and the search for the most a message can list within SNS's 256 KB.

Every string that came from outside goes through ecr_governance.text for its medium: `plain` for the e-mail text
(and the terminal), `chat` / `chat_code` for the chat message. Every list is bounded, so a head without findings
always fits and an alert always goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ecr_governance.findings.normalize import ACCOUNT_NAME_CHARACTERS, SEVERITIES, Finding, ScannedImage, Severity
from ecr_governance.findings.policy import SuppressionUse
from ecr_governance.notice import Notice, message_size_bytes
from ecr_governance.text import advisory_link, chat, chat_code, plain

SHORT_DIGEST = 19  # "sha256:" + 12 hex digits
# The console of each partition; one not listed (an isolated partition) gets no link rather than a wrong one.
CONSOLE_DOMAINS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
# Bounds, in characters, of what one alert line may hold.
ID_CHARACTERS = 128
PACKAGE_CHARACTERS = 200
VERSION_CHARACTERS = 128
LINK_TEXT_CHARACTERS = 300
LIST_CHARACTERS = 1000  # tags, repositories, versions: a list line
REASON_CHARACTERS = 300
MAX_LISTED_SUPPRESSIONS = 20
MAX_PROBLEM_LINES = 5
PROBLEM_CHARACTERS = 400
LINK_INDENT = " " * 22


def console_url(image: ScannedImage) -> str:
    """The image's scan results in the ECR console of its partition; "" for a partition without a known console."""
    domain = CONSOLE_DOMAINS.get(image.partition)
    if domain is None:
        return ""
    return (
        f"https://{image.region}.{domain}/ecr/repositories/private/{image.registry_id}/{image.repository_name}"
        f"/_/image/{image.digest}/scan-results?region={image.region}"
    )


def image_reference(image: ScannedImage) -> str:
    """`repository:tag` (the first tag), or `repository@sha256:0123456789ab` for an untagged image."""
    if image.tags:
        return f"{image.repository_name}:{image.tags[0]}"
    return f"{image.repository_name}@{image.digest[:SHORT_DIGEST]}"


def registry_text(image: ScannedImage) -> str:
    """Where the image is, for the e-mail text: `team-a (111111111111), eu-west-1` for a member's image (an
    organization hub's alert: the account's name from AWS Organizations, escaped as the outside text it is), or
    `111111111111 (ap-southeast-1)` for the function's own account, as single-account alerts always named it."""
    if not image.account_name:
        return f"{image.registry_id} ({image.region})"
    return f"{plain(image.account_name, ACCOUNT_NAME_CHARACTERS)} ({image.registry_id}), {image.region}"


def registry_chat(image: ScannedImage) -> str:
    """The same for the chat message: the name can be no mention, link or markup there either."""
    if not image.account_name:
        return f"{image.registry_id} ({image.region})"
    return f"{chat(image.account_name, ACCOUNT_NAME_CHARACTERS)} ({image.registry_id}), {image.region}"


def member_attributes(images: Sequence[ScannedImage]) -> dict[str, str]:
    """`{"account": id}` when every image is in one member account (an organization hub's alert), for an SNS
    subscription filter policy per account; {} otherwise - a single-account alert's attributes are unchanged."""
    accounts = {image.registry_id for image in images if image.account_name}
    if len(accounts) == 1 and all(image.account_name for image in images):
        return {"account": accounts.pop()}
    return {}


def shorten_middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = max(limit - 3, 2)
    return text[: keep - keep // 2] + "..." + text[len(text) - keep // 2 :]


def bounded_list(items: Sequence[str], limit: int = LIST_CHARACTERS) -> str:
    """`a, b, c (+N more)`: as many items as fit in `limit` characters, and how many did not."""
    shown: list[str] = []
    size = 0
    for item in items:
        if shown and size + len(item) + 2 > limit:
            break
        shown.append(item)
        size += len(item) + 2
    rest = len(items) - len(shown)
    return ", ".join(shown) + (f" (+{rest} more)" if rest else "")


def counts_text(counts: dict[Severity, int]) -> list[str]:
    return [f"{counts[severity]} {severity.lower()}" for severity in SEVERITIES if counts.get(severity)]


def fix_reported(findings: Iterable[Finding]) -> bool:
    return any(finding.fix_available is not None for finding in findings)


def fix_text(finding: Finding, escape: Callable[[str, int], str] = plain) -> str:
    if finding.fixed_in_version:
        return f"fixed in {escape(finding.fixed_in_version, VERSION_CHARACTERS)}"
    if finding.fix_available is False:
        return "no fix yet"
    if finding.fix_available:
        return "fix available"
    return ""  # the scanner does not say (basic scanning): the head of the alert says so once


def package_text(finding: Finding, escape: Callable[[str, int], str] = plain) -> str:
    parts = [escape(finding.package_name, PACKAGE_CHARACTERS), escape(finding.package_version, VERSION_CHARACTERS)]
    return " ".join(part for part in parts if part) or "(package not reported)"


def score_text(finding: Finding) -> str:
    return f"{finding.score:.1f}" if finding.score is not None else "-"


def severity_note(finding: Finding) -> str:
    """Why an untriaged finding ranks where it does."""
    return "  (untriaged: ranked by its score)" if finding.effective_severity is not finding.severity else ""


def link_line(link: str) -> str:
    """The finding's link as the e-mail prints it: itself when it is an advisory link, else defanged text."""
    return advisory_link(link) or plain(link, LINK_TEXT_CHARACTERS)


def finding_text(finding: Finding) -> str:
    """Two lines of the e-mail text: severity, score, id, package and fix; the link under it."""
    head = (
        f"  {finding.effective_severity:<13} {score_text(finding):>4}  {plain(finding.id, ID_CHARACTERS)}  "
        f"{package_text(finding)}"
    )
    fix = fix_text(finding)
    line = f"{head} - {fix}" if fix else head
    line += ("  EXPLOIT AVAILABLE" if finding.exploit_available else "") + severity_note(finding)
    return f"{line}\n{LINK_INDENT}{link_line(finding.link)}" if finding.link else line


def finding_chat_line(finding: Finding) -> str:
    text = (
        f"• *{finding.effective_severity}* {score_text(finding)} {chat_code(finding.id, ID_CHARACTERS)} "
        f"{package_text(finding, chat_code)}"
    )
    fix = fix_text(finding, chat_code)
    exploit = " :warning: exploit available" if finding.exploit_available else ""
    return (f"{text} - {fix}" if fix else text) + exploit


def suppression_lines(uses: Sequence[SuppressionUse], expired: bool) -> list[str]:
    """The suppressions that held findings back (or expired ones that matched), at most MAX_LISTED_SUPPRESSIONS."""
    lines = []
    for use in uses[:MAX_LISTED_SUPPRESSIONS]:
        suppression = use.suppression
        what = plain(suppression.describe(), REASON_CHARACTERS)
        reason = plain(suppression.reason, REASON_CHARACTERS)
        if expired:
            lines.append(f"  {what} expired {suppression.expires} ({use.findings} alerted above): {reason}")
        else:
            lines.append(f"  {what} until {suppression.expires} ({use.findings}): {reason}")
    if len(uses) > MAX_LISTED_SUPPRESSIONS:
        lines.append(f"  ... and {len(uses) - MAX_LISTED_SUPPRESSIONS} more")
    return lines


def problem_lines(problems: Sequence[str]) -> list[str]:
    """The suppressions document's skipped entries: the alert names them so that someone fixes the document."""
    if not problems:
        return []
    lines = ["", f"SUPPRESSIONS SKIPPED ({len(problems)} invalid, the others apply) - fix the suppressions document:"]
    lines += [f"  {plain(problem, PROBLEM_CHARACTERS)}" for problem in problems[:MAX_PROBLEM_LINES]]
    if len(problems) > MAX_PROBLEM_LINES:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEM_LINES} more")
    return lines


def chat_message(
    icon: str, summary: str, description: str, *, next_steps: list[str], keywords: list[str], event_type: str
) -> str:
    """An AWS Chatbot custom notification, serialized (anything else Chatbot drops silently); `summary` is the
    subject, as plain text, the title shows after the icon."""
    title = chat(summary, 240)
    return json.dumps(
        {
            "version": "1.0",
            "source": "custom",
            "content": {
                "textType": "client-markdown",
                "title": f"{icon} {title}",
                "description": description,
                "nextSteps": next_steps,
                "keywords": [chat(keyword, 100) for keyword in keywords],
            },
            "metadata": {"summary": title, "eventType": event_type},
        },
        ensure_ascii=False,
    )


def splice_last(head: dict[str, Any], key: str, serialized_items: Sequence[str]) -> str:
    """`head` serialized with `key` appended as its last field, a list of already-serialized JSON values."""
    text = json.dumps(head, ensure_ascii=False)
    return f'{text[:-1]}, "{key}": [{",".join(serialized_items)}]}}'


def largest_fitting(count: int, build: Callable[[int], Notice], max_bytes: int) -> Notice:
    """The notice listing the most items (0..count) whose whole message fits in `max_bytes`. `build(0)` fits by
    construction (every part of a head is bounded); a longer listing never makes a smaller message."""
    low, high = 0, count
    while low < high:  # the largest n with build(n) fitting
        middle = (low + high + 1) // 2
        if message_size_bytes(build(middle)) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return build(low)
