"""The alert for one vulnerability across every image a batch of Inspector finding events names (pure formatting):
found (`[HIGH] CVE-2024-1234 (openssl) in 200 images, 30 repositories`) or resolved (`[RESOLVED] ...`).

The same bodies as a scan alert (render.py): e-mail text, an AWS Chatbot notification, an OCSF Vulnerability
Finding (one vulnerability, a resource per image), within SNS's 256 KB: when the images do not all fit, the text and
the machine body list as many as fit (by repository) and say how many more.
"""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from ecr_governance.findings import ocsf
from ecr_governance.findings.advisories import Advisory, Occurrence, repository_of
from ecr_governance.findings.policy import AlertRules
from ecr_governance.findings.render_parts import (
    CONSOLE_DOMAINS,
    ID_CHARACTERS,
    PACKAGE_CHARACTERS,
    SHORT_DIGEST,
    bounded_list,
    chat_message,
    fix_text,
    image_reference,
    largest_fitting,
    link_line,
    member_attributes,
    package_text,
    problem_lines,
    registry_chat,
    registry_text,
    score_text,
    severity_note,
    shorten_middle,
    splice_last,
    suppression_lines,
)
from ecr_governance.notice import SNS_MESSAGE_MAX_BYTES, SUBJECT_MAX_CHARACTERS, Notice
from ecr_governance.text import bounded, chat_code, plain, well_formed

CHAT_EVENT_TYPE = "ecr-governance.VulnerabilityAdvisory"
CHAT_MAX_IMAGES = 10
DESCRIPTION_CHARACTERS = 600


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") else f"{count} {noun}s"


def _spread(advisory: Advisory) -> str:
    return f"{_plural(len(advisory.occurrences), 'image')}, {_plural(advisory.repository_count, 'repository')}"


def subject(advisory: Advisory) -> str:
    worst = advisory.worst
    package = f" ({plain(worst.package_name, 60)})" if worst.package_name else ""
    if advisory.resolved:
        head, tail = "[RESOLVED] ", f" no longer found in {_spread(advisory)}"
    else:
        head, tail = f"[{advisory.severity}] ", f" in {_spread(advisory)}"
    room = SUBJECT_MAX_CHARACTERS - len(head) - len(tail)
    return head + shorten_middle(plain(advisory.vulnerability_id, ID_CHARACTERS) + package, room) + tail


def inspector_url(occurrence: Occurrence) -> str:
    """Amazon Inspector's findings page in the image's region; "" for a partition without a known console."""
    image = occurrence.image
    domain = CONSOLE_DOMAINS.get(image.partition)
    return f"https://{image.region}.{domain}/inspector/v2/home?region={image.region}#/findings" if domain else ""


def image_line(occurrences: list[Occurrence]) -> str:
    """`  repository (3): 1.4.2, 1.4.1, @sha256:0123456789ab` - one repository's images; a member's repository (an
    organization hub's advisory) says whose: `  repository in team-a (111111111111), eu-west-1 (3): ...`."""
    names = [plain(o.image.tags[0], 128) if o.image.tags else f"@{o.image.digest[:SHORT_DIGEST]}" for o in occurrences]
    image = occurrences[0].image
    where = f" in {registry_text(image)}" if image.account_name else ""
    return f"  {plain(image.repository_name, 256)}{where} ({len(occurrences)}): {bounded_list(names)}"


def _image_lines(occurrences: tuple[Occurrence, ...]) -> list[str]:
    return [image_line(list(group)) for _, group in groupby(occurrences, key=lambda o: repository_of(o.image))]


def _vulnerability_lines(advisory: Advisory) -> list[str]:
    worst = advisory.worst
    fix = fix_text(worst)
    exploit = "yes" if worst.exploit_available else ("no" if worst.exploit_available is False else "not reported")
    lines = [
        "Vulnerability",
        f"  Id:          {plain(advisory.vulnerability_id, ID_CHARACTERS)}",
        f"  Severity:    {advisory.severity} {score_text(worst)} (Amazon Inspector){severity_note(worst)}",
        f"  Package:     {package_text(worst)}" + (f" - {fix}" if fix else ""),
        f"  Exploit:     {exploit}",
    ]
    if worst.link:
        lines.append(f"  Advisory:    {link_line(worst.link)}")
    if worst.description:
        lines.append(f"  Description: {plain(worst.description, DESCRIPTION_CHARACTERS)}")
    return lines


def advisory_text(advisory: Advisory, rules: AlertRules, listed: int | None = None, previously: int = 0) -> str:
    occurrences = advisory.occurrences if listed is None else advisory.occurrences[:listed]
    omitted = len(advisory.occurrences) - len(occurrences)
    verb = "no longer found in" if advisory.resolved else "found in"
    lines = [subject(advisory), "", *_vulnerability_lines(advisory), ""]
    lines.append(f"{'Resolved' if advisory.resolved else 'Affected'} images ({verb} {_spread(advisory)}):")
    lines += _image_lines(occurrences)
    if omitted:
        lines.append(f"  ... and {_plural(omitted, 'more image')}: see Amazon Inspector's findings (link below)")
    if previously:
        lines.append(
            f"Not repeated: {_plural(previously, 'image')} already alerted for it (a scan or an earlier event)"
        )
    if advisory.expired:
        lines += ["", "EXPIRED suppressions - they suppress nothing now: renew them or fix the findings:"]
        lines += suppression_lines(advisory.expired, expired=True)
    lines += problem_lines(rules.suppressions.problems)
    link = inspector_url(advisory.occurrences[0])
    if link:
        lines += ["", "Amazon Inspector findings in the console:", f"  {link}"]
    return "\n".join([*lines, "", "-- ecr-governance"])


