"""`Inspector2 Finding` events (continuous scanning), parsed at the edge into one typed model; anything else is an
InvalidEvent naming why.

Amazon Inspector sends one per finding when it is created, updated or closed (AWS: "EventBridge events sent for
enhanced scanning in Amazon ECR"): detail.findingArn, detail.status (ACTIVE | SUPPRESSED | CLOSED),
detail.updatedAt (the documented sample writes `Dec 3, 2021, 6:02:30 PM`; ISO-8601 is read too), the finding's
severity, inspectorScore, packageVulnerabilityDetails, fixAvailable, exploitAvailable, and detail.resources[] whose
`AWS_ECR_CONTAINER_IMAGE` entries name the image: id (the repository ARN, then the digest) and
details.awsEcrContainerImage (repositoryName, imageHash, imageTags, registry). Inspector also scans EC2 instances and
Lambda functions: the rule passes only events with an ECR image, and an event naming none is refused here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ecr_governance.errors import InvalidEvent
from ecr_governance.findings.events import (
    DIGEST,
    REPOSITORY_NAME,
    envelope_checked,
    event_id_of,
    event_time,
    mapping_field,
    string_field,
    tags_field,
)
from ecr_governance.findings.normalize import Finding, ScannedImage, finding_from_enhanced
from ecr_governance.findings.provenance import Registry
from ecr_governance.images import iso8601
from ecr_governance.location import Location

SOURCE, DETAIL_TYPE = "aws.inspector2", "Inspector2 Finding"
ECR_IMAGE = "AWS_ECR_CONTAINER_IMAGE"
FINDING_ARN = re.compile(r"^arn:aws[a-z-]*:inspector2:[a-z0-9-]+:\d{12}:finding/[A-Za-z0-9]{1,64}$")
IMAGE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecr:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):repository/"
    r"(?P<name>.+)/(?P<digest>[a-z0-9]+:[a-zA-Z0-9=_-]{1,256})$"
)
# The format of AWS's documented sample: `Dec 3, 2021, 6:02:30 PM` (UTC).
DOCUMENTED_TIME_FORMAT = "%b %d, %Y, %I:%M:%S %p"
MAX_RESOURCES = 10  # Inspector's limit per finding


class FindingStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUPPRESSED = "SUPPRESSED"  # by one of Inspector's own suppression rules: never alerted
    CLOSED = "CLOSED"  # fixed, or the image is gone: reported as resolved


@dataclass(frozen=True)
class FindingEvent:
    event_id: str
    finding_arn: str
    updated_at: str  # ISO-8601, UTC: with the ARN, what makes a delivery a duplicate
    status: FindingStatus
    finding: Finding
    images: tuple[ScannedImage, ...]


def _updated_at(detail: Mapping[str, Any]) -> str:
    text = string_field(detail, "updatedAt", "detail.updatedAt")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = datetime.strptime(text, DOCUMENTED_TIME_FORMAT)
        except ValueError as error:
            raise InvalidEvent(f"detail.updatedAt {text[:64]!r} is not a time") from error
    try:
        return iso8601(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    except (OverflowError, ValueError) as error:
        raise InvalidEvent(f"detail.updatedAt {text[:64]!r} is out of range") from error


def _image(resource: Mapping[str, Any], registry: Registry) -> ScannedImage:
    own = registry.location
    arn = IMAGE_ARN.match(string_field(resource, "id", "detail.resources[].id"))
    if arn is None:
        raise InvalidEvent("detail.resources[].id is not an ECR image ARN (repository ARN / digest)")
    own.check(arn.group("account"), arn.group("region"), arn.group("partition"), what="the image")
    details = mapping_field(
        mapping_field(resource.get("details"), "detail.resources[].details").get("awsEcrContainerImage"),
        "detail.resources[].details.awsEcrContainerImage",
    )
    name = string_field(details, "repositoryName", "awsEcrContainerImage.repositoryName", REPOSITORY_NAME)
    digest = string_field(details, "imageHash", "awsEcrContainerImage.imageHash", DIGEST)
    registry_id = details.get("registry", own.account)
    if (name, digest, registry_id) != (arn.group("name"), arn.group("digest"), own.account):
        raise InvalidEvent("awsEcrContainerImage names another image than the resource's id")
    return ScannedImage(
        repository_name=name,
        digest=digest,
        tags=tags_field(details.get("imageTags"), "awsEcrContainerImage.imageTags"),
        registry_id=own.account,
        region=own.region,
        partition=own.partition,
        account_name=registry.account_name,
    )


def _images(detail: Mapping[str, Any], registry: Registry) -> tuple[ScannedImage, ...]:
    resources = detail.get("resources")
    if not isinstance(resources, list) or not 0 < len(resources) <= MAX_RESOURCES:
        raise InvalidEvent(f"detail.resources is not a list of 1 to {MAX_RESOURCES} resources")
    images = tuple(
        _image(resource, registry)
        for resource in resources
        if isinstance(resource, Mapping) and resource.get("type") == ECR_IMAGE
    )
    if not images:
        raise InvalidEvent(f"detail.resources names no {ECR_IMAGE}")
    return images


def parse_finding_event(event: Any, where: Location | Registry) -> FindingEvent:
    """The typed finding event, or InvalidEvent: malformed, not an ECR image's finding, or from another partition,
    account or region than the registry's - the function's own `Location`, or the member `Registry` an organization
    hub admitted (every image of the event must be in it)."""
    registry = where if isinstance(where, Registry) else Registry(where)
    event = mapping_field(event, "event")
    if (event.get("source"), event.get("detail-type")) != (SOURCE, DETAIL_TYPE):
        raise InvalidEvent(f"unexpected source / detail-type: expected {SOURCE} / {DETAIL_TYPE}")
    envelope_checked(event, registry, SOURCE)
    event_time(event)  # a well-formed envelope, as EventBridge sends it
    detail = mapping_field(event.get("detail"), "detail")
    account = registry.location.account
    if detail.get("awsAccountId", account) != account:
        raise InvalidEvent("detail.awsAccountId is not the account of the finding's image")
    status = string_field(detail, "status", "detail.status")
    if status not in FindingStatus.__members__:
        raise InvalidEvent(f"detail.status {status[:32]!r} is not ACTIVE, SUPPRESSED or CLOSED")
    return FindingEvent(
        event_id=event_id_of(event),
        finding_arn=string_field(detail, "findingArn", "detail.findingArn", FINDING_ARN),
        updated_at=_updated_at(detail),
        status=FindingStatus(status),
        finding=finding_from_enhanced(detail),
        images=_images(detail, registry),
    )
