"""The sweep's messages, parsed at the edge: the planner's trigger, and the SQS repository and deadline messages.

A repository message names a run and a repository - and, when a worker ran short of time, which part of that
repository's sweep it is; in an organization, also the member account and region. A target message (an organization
hub's fan-out) names an account and region whose repositories a worker lists and queues. They carry no rules and no
digests: the worker sweeps under its own settings and re-plans
against the registry as it is, so a message cannot make it delete anything the registry does not allow now. A
deadline message comes back every 15 minutes (SQS's longest delay) until its run's summary is out. Every field is
type-checked; anything malformed is an InvalidEvent naming the field, never another exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecr_governance.errors import InvalidEvent
from ecr_governance.schedule import SCHEDULE_DETAIL_TYPE

REPOSITORY_KIND = "repository"
TARGET_KIND = "target"
DEADLINE_KIND = "deadline"
MESSAGE_VERSION = 2
# Version 1 repository messages (queued before an upgrade) name a run and a repository too: still swept, their rules
# ignored. Version 1 continuations carried digests the worker no longer trusts: refused.
ACCEPTED_VERSIONS = {REPOSITORY_KIND: (1, 2), TARGET_KIND: (2,), DEADLINE_KIND: (2,)}
# SQS: 256 KiB a message (and a SendMessageBatch call); the messages here are a few hundred bytes.
MAX_MESSAGE_BYTES = 256 * 1024
# SQS's longest DelaySeconds: how often a deadline message comes back while its run is open.
DEADLINE_RECHECK_SECONDS = 900
MAX_ID_LENGTH = 128
MAX_PART = 10_000
# ECR's repository name rule (CreateRepository), 2-256 characters; account ids and region names.
REPOSITORY_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")


@dataclass(frozen=True)
class SweepTrigger:
    """The planner's event: the schedule. Its event id is the run id (a retried invocation keeps it)."""

    run_id: str


@dataclass(frozen=True)
class RepositoryMessage:
    run_id: str
    repository: str
    part: int = 0  # 0: the repository's sweep; n: its n-th continuation (a worker ran short of time)
    account: str = ""  # a member account (an organization hub's run); empty: the function's own
    region: str = ""

    @property
    def unit_id(self) -> str:
        where = f"{self.account}/{self.region}/" if self.account else ""
        return f"{where}repository/{self.repository}" + (f"/part/{self.part}" if self.part else "")

    def next_part(self) -> RepositoryMessage:
        return RepositoryMessage(self.run_id, self.repository, self.part + 1, self.account, self.region)


@dataclass(frozen=True)
class TargetMessage:
    """An organization hub's run: list this member account-region's repositories and queue one message each."""

    run_id: str
    account: str
    region: str

    @property
    def unit_id(self) -> str:
        return f"target/{self.account}/{self.region}"


@dataclass(frozen=True)
class DeadlineMessage:
    run_id: str


SweepMessage = RepositoryMessage | TargetMessage | DeadlineMessage


@dataclass(frozen=True)
class SendResult:
    """What a queue could not take: positions of the unsent bodies and why."""

    unsent: tuple[int, ...] = ()
    errors: tuple[str, ...] = ()


def body(message: SweepMessage) -> str:
    document: dict[str, Any] = {"version": MESSAGE_VERSION, "runId": message.run_id}
    if isinstance(message, DeadlineMessage):
        document["kind"] = DEADLINE_KIND
    elif isinstance(message, TargetMessage):
        document.update(kind=TARGET_KIND, account=message.account, region=message.region)
    else:
        document.update(kind=REPOSITORY_KIND, repository=message.repository, part=message.part)
        if message.account:
            document.update(account=message.account, region=message.region)
    return json.dumps(document, separators=(",", ":"))


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
    """A repository or deadline message from an SQS body (JSON text) or its parsed object."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as error:  # JSONDecodeError and undecodable bytes are ValueErrors
            raise InvalidEvent("message body is not JSON") from error
    if not isinstance(raw, Mapping):
        raise InvalidEvent("message: expected an object")
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in ACCEPTED_VERSIONS:
        raise InvalidEvent(f"kind: expected one of {', '.join(ACCEPTED_VERSIONS)}, got {str(kind)[:40]!r}")
    version = raw.get("version")
    if type(version) is not int or version not in ACCEPTED_VERSIONS[kind]:
        accepted = " or ".join(map(str, ACCEPTED_VERSIONS[kind]))
        raise InvalidEvent(f"version: expected {accepted} for a {kind} message")
    run_id = _identifier(raw.get("runId"), "runId")
    if kind == DEADLINE_KIND:
        return DeadlineMessage(run_id)
    account, region = _where(raw, required=kind == TARGET_KIND)
    if kind == TARGET_KIND:
        return TargetMessage(run_id, account, region)
    repository = raw.get("repository")
    if not isinstance(repository, str) or not 2 <= len(repository) <= 256 or not REPOSITORY_NAME.match(repository):
        raise InvalidEvent("repository: expected an ECR repository name")
    part = raw.get("part", 0) if version > 1 else 0
    if type(part) is not int or not 0 <= part <= MAX_PART:
        raise InvalidEvent(f"part: expected a whole number from 0 to {MAX_PART}")
    return RepositoryMessage(run_id, repository, part, account, region)


def _where(raw: Mapping[str, Any], required: bool) -> tuple[str, str]:
    """A member account and region (both or neither, unless required)."""
    account, region = raw.get("account"), raw.get("region")
    if account is None and region is None and not required:
        return "", ""
    if not isinstance(account, str) or not ACCOUNT_ID.match(account):
        raise InvalidEvent("account: expected a 12-digit account id")
    if not isinstance(region, str) or not REGION_NAME.match(region):
        raise InvalidEvent("region: expected a region name such as eu-west-1")
    return account, region


def _identifier(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH or not value.isprintable():
        raise InvalidEvent(f"{field_name}: expected a printable string of 1 to {MAX_ID_LENGTH} characters")
    return value
