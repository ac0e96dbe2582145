"""The sweep's messages, parsed at the edge: the planner's trigger, and the SQS repository and continuation messages.

A repository message asks a worker to sweep one repository under the rules the planner had in force. A continuation
message carries candidates a worker planned but had no time left to delete: whole groups of images that reach each
other (parents first), so parts can be deleted in parallel. Every field is type-checked; anything malformed is an
InvalidEvent naming the field, never another exception.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ecr_governance.errors import InvalidEvent
from ecr_governance.images import ImageDetailError, iso8601, parse_timestamp
from ecr_governance.schedule import SCHEDULE_DETAIL_TYPE
from ecr_governance.sweep.plan import MAX_BATCH, DeletionUnit, PlannedDeletion
from ecr_governance.sweep.settings import MAX_DAYS, SweepMode, SweepRules

REPOSITORY_KIND = "repository"
CONTINUATION_KIND = "continuation"
MESSAGE_VERSION = 1
# SQS: 256 KiB a message (and a SendMessageBatch call); a continuation part stays well under it.
MAX_MESSAGE_BYTES = 256 * 1024
PART_BUDGET_BYTES = 200 * 1024
MAX_PART_DIGESTS = 2500
MAX_ID_LENGTH = 128
# ECR's repository name rule (CreateRepository), 2-256 characters.
REPOSITORY_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
DIGEST = re.compile(r"^[A-Za-z0-9_+.-]+:[A-Fa-f0-9]{32,256}$")


@dataclass(frozen=True)
class SweepTrigger:
    """The planner's event: the schedule. Its event id is the run id (a retried invocation keeps it)."""

    run_id: str


@dataclass(frozen=True)
class RepositoryMessage:
    run_id: str
    repository: str
    rules: SweepRules
    planned_at: datetime

    @property
    def unit_id(self) -> str:
        return f"repository/{self.repository}"


@dataclass(frozen=True)
class ContinuationMessage:
    run_id: str
    repository: str
    rules: SweepRules
    planned_at: datetime
    part_id: str
    units: tuple[DeletionUnit, ...]

    @property
    def unit_id(self) -> str:
        return f"part/{self.part_id}"


SweepMessage = RepositoryMessage | ContinuationMessage


@dataclass(frozen=True)
class SendResult:
    """What a queue could not take: positions of the unsent bodies and why."""

    unsent: tuple[int, ...] = ()
    errors: tuple[str, ...] = ()


# ---- writing ----------------------------------------------------------------------------------------------------


def _rules_json(rules: SweepRules) -> dict[str, Any]:
    return {
        "mode": str(rules.mode),
        "minAgeDays": rules.min_age / timedelta(days=1),
        "minIdleDays": rules.min_idle / timedelta(days=1),
        "sweepArchived": rules.sweep_archived,
    }


def _envelope(kind: str, run_id: str, repository: str, rules: SweepRules, planned_at: datetime) -> dict[str, Any]:
    return {
        "kind": kind,
        "version": MESSAGE_VERSION,
        "runId": run_id,
        "repository": repository,
        "rules": _rules_json(rules),
        "plannedAt": iso8601(planned_at),
    }


def repository_body(message: RepositoryMessage) -> str:
    return json.dumps(
        _envelope(REPOSITORY_KIND, message.run_id, message.repository, message.rules, message.planned_at),
        separators=(",", ":"),
    )


def _unit_json(unit: DeletionUnit) -> list[dict[str, Any]]:
    return [{"digest": d.digest, "sizeBytes": d.size_bytes, "reaches": list(d.reaches)} for d in unit]


def continuation_body(message: ContinuationMessage) -> str:
    document = _envelope(CONTINUATION_KIND, message.run_id, message.repository, message.rules, message.planned_at)
    document["partId"] = message.part_id
    document["units"] = [_unit_json(unit) for unit in message.units]
    return json.dumps(document, separators=(",", ":"))


def units_size(units: Sequence[DeletionUnit]) -> int:
    """Bytes these units take in a continuation body (commas between them included)."""
    return sum(len(json.dumps(_unit_json(unit), separators=(",", ":"))) + 1 for unit in units)


def body(message: SweepMessage) -> str:
    return continuation_body(message) if isinstance(message, ContinuationMessage) else repository_body(message)


# ---- reading ----------------------------------------------------------------------------------------------------


def parse_sweep_trigger(event: Any) -> SweepTrigger:
    if not isinstance(event, Mapping):
        raise InvalidEvent("event is missing or not an object")
    if event.get("detail-type") != SCHEDULE_DETAIL_TYPE or event.get("source") != "aws.events":
        raise InvalidEvent(
            f"unexpected event (detail-type {event.get('detail-type')!r}, source {event.get('source')!r}): "
            "the sweep planner runs on its schedule"
        )
    return SweepTrigger(run_id=_identifier(event.get("id"), "id"))


