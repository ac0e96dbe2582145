"""The SQS adapter: sends message bodies to one queue in SendMessageBatch calls (≤ 10 entries, ≤ 256 KiB a call).

A batch call succeeds while single entries fail; every body that did not get in - a failed entry, or a whole call
that failed - comes back in the SendResult with the reason, so the caller decides (nothing is retried blindly).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires
from ecr_governance.errors import AwsError, FatalAwsError
from ecr_governance.organization.work import WorkMessage
from ecr_governance.sweep.messages import MAX_MESSAGE_BYTES, SendResult

MAX_ENTRIES_PER_BATCH = 10


def _batches(bodies: Sequence[str]) -> Iterator[list[int]]:
    """Positions of the bodies, grouped into calls of ≤ 10 entries and ≤ 256 KiB in total."""
    batch: list[int] = []
    size = 0
    for position, body in enumerate(bodies):
        length = len(body.encode())
        if batch and (len(batch) == MAX_ENTRIES_PER_BATCH or size + length > MAX_MESSAGE_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(position)
        size += length
    if batch:
        yield batch


class SqsQueue:
    def __init__(self, sqs_client: Any, queue_url: str):
        self._sqs = sqs_client
        self._queue_url = queue_url

    @requires("sqs:SendMessage")
    def send_messages(self, bodies: Sequence[str], delay_seconds: int = 0) -> SendResult:
        """Send the bodies (`delay_seconds`: 0-900, how long SQS hides each before delivering it)."""
        unsent: list[int] = []
        errors: list[str] = []
        for batch in _batches(bodies):
            oversized = [position for position in batch if len(bodies[position].encode()) > MAX_MESSAGE_BYTES]
            if oversized:
                unsent.extend(oversized)
                errors.append(f"{len(oversized)} message(s) larger than {MAX_MESSAGE_BYTES} bytes")
                batch = [position for position in batch if position not in oversized]
                if not batch:
                    continue
            delay = {"DelaySeconds": delay_seconds} if delay_seconds else {}
            entries = [{"Id": str(position), "MessageBody": bodies[position], **delay} for position in batch]
            try:
                with translated("SendMessageBatch", "sqs", self._queue_url):
                    response = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except FatalAwsError:
                raise
            except AwsError as error:
                unsent.extend(batch)
                errors.append(str(error))
                continue
            for failed in response.get("Failed", []):
                unsent.append(int(failed["Id"]))
                errors.append(f"{failed.get('Code', 'Failed')}: {failed.get('Message', '')}".rstrip(": "))
        return SendResult(tuple(sorted(unsent)), tuple(dict.fromkeys(errors)))


class FifoWorkQueue:
    """An organization hub's FIFO work queue (the WorkQueue port): SendMessageBatch, 10 entries a call, each with its
    message group and deduplication id."""

    def __init__(self, sqs_client: Any, queue_url: str):
        self._sqs = sqs_client
        self._queue_url = queue_url

    @requires("sqs:SendMessage")
    def send_work(self, messages: Sequence[WorkMessage]) -> tuple[int, ...]:
        unsent: list[int] = []
        for start in range(0, len(messages), MAX_ENTRIES_PER_BATCH):
            batch = range(start, min(start + MAX_ENTRIES_PER_BATCH, len(messages)))
            entries = [
                {
                    "Id": str(position),
                    "MessageBody": messages[position].body,
                    "MessageGroupId": messages[position].group,
                    "MessageDeduplicationId": messages[position].deduplication,
                }
                for position in batch
            ]
            try:
                with translated("SendMessageBatch", "sqs", self._queue_url):
                    response = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except FatalAwsError:
                raise
            except AwsError:
                unsent.extend(batch)
                continue
            unsent.extend(int(failed["Id"]) for failed in response.get("Failed", []))
        return tuple(sorted(unsent))
