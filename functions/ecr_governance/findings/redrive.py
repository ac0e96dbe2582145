"""Sending failed events back through alerting (`ecr-governance findings redrive`): what a failures queue holds, what
each message replays to, and the run - a dry run unless told to apply.

Two queues, two shapes:
- ScanFindingsFailures: Lambda's on-failure destination records (`requestContext.functionArn`, `requestPayload` =
  the scan event, `responsePayload` = the error): replayed by invoking that function again, asynchronously, with
  the event (its retries and failure destination apply again);
- InspectorFindingsDeadLetterQueue: the Inspector finding events themselves (SQS moved them after three failed
  receives): replayed by sending them to the findings queue again (`--to-queue-url`).
A message is deleted only after its replay was accepted; one that is neither shape, or whose replay failed, is
listed and left in place (visible again at once, as every message a dry run lists).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from ecr_governance.errors import FatalAwsError, GovernanceError, InputError


@dataclass(frozen=True)
class QueuedMessage:
    message_id: str
    receipt_handle: str
    body: str


class MessageSource(Protocol):
    def receive(self, max_messages: int, hold_seconds: int) -> list[QueuedMessage]:
        """Up to `max_messages` (<= 10) messages, invisible to others for `hold_seconds`."""
        ...

    def delete(self, message: QueuedMessage) -> None: ...

    def release(self, message: QueuedMessage) -> None:
        """Make a received message visible again at once (it stays in the queue)."""
        ...


class EventInvoker(Protocol):
    def invoke_async(self, function_name: str, payload: dict[str, Any]) -> None: ...


class EventSender(Protocol):
    def send(self, body: str) -> None: ...


class ReplayKind(StrEnum):
    INVOKE = "invoke"  # a Lambda on-failure record: invoke its function with its event
    REQUEUE = "requeue"  # an EventBridge event from a dead-letter queue: back onto the findings queue
    UNKNOWN = "unknown"  # neither: listed, left in place


@dataclass(frozen=True)
class Replay:
    message: QueuedMessage
    kind: ReplayKind
    target: str  # the function, or "findings queue"
    event: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # why it failed (a destination record says), or why it cannot be replayed

    def describe(self) -> dict[str, Any]:
        raw_detail = self.event.get("detail")
        detail: Mapping[str, Any] = raw_detail if isinstance(raw_detail, Mapping) else {}
        return {
            "messageId": self.message.message_id,
            "replay": str(self.kind),
            "target": self.target,
            "eventId": self.event.get("id"),
            "detailType": self.event.get("detail-type"),
            "repository": detail.get("repository-name") or _image_of(detail),
            "reason": self.reason,
        }


def _image_of(detail: Mapping[str, Any]) -> str | None:
    resources = detail.get("resources")
    if isinstance(resources, list) and resources and isinstance(resources[0], Mapping):
        return str(resources[0].get("id", "")) or None
    return None


def _function_of(arn: Any) -> str:
    """The function of a destination record's ARN, without the version Lambda appends (`:$LATEST`)."""
    parts = str(arn).split(":")
    return ":".join(parts[:7]) if len(parts) >= 7 else ""


def replay_of(message: QueuedMessage) -> Replay:
    try:
        document = json.loads(message.body)
    except (ValueError, RecursionError):
        return Replay(message, ReplayKind.UNKNOWN, "-", reason="the body is not JSON")
    if not isinstance(document, dict):
        return Replay(message, ReplayKind.UNKNOWN, "-", reason="the body is not a JSON object")
    context, payload = document.get("requestContext"), document.get("requestPayload")
    if isinstance(context, dict) and isinstance(payload, dict):
        function = _function_of(context.get("functionArn"))
        response = document.get("responsePayload")
        reason = str(response.get("errorMessage", ""))[:300] if isinstance(response, dict) else ""
        reason = reason or str(context.get("condition", ""))
        if function:
            return Replay(message, ReplayKind.INVOKE, function, payload, reason)
    if "detail-type" in document and "detail" in document:
        return Replay(message, ReplayKind.REQUEUE, "findings queue", document)
    return Replay(message, ReplayKind.UNKNOWN, "-", reason="neither a Lambda failure record nor an event")


@dataclass
class RedriveReport:
    applied: bool
    replays: list[Replay] = field(default_factory=list)
    redriven: list[str] = field(default_factory=list)  # message ids replayed and deleted
    failed: dict[str, str] = field(default_factory=dict)  # message id -> why its replay failed (left in place)


class Redriver:
    # Long enough to replay a batch before SQS would show its messages again (each kept one is released at the end).
    HOLD_SECONDS = 60

    def __init__(self, source: MessageSource, invoker: EventInvoker | None, sender: EventSender | None):
        self._source = source
        self._invoker = invoker
        self._sender = sender

    def run(self, apply: bool, limit: int) -> RedriveReport:
        """Read up to `limit` messages; with `apply`, replay each and delete it once the replay was accepted."""
        report = RedriveReport(applied=apply)
        seen: set[str] = set()
        while len(seen) < limit:
            received = self._source.receive(min(10, limit - len(seen)), self.HOLD_SECONDS)
            fresh = [message for message in received if message.message_id not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message.message_id)
                replay = replay_of(message)
                report.replays.append(replay)
                if apply and replay.kind is not ReplayKind.UNKNOWN:
                    self._replay(replay, report)
        self._release_kept(report)
        return report

    def _release_kept(self, report: RedriveReport) -> None:
        """What was listed but not redriven is visible in the queue again right away (a dry run changes nothing)."""
        for replay in report.replays:
            if replay.message.message_id not in report.redriven:
                self._source.release(replay.message)

    def _replay(self, replay: Replay, report: RedriveReport) -> None:
        try:
            if replay.kind is ReplayKind.INVOKE:
                if self._invoker is None:
                    raise InputError("no Lambda client to invoke the function with")
                self._invoker.invoke_async(replay.target, replay.event)
            else:
                if self._sender is None:
                    raise InputError("--to-queue-url is needed to send Inspector finding events back")
                self._sender.send(json.dumps(replay.event))
            self._source.delete(replay.message)
        except FatalAwsError:
            raise
        except GovernanceError as error:  # that message stays in the queue; the others go on
            report.failed[replay.message.message_id] = str(error)
            return
        report.redriven.append(replay.message.message_id)
