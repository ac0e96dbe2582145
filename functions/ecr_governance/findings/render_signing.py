"""What a scan alert says about the image's managed signing (pure formatting). The signing profile, failure code and
failure reason come from outside (ECR, Signer): each is escaped for the medium it goes to and bounded."""

from __future__ import annotations

from typing import Any

from ecr_governance.findings.signing_status import SigningReport
from ecr_governance.signing import FAILED, ImageSigningStatus
from ecr_governance.text import bounded, chat, chat_code, plain, well_formed

PROFILE_CHARACTERS = 300
CODE_CHARACTERS = 64
REASON_CHARACTERS = 500
UNREAD_CHARACTERS = 400
MAX_LISTED_STATUSES = 10  # ECR signs with one profile a rule; a registry has few rules


def _status_text(status: ImageSigningStatus) -> str:
    line = f"  {plain(status.status, CODE_CHARACTERS):<12} {plain(status.signing_profile_arn, PROFILE_CHARACTERS)}"
    if status.status == FAILED:
        code = plain(status.failure_code, CODE_CHARACTERS) or "no failure code"
        reason = plain(status.failure_reason, REASON_CHARACTERS) or "no reason given"
        line += f"\n{'':15}{code}: {reason}"
    return line


def signing_text(signing: SigningReport | None) -> list[str]:
    """The text section (none when the repository need not be signed), followed by an empty line."""
    if signing is None:
        return []
    lines = ["Signing (SignedRepositoryPatterns names this repository)"]
    if signing.unread:
        lines.append(f"  NOT READ: the signing status could not be read - {plain(signing.unread, UNREAD_CHARACTERS)}")
    elif not signing.statuses and not signing.previously_alerted:
        lines.append("  no signing status: no managed signing rule signed this image")
    lines += [_status_text(status) for status in signing.statuses[:MAX_LISTED_STATUSES]]
    if signing.failed:
        lines.append("  A FAILED signing leaves the image unsigned: check the signing profile named above.")
    if signing.in_progress:
        lines.append("  IN_PROGRESS: signing had not finished when the scan completed.")
    if signing.previously_alerted:
        lines.append(f"  Not repeated: {signing.previously_alerted} failed signing(s) already alerted for this image")
    return [*lines, ""]


def signing_chat(signing: SigningReport | None) -> list[str]:
    """The chat lines: failures, signing in progress, an unread status; nothing when all is signed."""
    if signing is None:
        return []
    lines = [
        f"*Signing FAILED* with {chat_code(status.signing_profile_arn, PROFILE_CHARACTERS)}: "
        f"{chat_code(status.failure_code, CODE_CHARACTERS) or 'no failure code'} "
        f"{chat(status.failure_reason, REASON_CHARACTERS)}"
        for status in signing.failed[:MAX_LISTED_STATUSES]
    ]
    if signing.in_progress:
        lines.append(f"Signing in progress ({len(signing.in_progress)} profile(s))")
    if signing.unread:
        lines.append(f"*Signing status not read*: {chat(signing.unread, UNREAD_CHARACTERS)}")
    return lines


def signing_document(signing: SigningReport | None) -> dict[str, Any] | None:
    """The OCSF finding's `unmapped.signing` (None when the repository need not be signed)."""
    if signing is None:
        return None
    return {
        "statuses": [
            {
                "signingProfileArn": bounded(well_formed(status.signing_profile_arn), PROFILE_CHARACTERS),
                "status": bounded(well_formed(status.status), CODE_CHARACTERS),
                "failureCode": bounded(well_formed(status.failure_code), CODE_CHARACTERS) or None,
                "failureReason": bounded(well_formed(status.failure_reason), REASON_CHARACTERS) or None,
            }
            for status in signing.statuses[:MAX_LISTED_STATUSES]
        ],
        "failed": len(signing.failed),
        "unread": bounded(well_formed(signing.unread), UNREAD_CHARACTERS) or None,
        "previouslyAlerted": signing.previously_alerted,
    }
