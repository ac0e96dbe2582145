"""The scan-findings function's events, parsed at the edge into typed models; anything else is an InvalidEvent
naming why.

Three shapes (AWS: "Amazon ECR events and EventBridge", "EventBridge events sent for enhanced scanning"):
- `aws.ecr` / `ECR Image Scan` (basic scanning): detail.scan-status (COMPLETE, FAILED, ...), detail.repository-name
  (a name), detail.image-digest, detail.image-tags (may be empty), detail.finding-severity-counts (only the
  severities present; absent on a failed scan); resources = [the repository ARN].
- `aws.inspector2` / `Inspector2 Scan` (enhanced scanning): the same detail keys, but scan-status is
  INITIAL_SCAN_COMPLETE, repository-name is the repository ARN and the counts add TOTAL.
- `aws.ecr` / `ECR Image Action` with action-type DELETE and result SUCCESS (routed only when findings are imported
  into Security Hub): the image's imported findings are archived once it is gone.
The registry is the function's own account and region, or - an organization hub - a member's the membership admitted
(provenance.py), in the function's partition. Every field is type-checked here, so nothing below ever meets a
malformed event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ecr_governance.errors import InvalidEvent
from ecr_governance.findings.normalize import TOTAL_COUNT, ScannedImage, Severity
from ecr_governance.findings.provenance import Registry
from ecr_governance.images import iso8601
from ecr_governance.location import Location
from ecr_governance.text import well_formed


class ScanKind(StrEnum):
    BASIC = "basic"  # Amazon ECR basic scanning
    ENHANCED = "enhanced"  # Amazon Inspector


# (source, detail-type) -> kind; template.yaml's rules match exactly these.
EVENT_KINDS: dict[tuple[str, str], ScanKind] = {
    ("aws.ecr", "ECR Image Scan"): ScanKind.BASIC,
    ("aws.inspector2", "Inspector2 Scan"): ScanKind.ENHANCED,
}
IMAGE_ACTION = ("aws.ecr", "ECR Image Action")
COMPLETE_STATUS = {ScanKind.BASIC: "COMPLETE", ScanKind.ENHANCED: "INITIAL_SCAN_COMPLETE"}

ACCOUNT_ID = re.compile(r"^\d{12}$")
REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")
# ECR's repository name rule (2-256 characters), and an ECR repository ARN.
REPOSITORY_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
REPOSITORY_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecr:(?P<region>[^:]+):(?P<account>\d{12}):repository/(?P<name>.+)$"
)
# An OCI digest: algorithm ":" encoded (the samples in AWS's documentation are not all 64 hex digits).
DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{1,256}$")
TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
SCAN_STATUS = re.compile(r"^[A-Z_]{1,64}$")
SEVERITY_COUNT_KEY = re.compile(r"^[A-Z_]{1,32}$")
MAX_TAGS = 1000


@dataclass(frozen=True)
class ScanEvent:
    kind: ScanKind
    event_id: str
    image: ScannedImage  # in the event's registry: the function's own, or a member's the hub admitted
    scan_status: str
    completed_at: str  # the event's time (ISO-8601, UTC): when the scan completed
    # Counts the event states, only the severities present; None when the event carries none.
    severity_counts: Mapping[Severity, int] | None = field(default=None)
    total_findings: int | None = None  # Inspector's TOTAL
    unknown_counts: bool = False  # a count under a name that is no severity we know
    # What makes a second delivery a duplicate (Powertools Idempotency's key): the scan of this image in this account
    # and region, not the event.
    key: str = field(init=False)

    def __post_init__(self) -> None:
        scan = f"{self.kind}/{self.image.key}/{self.completed_at}"
        object.__setattr__(self, "key", scan)

    @property
    def completed(self) -> bool:
        return self.scan_status == COMPLETE_STATUS[self.kind]

    @property
    def finding_count(self) -> int | None:
        """How many findings the event says the scan has; None when it does not say."""
        if self.total_findings is not None:
            return self.total_findings
        if self.severity_counts is None:
            return None
        return sum(self.severity_counts.values())

    def worth_reading(self, threshold: Severity) -> bool:
        """Whether the findings must be read: the counts show something at or above the threshold, or something
        they cannot settle - no counts, a name we do not know, a TOTAL the listed counts do not add up to, or
        UNTRIAGED findings (ranked by their score, which only the findings carry)."""
        counts = self.severity_counts
        if counts is None or self.unknown_counts or counts.get(Severity.UNTRIAGED):
            return True
        if self.total_findings is not None and self.total_findings != sum(counts.values()):
            return True
        return any(count and severity.at_least(threshold) for severity, count in counts.items())


@dataclass(frozen=True)
class ImageDeletedEvent:
    """An image ECR reports deleted (it may still exist under another tag: the service checks)."""

    event_id: str
    image: ScannedImage
    deleted_at: str
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"deleted/{self.image.key}/{self.deleted_at}")


# ---- field readers: each raises InvalidEvent naming the field -------------------------------------------------
def mapping_field(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEvent(f"{what} is missing or not an object")
    return value


def string_field(container: Mapping[str, Any], key: str, what: str, pattern: re.Pattern[str] | None = None) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"{what} is missing or not a string")
    if pattern is not None and not pattern.match(value):
        raise InvalidEvent(f"{what} {value[:300]!r} is not valid")
    return value


def event_time(event: Mapping[str, Any]) -> str:
    text = string_field(event, "time", "time")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidEvent(f"time {text[:64]!r} is not an ISO-8601 time") from error
    if moment.tzinfo is None:
        raise InvalidEvent(f"time {text[:64]!r} has no time zone")
    try:
        return iso8601(moment)
    except OverflowError as error:
        raise InvalidEvent(f"time {text[:64]!r} is out of range") from error


def event_id_of(event: Mapping[str, Any]) -> str:
    """The event's id as every log line carries it: bounded and well-formed (EventBridge's are UUIDs)."""
    event_id = event.get("id", "")
    if not isinstance(event_id, str):
        raise InvalidEvent("id is not a string")
    return well_formed(event_id[:128])


def tags_field(tags: Any, what: str) -> tuple[str, ...]:
    if tags is None:
        return ()
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise InvalidEvent(f"{what} is not a list of tags")
    for tag in tags:
        if not isinstance(tag, str) or not TAG.match(tag):
            raise InvalidEvent(f"{what} holds an invalid tag {str(tag)[:140]!r}")
    return tuple(dict.fromkeys(tags))


@dataclass(frozen=True)
class _Counts:
    by_severity: dict[Severity, int] | None = None
    total: int | None = None
    unknown: bool = False


def _counts(detail: Mapping[str, Any]) -> _Counts:
    raw = detail.get("finding-severity-counts")
    if raw is None:
        return _Counts()
    if not isinstance(raw, Mapping):
        raise InvalidEvent("detail.finding-severity-counts is not an object")
    counts: dict[Severity, int] = {}
    total: int | None = None
    unknown = False
    for name, count in raw.items():
        if not isinstance(name, str) or not SEVERITY_COUNT_KEY.match(name):
            raise InvalidEvent(f"detail.finding-severity-counts has an invalid key {str(name)[:40]!r}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidEvent(f"detail.finding-severity-counts.{name} is not a whole number >= 0")
        if name == TOTAL_COUNT:
            total = count
        elif name in Severity.__members__:
            counts[Severity(name)] = count
        else:  # a severity AWS adds later: not understood, so the findings are read (they carry it)
            unknown = unknown or count > 0
    return _Counts(counts, total, unknown)


def _repository(detail: Mapping[str, Any], event: Mapping[str, Any]) -> tuple[str, re.Match[str] | None]:
    """(repository name, the repository ARN when the event names one, matched). Inspector names the repository by
    ARN; ECR by name, with the ARN in `resources`."""
    value = string_field(detail, "repository-name", "detail.repository-name")
    arn_match = REPOSITORY_ARN.match(value)
    name = arn_match.group("name") if arn_match else value
    if not (2 <= len(name) <= 256 and REPOSITORY_NAME.match(name)):
        raise InvalidEvent(f"detail.repository-name {value[:300]!r} is not a repository name or ARN")
    arn = arn_match
    resources = event.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(resource, str) for resource in resources):
        raise InvalidEvent("resources is not a list of strings")
    for resource in resources:
        resource_match = REPOSITORY_ARN.match(resource)
        if resource_match is None:
            continue
        if resource_match.group("name") != name:
            raise InvalidEvent(f"resources names repository {resource_match.group('name')[:300]!r}, not {name!r}")
        arn = arn or resource_match
    return name, arn


def envelope_checked(event: Mapping[str, Any], registry: Registry, source: str) -> str:
    """The envelope's account, once it and the region are the registry's (InvalidEvent otherwise)."""
    account = string_field(event, "account", "account", ACCOUNT_ID)
    region = string_field(event, "region", "region", REGION)
    registry.location.check(registry.envelope_account(source, account), region)
    return account


def _envelope(event: Any, registry: Registry) -> tuple[Mapping[str, Any], tuple[str, str]]:
    """The event as a mapping and its (source, detail-type), once its account and region are the registry's."""
    event = mapping_field(event, "event")
    source, detail_type = event.get("source"), event.get("detail-type")
    kind = (source, detail_type) if isinstance(source, str) and isinstance(detail_type, str) else ("", "")
    if kind not in EVENT_KINDS and kind != IMAGE_ACTION:
        expected = " or ".join(f"{s} / {t}" for s, t in (*EVENT_KINDS, IMAGE_ACTION))
        raise InvalidEvent(f"unexpected source / detail-type {source!r} / {detail_type!r}: expected {expected}")
    envelope_checked(event, registry, kind[0])
    event_id_of(event)
    return event, kind