def parse_message(raw: Any) -> SweepMessage:
    """A repository or continuation message from an SQS body (JSON text) or its parsed object."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as error:  # JSONDecodeError and undecodable bytes are ValueErrors
            raise InvalidEvent("message body is not JSON") from error
    document = _object(raw, "message")
    kind = document.get("kind")
    if kind not in (REPOSITORY_KIND, CONTINUATION_KIND):
        raise InvalidEvent(f"kind: expected {REPOSITORY_KIND!r} or {CONTINUATION_KIND!r}")
    version = document.get("version")
    if type(version) is not int or version != MESSAGE_VERSION:
        raise InvalidEvent(f"version: expected {MESSAGE_VERSION}")
    run_id = _identifier(document.get("runId"), "runId")
    repository = document.get("repository")
    if not isinstance(repository, str) or not 2 <= len(repository) <= 256 or not REPOSITORY_NAME.match(repository):
        raise InvalidEvent("repository: expected an ECR repository name")
    rules = _rules(document.get("rules"))
    planned_at = _time(document.get("plannedAt"), "plannedAt")
    if kind == REPOSITORY_KIND:
        return RepositoryMessage(run_id, repository, rules, planned_at)
    part_id = _identifier(document.get("partId"), "partId")
    return ContinuationMessage(run_id, repository, rules, planned_at, part_id, _units(document.get("units")))


def _object(value: Any, field_name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEvent(f"{field_name}: expected an object")
    return value


def _identifier(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH or not value.isprintable():
        raise InvalidEvent(f"{field_name}: expected a printable string of 1 to {MAX_ID_LENGTH} characters")
    return value


def _days(value: Any, field_name: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEvent(f"{field_name}: expected a number of days")
    if not (math.isfinite(value) and 0 <= value <= MAX_DAYS):
        raise InvalidEvent(f"{field_name}: expected 0 to {MAX_DAYS} days")
    return timedelta(days=value)


def _rules(value: Any) -> SweepRules:
    rules = _object(value, "rules")
    mode = rules.get("mode")
    if not isinstance(mode, str) or mode not in {str(m) for m in SweepMode}:
        raise InvalidEvent(f"rules.mode: expected one of {', '.join(str(m) for m in SweepMode)}")
    sweep_archived = rules.get("sweepArchived")
    if not isinstance(sweep_archived, bool):
        raise InvalidEvent("rules.sweepArchived: expected true or false")
    return SweepRules(
        mode=SweepMode(mode),
        min_age=_days(rules.get("minAgeDays"), "rules.minAgeDays"),
        min_idle=_days(rules.get("minIdleDays"), "rules.minIdleDays"),
        sweep_archived=sweep_archived,
    )


def _time(value: Any, field_name: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidEvent(f"{field_name}: expected an ISO-8601 time")
    try:
        return parse_timestamp(value, field_name)
    except ImageDetailError as error:
        raise InvalidEvent(str(error)) from error


def _digest(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or len(value) > 300 or not DIGEST.match(value):
        raise InvalidEvent(f"{field_name}: expected an image digest (sha256:...)")
    return value


def _units(value: Any) -> tuple[DeletionUnit, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidEvent("units: expected a non-empty list of units")
    units: list[DeletionUnit] = []
    seen: set[str] = set()
    for position, unit in enumerate(value):
        where = f"units[{position}]"
        if not isinstance(unit, list) or not 0 < len(unit) <= MAX_BATCH:
            raise InvalidEvent(f"{where}: expected a list of 1 to {MAX_BATCH} images")
        members = []
        for index, entry in enumerate(unit):
            entry = _object(entry, f"{where}[{index}]")
            digest = _digest(entry.get("digest"), f"{where}[{index}].digest")
            if digest in seen:
                raise InvalidEvent(f"{where}[{index}].digest: {digest} is listed twice")
            seen.add(digest)
            size = entry.get("sizeBytes")
            if type(size) is not int or size < 0:
                raise InvalidEvent(f"{where}[{index}].sizeBytes: expected a whole number of bytes")
            reaches = entry.get("reaches")
            if not isinstance(reaches, list) or len(reaches) > MAX_PART_DIGESTS:
                raise InvalidEvent(f"{where}[{index}].reaches: expected a list of digests")
            targets = tuple(_digest(target, f"{where}[{index}].reaches") for target in reaches)
            members.append(PlannedDeletion(digest, size, targets))
        units.append(tuple(members))
    if len(seen) > MAX_PART_DIGESTS:
        raise InvalidEvent(f"units: more than {MAX_PART_DIGESTS} images")
    return tuple(units)
