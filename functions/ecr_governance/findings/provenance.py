"""Whose registry a findings event is about, and whether this function may act on it (pure decisions).

A single-account stack acts on its own account and region only: the parsers refuse anything else. An organization
hub (Scope=organization) also acts on a member's registry, when the organization's membership admits the account and
region - an ACTIVE member of the governed OUs, a governed region - and refuses the event otherwise, before any call
in the member. The registry an event names:
- `aws.ecr` events (`ECR Image Scan`, `ECR Image Action`, forwarded by the member's rule to the hub's bus): the
  event's `account` and `region`, which EventBridge keeps from the member;
- `aws.inspector2` events (`Inspector2 Scan`, `Inspector2 Finding`): the account and region of the repository or image
  ARN. Amazon Inspector's delegated administrator (the hub) receives its members' events without forwarding; AWS does
  not document which account the envelope of that copy names - the member's or the administrator's - so an
  envelope naming either is accepted, and the registry is always the ARN's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ecr_governance.errors import InvalidEvent
from ecr_governance.location import Location
from ecr_governance.organization.membership import Membership

INSPECTOR_SOURCE = "aws.inspector2"
ECR_IMAGE_RESOURCE = "AWS_ECR_CONTAINER_IMAGE"


@dataclass(frozen=True)
class Registry:
    """Where an event's image is: the function's own account and region, or a member's that the hub governs."""

    location: Location  # the function's partition, the registry's account and region
    account_name: str = ""  # the member's name in AWS Organizations ("" for the function's own account)
    # The hub's account when the registry is a member's: the envelope of Inspector's copy of the member's event,
    # sent to the delegated administrator, may name it.
    administrator: str = ""

    @property
    def is_member(self) -> bool:
        return bool(self.administrator)

    def envelope_account(self, source: str, account: str) -> str:
        """The account an event's envelope must name for this registry: an Inspector event naming the hub as the
        delegated administrator that received it counts as the member's own."""
        if self.is_member and source == INSPECTOR_SOURCE and account == self.administrator:
            return self.location.account
        return account


def _arn_account_and_region(arn: Any) -> tuple[str, str]:
    where = Location.of_arn(arn) if isinstance(arn, str) else Location("", "", "")
    return where.account, where.region


def _envelope_account_and_region(event: Mapping[str, Any]) -> tuple[str, str]:
    account, region = event.get("account"), event.get("region")
    return (account, region) if isinstance(account, str) and isinstance(region, str) else ("", "")


def scan_event_registry(event: Any) -> tuple[str, str]:
    """The account and region a scan (or image action) event is about; ("", "") when it names none."""
    if not isinstance(event, Mapping):
        return "", ""
    detail = event.get("detail")
    if event.get("source") == INSPECTOR_SOURCE and isinstance(detail, Mapping):
        return _arn_account_and_region(detail.get("repository-name"))
    return _envelope_account_and_region(event)


def finding_event_registry(event: Any) -> tuple[str, str]:
    """The account and region of the first ECR image an Inspector finding event names; ("", "") when none."""
    detail = event.get("detail") if isinstance(event, Mapping) else None
    resources = detail.get("resources") if isinstance(detail, Mapping) else None
    for resource in resources if isinstance(resources, list) else []:
        if isinstance(resource, Mapping) and resource.get("type") == ECR_IMAGE_RESOURCE:
            return _arn_account_and_region(resource.get("id"))
    return "", ""


def admitted_registry(named: tuple[str, str], own: Location, membership: Callable[[], Membership] | None) -> Registry:
    """The registry to act on. Without a membership (Scope=account), or for the function's own account and region,
    it is the function's own: the parser then refuses anything else, as it always did. An organization hub reads
    the membership (cached) only for another account's event, and refuses what it does not admit."""
    account, region = named
    if membership is None or not account or (account, region) == (own.account, own.region):
        return Registry(own)
    members = membership()
    refusal = members.refusal(account, region)
    if refusal is not None:
        raise InvalidEvent(refusal)
    return Registry(Location(own.partition, account, region), members.accounts[account].name, own.account)
