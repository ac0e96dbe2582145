"""Enforcement's events, parsed at the edge: a handler gets a typed trigger, or an InvalidEvent naming why.

Parsing is total: every field read is type-checked, so a malformed event is one `event rejected` line, never an
exception that would make Lambda retry it into the failures queue. Provenance is checked too: the event must come
from this function's account and region (`account`, `region`, `recipientAccountId`, `awsRegion`, `registryId` and a
repository ARN's own account and region), and a repository name must be one ECR accepts, before any AWS call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ecr_governance.enforce.model import ReconcileProgress
from ecr_governance.errors import InvalidEvent
from ecr_governance.schedule import SCHEDULE_DETAIL_TYPE, SCHEDULE_SOURCE

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
CONTINUATION_DETAIL_TYPE = "Reconcile Continuation"
ECR_SOURCE = "aws.ecr"
CONTINUATION_SOURCE = "ecr-governance"
ECR_EVENT_SOURCE = "ecr.amazonaws.com"
# The ECR API calls that can change what the standard governs; template.yaml's rule matches exactly these.
REPOSITORY_EVENT_NAMES = frozenset(
    {
        "CreateRepository",
        "PutImageTagMutability",
        "PutImageScanningConfiguration",
        "PutLifecyclePolicy",
        "DeleteLifecyclePolicy",
        # Tag changes can lift an exemption; enforce at once rather than at the next reconcile.
        "TagResource",
        "UntagResource",
    }
)
REGISTRY_EVENT_NAMES = frozenset({"PutRegistryScanningConfiguration"})
ENFORCED_EVENT_NAMES = REPOSITORY_EVENT_NAMES | REGISTRY_EVENT_NAMES
# ECR's repository name rule (CreateRepository): 2-256 characters.
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
REPOSITORY_NAME_LENGTH = (2, 256)
REPOSITORY_ARN = re.compile(r"arn:aws[a-z-]*:ecr:([a-z0-9-]+):(\d{12}):repository/(.+)")
MAX_TEXT = 2048  # longer strings in the fields we read are not what AWS sends
# An organization reconcile's run id (the hub's fan-out names it in each member's share and its continuations).
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,199}")


class TriggerKind(StrEnum):
    REPOSITORY = "repository"  # one repository changed: assess just it
    REGISTRY = "registry"  # registry scanning changed: every repository's coverage may have changed
    SCHEDULE = "schedule"  # the daily full reconcile
    CONTINUATION = "continuation"  # the next piece of a full reconcile that ran out of time
    FAILED_CALL = "failed_call"  # the API call itself failed, so nothing changed


@dataclass(frozen=True)
class EnforcementTrigger:
    kind: TriggerKind
    event_id: str
    event_name: str = ""
    repository_name: str | None = None
    actor_arn: str = ""  # the IAM role (session issuer) or user that made the call
    error_code: str = ""
    progress: ReconcileProgress | None = None  # for a continuation
    run_id: str = ""  # an organization reconcile's run this share of it counts in (empty: none)

    def caused_by(self, role_arn: str) -> bool:
        """True when our own role made the call: remediating it again would be a loop."""
        return bool(role_arn) and self.actor_arn == role_arn


@dataclass(frozen=True)
class Provenance:
    """Where this function runs: events from anywhere else are rejected."""

    account: str
    region: str


# ---- typed reads ----------------------------------------------------------------------------------------------
def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEvent(f"{what} is missing or not an object")
    return value


def _text(container: Mapping[str, Any], key: str, what: str, required: bool = True) -> str:
    value = container.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise InvalidEvent(f"{what} is missing or not a string")
    if len(value) > MAX_TEXT:
        raise InvalidEvent(f"{what} is longer than {MAX_TEXT} characters")
    return value


def _optional_mapping(container: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidEvent(f"{what} is not an object")
    return value


def repository_name_problem(name: str) -> str | None:
    """Why ECR would refuse this repository name, or None."""
    low, high = REPOSITORY_NAME_LENGTH
    if not low <= len(name) <= high:
        return f"is {len(name)} characters long (ECR: {low}-{high})"
    if not REPOSITORY_NAME.fullmatch(name):
        return "is not a valid ECR repository name (lowercase letters, digits, . _ - separated, / namespaces)"
    return None


def _repository_name(name: str, what: str) -> str:
    problem = repository_name_problem(name)
    if problem:
        raise InvalidEvent(f"{what} {name[:80]!r} {problem}")
    return name


def _same(what: str, found: str, expected: str) -> None:
    if found != expected:
        raise InvalidEvent(f"{what} {found!r} is not this function's {expected!r}")


def _actor_arn(user_identity: Mapping[str, Any]) -> str:
    context = _optional_mapping(user_identity, "sessionContext", "detail.userIdentity.sessionContext")
    issuer = _optional_mapping(context, "sessionIssuer", "detail.userIdentity.sessionContext.sessionIssuer")
    issuer_arn = _text(issuer, "arn", "detail.userIdentity.sessionContext.sessionIssuer.arn", required=False)
    return issuer_arn or _text(user_identity, "arn", "detail.userIdentity.arn", required=False)


# ---- the triggers ---------------------------------------------------------------------------------------------
def parse_enforcement_trigger(event: Any, provenance: Provenance) -> EnforcementTrigger:
    event = _mapping(event, "event")
    detail_type = _text(event, "detail-type", "detail-type")
    source = _text(event, "source", "source")
    event_id = _text(event, "id", "id", required=False)
    _same("account", _text(event, "account", "account"), provenance.account)
    _same("region", _text(event, "region", "region"), provenance.region)
    if detail_type == SCHEDULE_DETAIL_TYPE:
        _same("source", source, SCHEDULE_SOURCE)
        return EnforcementTrigger(TriggerKind.SCHEDULE, event_id, run_id=_run_id(event.get("detail")))
    if detail_type == CONTINUATION_DETAIL_TYPE:
        _same("source", source, CONTINUATION_SOURCE)
        detail = event.get("detail")
        return EnforcementTrigger(
            TriggerKind.CONTINUATION, event_id, progress=_progress(detail), run_id=_run_id(detail)
        )
    if detail_type != CLOUDTRAIL_DETAIL_TYPE:
        raise InvalidEvent(
            f"unexpected detail-type {detail_type[:80]!r}: expected {CLOUDTRAIL_DETAIL_TYPE!r} or a schedule"
        )
    _same("source", source, ECR_SOURCE)
    return _parse_cloudtrail(event_id, _mapping(event.get("detail"), "detail"), provenance)


def _parse_cloudtrail(event_id: str, detail: Mapping[str, Any], provenance: Provenance) -> EnforcementTrigger:
    _same("detail.eventSource", _text(detail, "eventSource", "detail.eventSource"), ECR_EVENT_SOURCE)
    event_name = _text(detail, "eventName", "detail.eventName")
    if event_name not in ENFORCED_EVENT_NAMES:
        raise InvalidEvent(
            f"unexpected detail.eventName {event_name[:80]!r}: expected one of {sorted(ENFORCED_EVENT_NAMES)}"
        )
    recipient = _text(detail, "recipientAccountId", "detail.recipientAccountId", required=False)
    if recipient:
        _same("detail.recipientAccountId", recipient, provenance.account)
    aws_region = _text(detail, "awsRegion", "detail.awsRegion", required=False)
    if aws_region:
        _same("detail.awsRegion", aws_region, provenance.region)
    actor = _actor_arn(_optional_mapping(detail, "userIdentity", "detail.userIdentity"))
    error_code = _text(detail, "errorCode", "detail.errorCode", required=False)
    if error_code:
        return EnforcementTrigger(TriggerKind.FAILED_CALL, event_id, event_name, None, actor, error_code)
    parameters = _optional_mapping(detail, "requestParameters", "detail.requestParameters")
    registry_id = _text(parameters, "registryId", "detail.requestParameters.registryId", required=False)
    if registry_id:
        _same("detail.requestParameters.registryId", registry_id, provenance.account)
    if event_name in REGISTRY_EVENT_NAMES:
        return EnforcementTrigger(TriggerKind.REGISTRY, event_id, event_name, None, actor)
    name = _text(parameters, "repositoryName", "detail.requestParameters.repositoryName", required=False)
    if not name:
        arn = _text(parameters, "resourceArn", "detail.requestParameters.resourceArn", required=False)
        if not arn:
            raise InvalidEvent(
                f"{event_name} event has no detail.requestParameters.repositoryName (or repository resourceArn)"
            )
        name = _repository_from_arn(arn, provenance)
    repository_name = _repository_name(name, "repository")
    return EnforcementTrigger(TriggerKind.REPOSITORY, event_id, event_name, repository_name, actor)


def _repository_from_arn(arn: str, provenance: Provenance) -> str:
    """`arn:aws:ecr:REGION:ACCOUNT:repository/NAME` -> NAME, when the ARN is this account's and region's."""
    match = REPOSITORY_ARN.fullmatch(arn)
    if not match:
        raise InvalidEvent(f"detail.requestParameters.resourceArn {arn[:120]!r} is not an ECR repository ARN")
    region, account, name = match.groups()
    _same("resourceArn account", account, provenance.account)
    _same("resourceArn region", region, provenance.region)
    return name


def _progress(detail: Any) -> ReconcileProgress:
    detail = _mapping(detail, "detail")
    after = _text(detail, "after", "detail.after")
    piece = detail.get("piece")
    if not isinstance(piece, int) or isinstance(piece, bool) or piece < 1:
        raise InvalidEvent("detail.piece must be a whole number from 1")
    lists = {}
    for key in ("scan_exempt", "unread"):
        names = detail.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) and not repository_name_problem(n) for n in names):
            raise InvalidEvent(f"detail.{key} must be a list of repository names")
        lists[key] = tuple(names)
    return ReconcileProgress(
        after=_repository_name(after, "detail.after"),
        scan_exempt=lists["scan_exempt"],
        unread=lists["unread"],
        piece=piece,
    )


def _run_id(detail: Any) -> str:
    """`detail.run`: the organization reconcile run a member's share counts in (absent: none)."""
    if not isinstance(detail, Mapping) or detail.get("run") is None:
        return ""
    run_id = detail["run"]
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise InvalidEvent("detail.run must be a run id (letters, digits, : . _ -; at most 200 characters)")
    return run_id


def continuation_event(
    progress: ReconcileProgress, provenance: Provenance, event_id: str, run_id: str = ""
) -> dict[str, Any]:
    """The event a reconcile sends itself to continue where it stopped (parsed back by parse_enforcement_trigger);
    `run_id`: the organization reconcile run it counts in."""
    detail: dict[str, Any] = {
        "after": progress.after,
        "piece": progress.piece,
        "scan_exempt": list(progress.scan_exempt),
        "unread": list(progress.unread),
    }
    if run_id:
        detail["run"] = run_id
    return {
        "version": "0",
        "id": event_id,
        "detail-type": CONTINUATION_DETAIL_TYPE,
        "source": CONTINUATION_SOURCE,
        "account": provenance.account,
        "region": provenance.region,
        "detail": detail,
    }
