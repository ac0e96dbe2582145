"""EventBridge event models, parsed at the edge: a handler gets a typed trigger or an InvalidEvent naming why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ecr_governance.errors import InvalidEvent

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
SCHEDULE_DETAIL_TYPE = "Scheduled Event"
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


class TriggerKind(StrEnum):
    REPOSITORY = "repository"  # one repository changed: assess just it
    REGISTRY = "registry"  # registry scanning changed: every repository's coverage may have changed
    SCHEDULE = "schedule"  # the daily full reconcile
    FAILED_CALL = "failed_call"  # the API call itself failed, so nothing changed


@dataclass(frozen=True)
class EnforcementTrigger:
    kind: TriggerKind
    event_id: str
    event_name: str = ""
    repository_name: str | None = None
    actor_arn: str = ""  # the IAM role (session issuer) or user that made the call
    error_code: str = ""

    def caused_by(self, role_arn: str) -> bool:
        """True when our own role made the call: remediating it again would be a loop."""
        return bool(role_arn) and self.actor_arn == role_arn


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEvent(f"{what} is missing or not an object")
    return value


def _actor_arn(user_identity: Mapping[str, Any]) -> str:
    issuer = user_identity.get("sessionContext", {}).get("sessionIssuer", {})
    return str(issuer.get("arn") or user_identity.get("arn") or "")


def _repository_from_arn(arn: Any) -> str | None:
    """`arn:aws:ecr:REGION:ACCOUNT:repository/NAME` -> NAME (TagResource/UntagResource name the resource by ARN)."""
    if isinstance(arn, str) and ":repository/" in arn:
        return arn.split(":repository/", 1)[1] or None
    return None


def parse_enforcement_trigger(event: Any) -> EnforcementTrigger:
    event = _mapping(event, "event")
    detail_type = event.get("detail-type")
    event_id = str(event.get("id", ""))
    if detail_type == SCHEDULE_DETAIL_TYPE and event.get("source") == "aws.events":
        return EnforcementTrigger(TriggerKind.SCHEDULE, event_id)
    if detail_type != CLOUDTRAIL_DETAIL_TYPE:
        raise InvalidEvent(f"unexpected detail-type {detail_type!r}: expected {CLOUDTRAIL_DETAIL_TYPE!r} or a schedule")
    detail = _mapping(event.get("detail"), "detail")
    source = detail.get("eventSource")
    if source != ECR_EVENT_SOURCE:
        raise InvalidEvent(f"unexpected detail.eventSource {source!r}: expected {ECR_EVENT_SOURCE!r}")
    event_name = detail.get("eventName")
    if event_name not in ENFORCED_EVENT_NAMES:
        raise InvalidEvent(
            f"unexpected detail.eventName {event_name!r}: expected one of {sorted(ENFORCED_EVENT_NAMES)}"
        )
    actor = _actor_arn(detail.get("userIdentity") or {})
    error_code = str(detail.get("errorCode") or "")
    if error_code:
        return EnforcementTrigger(TriggerKind.FAILED_CALL, event_id, event_name, None, actor, error_code)
    if event_name in REGISTRY_EVENT_NAMES:
        return EnforcementTrigger(TriggerKind.REGISTRY, event_id, event_name, None, actor)
    parameters = _mapping(detail.get("requestParameters"), "detail.requestParameters")
    repository_name = parameters.get("repositoryName") or _repository_from_arn(parameters.get("resourceArn"))
    if not isinstance(repository_name, str) or not repository_name:
        raise InvalidEvent(
            f"{event_name} event has no detail.requestParameters.repositoryName (or repository resourceArn)"
        )
    return EnforcementTrigger(TriggerKind.REPOSITORY, event_id, event_name, repository_name, actor)