def _image(
    detail: Mapping[str, Any], event: Mapping[str, Any], registry: Registry, tags: tuple[str, ...]
) -> ScannedImage:
    repository_name, arn = _repository(detail, event)
    where = registry.location
    if arn is not None:
        where.check(arn.group("account"), arn.group("region"), arn.group("partition"), what=arn.group(0)[:300])
    return ScannedImage(
        repository_name=repository_name,
        digest=string_field(detail, "image-digest", "detail.image-digest", DIGEST),
        tags=tags,
        registry_id=where.account,
        region=where.region,
        partition=where.partition,
        account_name=registry.account_name,
    )


def parse_scan_event(event: Any, where: Location | Registry) -> ScanEvent | ImageDeletedEvent:
    """The typed event, or InvalidEvent: malformed, not one of the three kinds, or from another account, region or
    partition than the registry's - the function's own `Location`, or the member `Registry` an organization hub
    admitted (an image anywhere else is not ours to read)."""
    registry = where if isinstance(where, Registry) else Registry(where)
    event, kind = _envelope(event, registry)
    detail = mapping_field(event.get("detail"), "detail")
    if kind == IMAGE_ACTION:
        return _image_deleted(event, detail, registry)
    image = _image(detail, event, registry, tags_field(detail.get("image-tags"), "detail.image-tags"))
    counts = _counts(detail)
    return ScanEvent(
        kind=EVENT_KINDS[kind],
        event_id=event_id_of(event),
        image=image,
        scan_status=string_field(detail, "scan-status", "detail.scan-status", SCAN_STATUS),
        completed_at=event_time(event),
        severity_counts=counts.by_severity,
        total_findings=counts.total,
        unknown_counts=counts.unknown,
    )


def _image_deleted(event: Mapping[str, Any], detail: Mapping[str, Any], registry: Registry) -> ImageDeletedEvent:
    action, result = detail.get("action-type"), detail.get("result")
    if (action, result) != ("DELETE", "SUCCESS"):
        raise InvalidEvent(
            f"ECR Image Action {str(action)[:20]!r} / {str(result)[:20]!r}: only a DELETE that succeeded"
        )
    tag = detail.get("image-tag")
    image = _image(detail, event, registry, tags_field([tag] if tag else None, "detail.image-tag"))
    return ImageDeletedEvent(event_id=event_id_of(event), image=image, deleted_at=event_time(event))
