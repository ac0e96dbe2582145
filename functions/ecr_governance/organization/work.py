"""An organization hub's work queue: one SQS FIFO queue whose message groups keep each member account's work in
order (events and reconciles of one account-region never overlap: registry scanning is written whole) while the
accounts run side by side. A message is an EventBridge-shaped event whose `account` and `region` are the member's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ecr_governance.organization.membership import Target

# SQS FIFO: MessageGroupId and MessageDeduplicationId are at most 128 characters.
MAX_ID_LENGTH = 128


@dataclass(frozen=True)
class WorkMessage:
    group: str  # MessageGroupId: one account's work, or one share of it (AccountConcurrency)
    deduplication: str  # MessageDeduplicationId: the same event twice within five minutes is dropped by SQS
    body: str


class WorkQueue(Protocol):
    """The hub's FIFO work queue (the SQS adapter serves it)."""

    def send_work(self, messages: Sequence[WorkMessage]) -> tuple[int, ...]:
        """Send the messages; the positions of those SQS refused."""
        ...


def group_of(target: Target, regions: Sequence[str], account_concurrency: int) -> str:
    """The message group of an account-region: an account's regions spread over `account_concurrency` groups, so at
    most that many of its account-regions are worked on at once, and never the same one twice."""
    position = regions.index(target.region) if target.region in regions else len(regions)
    return f"{target.account_id}-{position % account_concurrency}"


def work_message(event: Mapping[str, Any], group: str) -> WorkMessage:
    body = json.dumps(event, separators=(",", ":"), default=str)
    event_id = str(event.get("id") or "")
    deduplication = event_id if 0 < len(event_id) <= MAX_ID_LENGTH else hashlib.sha256(body.encode()).hexdigest()
    return WorkMessage(group, deduplication, body)
