"""A capability-neutral notice (what a person or a subscriber reads) and the port that publishes it.

Each capability builds its own Notice from its own report (enforcement's remediations, a scan's findings, a sweep's
summary); the SNS adapter publishes any of them, with one body per protocol when a notice carries several.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

# SNS: "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100 characters long."
SUBJECT_MAX_CHARACTERS = 99
# SNS: a message, attributes included, is at most 256 KB, counted in UTF-8 bytes.
SNS_MESSAGE_MAX_BYTES = 256 * 1024


def subject_line(text: str) -> str:
    """`text` as a valid SNS subject: control characters and line breaks become spaces, cut to the limit."""
    cleaned = "".join(" " if unicodedata.category(char).startswith("C") else char for char in text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) <= SUBJECT_MAX_CHARACTERS:
        return cleaned
    return cleaned[: SUBJECT_MAX_CHARACTERS - 3].rstrip() + "..."


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str  # the readable plain-text body: what e-mail and any protocol without its own body receive
    # Per-protocol bodies (`email`, `https`, `sqs`, `lambda`, ...) published with MessageStructure=json.
    bodies: Mapping[str, str] = field(default_factory=dict)
    # Message attributes subscribers can filter on (string values).
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject", subject_line(self.subject))


def protocol_message(notice: Notice) -> str:
    """The Message SNS receives: the text, or with per-protocol bodies the MessageStructure=json document (whose
    `default` serves every protocol without a body of its own)."""
    if not notice.bodies:
        return notice.text
    return json.dumps({"default": notice.text, **notice.bodies}, ensure_ascii=False)


def message_size_bytes(notice: Notice) -> int:
    """What SNS counts against its 256 KB limit, in UTF-8 bytes: the message, the subject and every attribute's
    name, type and value."""
    attributes = sum(
        len(name.encode()) + len("String") + len(value.encode()) for name, value in notice.attributes.items()
    )
    return len(protocol_message(notice).encode()) + len(notice.subject.encode()) + attributes


class NoticePublisher(Protocol):
    def publish(self, notice: Notice) -> None:
        """Deliver the notice; raises a domain error (AwsError) when it could not be delivered."""
        ...