def _chat_description(advisory: Advisory, previously: int) -> str:
    worst = advisory.worst
    fix = fix_text(worst, chat_code)
    lines = [
        f"{chat_code(advisory.vulnerability_id, ID_CHARACTERS)} *{advisory.severity}* {score_text(worst)} in "
        f"{package_text(worst, chat_code)}" + (f" - {fix}" if fix else ""),
        f"{'Resolved in' if advisory.resolved else 'Found in'} {_spread(advisory)}:",
    ]
    for occurrence in advisory.occurrences[:CHAT_MAX_IMAGES]:
        image = occurrence.image
        where = f" in {registry_chat(image)}" if image.account_name else ""
        lines.append(f"• {chat_code(image_reference(image), 300)}{where}")
    if len(advisory.occurrences) > CHAT_MAX_IMAGES:
        lines.append(f"_... and {len(advisory.occurrences) - CHAT_MAX_IMAGES} more_")
    if previously:
        lines.append(f"{_plural(previously, 'image')} already alerted: not repeated")
    return "\n".join(lines)


def _chat(advisory: Advisory, previously: int) -> str:
    worst = advisory.worst
    steps = []
    if not advisory.resolved and worst.fixed_in_version and worst.package_name:
        steps.append(
            f"Upgrade {chat_code(worst.package_name, PACKAGE_CHARACTERS)} to {chat_code(worst.fixed_in_version, 128)}"
        )
    link = inspector_url(advisory.occurrences[0])
    steps.append(f"Review in Amazon Inspector: {link}" if link else "Review the findings in Amazon Inspector")
    return chat_message(
        icon=":white_check_mark:" if advisory.resolved else ":rotating_light:",
        summary=subject(advisory),
        description=_chat_description(advisory, previously),
        next_steps=steps,
        keywords=[("RESOLVED" if advisory.resolved else str(advisory.severity)), "ecr-governance"],
        event_type=CHAT_EVENT_TYPE,
    )


def _machine_head(advisory: Advisory, rules: AlertRules, listed: int, previously: int) -> dict[str, Any]:
    first = advisory.occurrences[0]
    unmapped = {
        "alert": "resolved" if advisory.resolved else "advisory",
        "policy": {"threshold": str(rules.threshold), "onlyFixable": rules.only_fixable},
        "imagesAffected": len(advisory.occurrences),
        "imagesIncluded": listed,
        "imagesOmitted": len(advisory.occurrences) - listed,
        "previouslyAlerted": previously,
        "repositories": len(advisory.repositories),
        "findingArns": [o.finding_arn for o in advisory.occurrences[:listed]],
        "suppressionProblems": [bounded(well_formed(problem), 400) for problem in rules.suppressions.problems[:5]],
    }
    return ocsf.finding_document(
        uid=f"ecr-governance:advisory/{advisory.vulnerability_id}/{unmapped['alert']}/{advisory.updated_at}",
        title=subject(advisory),
        severity=advisory.severity,
        closed=advisory.resolved,
        time=advisory.updated_at,
        image=first.image,
        console_url=inspector_url(first),
        resources=[ocsf.resource(o.image, image_reference(o.image)) for o in advisory.occurrences[:listed]],
        unmapped=unmapped,
    )


def advisory_notice(
    advisory: Advisory, rules: AlertRules, previously: int = 0, max_message_bytes: int = SNS_MESSAGE_MAX_BYTES
) -> Notice:
    """The advisory's alert, listing as many of its images as fit in `max_message_bytes` (SNS's limit)."""
    vulnerability = json.dumps(ocsf.vulnerability(advisory.worst, "enhanced"), ensure_ascii=False)
    chat_text = _chat(advisory, previously)
    repositories = advisory.repositories
    attributes = {
        "alert": "resolved" if advisory.resolved else "advisory",
        "severity": "RESOLVED" if advisory.resolved else str(advisory.severity),
        **({"repository": repositories[0]} if len(repositories) == 1 else {}),
        **member_attributes([occurrence.image for occurrence in advisory.occurrences]),
    }

    def build(listed: int) -> Notice:
        machine = splice_last(_machine_head(advisory, rules, listed, previously), "vulnerabilities", [vulnerability])
        return Notice(
            subject=subject(advisory),
            text=advisory_text(advisory, rules, listed, previously),
            bodies={"https": chat_text, "sqs": machine, "lambda": machine},
            attributes=attributes,
        )

    return largest_fitting(len(advisory.occurrences), build, max_message_bytes)
