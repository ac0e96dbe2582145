"""Scan-completion events, parsed at the edge into one typed model; anything else is an InvalidEvent naming why.

Two shapes (AWS: "Amazon ECR events and EventBridge", "EventBridge events sent for enhanced scanning"):
- `aws.ecr` / `ECR Image Scan` (basic scanning): detail.scan-status (COMPLETE, FAILED, ...), detail.repository-name
  (a name), detail.image-digest, detail.image-tags (may be empty), detail.finding-severity-counts (only the
  severities present; absent on a failed scan); resources = [the repository ARN].
- `aws.inspector2` / `Inspector2 Scan` (enhanced scanning): the same detail keys, but scan-status is
  INITIAL_SCAN_COMPLETE, repository-name is the repository ARN and the counts add TOTAL.
The registry is the event's account. Every field is type-checked here, so nothing below ever meets a malformed event.
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
from ecr_governance.images import iso8601


class ScanKind(StrEnum):
    BASIC = "basic"  # Amazon ECR basic scanning
    ENHANCED = "enhanced"  # Amazon Inspector


# (source, detail-type) -> kind; template.yaml's rules match exactly these.
EVENT_KINDS: dict[tuple[str, str], ScanKind] = {
    ("aws.ecr", "ECR Image Scan"): ScanKind.BASIC,
    ("aws.inspector2", "Inspector2 Scan"): ScanKind.ENHANCED,
}
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
    account: str
    region: str
    partition: str
    repository_name: str
    image_digest: str
    image_tags: tuple[str, ...]
    scan_status: str
    completed_at: str  # the event's time (ISO-8601, UTC): when the scan completed
    # Counts the event states, only the severities present; None when the event carries none.
    severity_counts: Mapping[Severity, int] | None = field(default=None)
    total_findings: int | None = None  # Inspector's TOTAL

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

    @property
    def image(self) -> ScannedImage:
        return ScannedImage(
            repository_name=self.repository_name,
            digest=self.image_digest,
            tags=self.image_tags,
            registry_id=self.account,
            region=self.region,
            partition=self.partition,
        )


# ---- field readers: each raises InvalidEvent naming the field -------------------------------------------------
def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEvent(f"{what} is missing or not an object")
    return value


def _string(container: Mapping[str, Any], key: str, what: str, pattern: re.Pattern[str] | None = None) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"{what} is missing or not a string")
    if pattern is not None and not pattern.match(value):
        raise InvalidEvent(f"{what} {value[:300]!r} is not valid")
    return value


def _time(event: Mapping[str, Any]) -> str:
    text = _string(event, "time", "time")
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


def _tags(detail: Mapping[str, Any]) -> tuple[str, ...]:
    tags = detail.get("image-tags")
    if tags is None:
        return ()
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise InvalidEvent("detail.image-tags is not a list of tags")
    for tag in tags:
        if not isinstance(tag, str) or not TAG.match(tag):
            raise InvalidEvent(f"detail.image-tags holds an invalid tag {str(tag)[:140]!r}")
    return tuple(dict.fromkeys(tags))


def _counts(detail: Mapping[str, Any]) -> tuple[dict[Severity, int] | None, int | None]:
    raw = detail.get("finding-severity-counts")
    if raw is None:
        return None, None
    if not isinstance(raw, Mapping):
        raise InvalidEvent("detail.finding-severity-counts is not an object")
    counts: dict[Severity, int] = {}
    total: int | None = None
    for name, count in raw.items():
        if not isinstance(name, str) or not SEVERITY_COUNT_KEY.match(name):
            raise InvalidEvent(f"detail.finding-severity-counts has an invalid key {str(name)[:40]!r}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidEvent(f"detail.finding-severity-counts.{name} is not a whole number >= 0")
        if name == TOTAL_COUNT:
            total = count
        elif name in Severity.__members__:
            counts[Severity(name)] = count
        # A severity AWS adds later is type-checked above and otherwise ignored: the findings carry it.
    return counts, total


def _repository(detail: Mapping[str, Any], event: Mapping[str, Any]) -> tuple[str, re.Match[str] | None]:
    """(repository name, the repository ARN when the event names one, matched). Inspector names the repository by
    ARN; ECR by name, with the ARN in `resources`."""
    value = _string(detail, "repository-name", "detail.repository-name")
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


def parse_scan_event(event: Any, own_account: str, own_region: str) -> ScanEvent:
    """The typed scan event, or InvalidEvent: malformed, not a scan event, or from another account or region than
    the function's (an image there is not ours to read)."""
    event = _mapping(event, "event")
    source, detail_type = event.get("source"), event.get("detail-type")
    kind = EVENT_KINDS.get((source, detail_type)) if isinstance(source, str) and isinstance(detail_type, str) else None
    if kind is None:
        expected = " or ".join(f"{s} / {t}" for s, t in EVENT_KINDS)
        raise InvalidEvent(f"unexpected source / detail-type {source!r} / {detail_type!r}: expected {expected}")
    account = _string(event, "account", "account", ACCOUNT_ID)
    region = _string(event, "region", "region", REGION)
    if account != own_account or region != own_region:
        raise InvalidEvent(
            f"event from account {account} in {region}: this function reads only {own_account} in {own_region}"
        )
    event_id = event.get("id", "")
    if not isinstance(event_id, str):
        raise InvalidEvent("id is not a string")
    completed_at = _time(event)
    detail = _mapping(event.get("detail"), "detail")
    repository_name, arn = _repository(detail, event)
    partition = "aws"
    if arn is not None:
        if (arn.group("account"), arn.group("region")) != (account, region):
            raise InvalidEvent(
                f"repository {arn.group(0)[:300]!r} is not in the event's registry ({account}, {region})"
            )
        partition = arn.group("partition")
    counts, total = _counts(detail)
    return ScanEvent(
        kind=kind,
        event_id=event_id,
        account=account,
        region=region,
        partition=partition,
        repository_name=repository_name,
        image_digest=_string(detail, "image-digest", "detail.image-digest", DIGEST),
        image_tags=_tags(detail),
        scan_status=_string(detail, "scan-status", "detail.scan-status", SCAN_STATUS),
        completed_at=completed_at,
        severity_counts=counts,
        total_findings=total,
    )
