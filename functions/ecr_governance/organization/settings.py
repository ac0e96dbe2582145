"""The hub's typed settings: whether it governs its own account or the organization, and how it reaches members.

Scope=account (the default) is the single-account behaviour unchanged: every other setting here is then unused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ecr_governance.config import SettingDoc, enum_setting, int_setting, list_setting, text_setting
from ecr_governance.errors import SettingsError

# IAM role names: 1-64 of [\w+=,.@-]; AWS region names; Organizations OU ids (ou-xxxx-yyyyyyyy) and root ids (r-xxxx).
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_PARENT = "(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})"
PARENT_ID = re.compile(f"^{_PARENT}$")
MAX_ACCOUNT_CONCURRENCY = 10


class Scope(StrEnum):
    ACCOUNT = "account"
    ORGANIZATION = "organization"


GOVERNANCE_SCOPE = SettingDoc(
    "GOVERNANCE_SCOPE",
    "Scope",
    "account",
    "`account` governs this account and region; `organization` makes the stack the hub of the organization (or the "
    "OrganizationalUnits) and the GovernedRegions, through each member's role - deploy org/member.yaml to the members "
    "first (see [Organization](organization.md)).",
    allowed=tuple(Scope),
)
MEMBER_ROLE_NAME = SettingDoc(
    "MEMBER_ROLE_NAME",
    "MemberRoleName",
    "ecr-governance-member",
    "The governance role `org/member.yaml` creates in every member account (Scope=organization).",
    pattern="^[A-Za-z0-9+=,.@_-]{1,64}$",
    unset="",
    feeds="set only when Scope=organization",
)
GOVERNED_REGIONS = SettingDoc(
    "GOVERNED_REGIONS",
    "GovernedRegions",
    "",
    "Comma-separated regions the hub governs in every member (Scope=organization); empty = the hub's region.",
    pattern="^([a-z]{2}(-[a-z]+)+-[0-9](,[a-z]{2}(-[a-z]+)+-[0-9])*)?$",
)
GOVERNED_OUS = SettingDoc(
    "GOVERNED_OUS",
    "OrganizationalUnits",
    "",
    "Comma-separated OU (or root) ids whose accounts, nested OUs included, are governed; empty = every account.",
    pattern=f"^({_PARENT}(,{_PARENT})*)?$",
)
ACCOUNT_CONCURRENCY = SettingDoc(
    "ACCOUNT_CONCURRENCY",
    "AccountConcurrency",
    "1",
    "How many account-region messages of one account a fan-out runs at once (1-10): one large account cannot starve "
    "the others, and its ECR throttling never slows another account's.",
    minimum=1,
    maximum=MAX_ACCOUNT_CONCURRENCY,
)
SETTINGS_DOCS: tuple[SettingDoc, ...] = (
    GOVERNANCE_SCOPE,
    MEMBER_ROLE_NAME,
    GOVERNED_REGIONS,
    GOVERNED_OUS,
    ACCOUNT_CONCURRENCY,
)


@dataclass(frozen=True)
class OrganizationSettings:
    scope: Scope = Scope(GOVERNANCE_SCOPE.default)
    member_role_name: str = ""
    regions: tuple[str, ...] = ()  # empty: the hub's own region
    organizational_units: tuple[str, ...] = ()  # empty: every account of the organization
    account_concurrency: int = int(ACCOUNT_CONCURRENCY.default)

    @property
    def organization_wide(self) -> bool:
        return self.scope is Scope.ORGANIZATION

    def regions_or(self, own_region: str) -> tuple[str, ...]:
        return self.regions or (own_region,)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> OrganizationSettings:
        environ = os.environ if environ is None else environ
        scope = enum_setting(environ, GOVERNANCE_SCOPE, Scope)
        role = text_setting(environ, MEMBER_ROLE_NAME)
        if role and not ROLE_NAME.match(role):
            raise SettingsError(f"MEMBER_ROLE_NAME={role!r} is not valid: expected an IAM role name")
        if scope is Scope.ORGANIZATION and not role:
            raise SettingsError("MEMBER_ROLE_NAME is empty: GOVERNANCE_SCOPE=organization reaches members through it")
        regions = list_setting(environ, GOVERNED_REGIONS)
        for region in regions:
            if not REGION_NAME.match(region):
                raise SettingsError(f"GOVERNED_REGIONS has {region!r}: expected region names such as eu-west-1")
        units = list_setting(environ, GOVERNED_OUS)
        for unit in units:
            if not PARENT_ID.match(unit):
                raise SettingsError(f"GOVERNED_OUS has {unit!r}: expected OU ids (ou-...) or a root id (r-...)")
        return cls(
            scope=scope,
            member_role_name=role,
            regions=tuple(dict.fromkeys(regions)),
            organizational_units=tuple(dict.fromkeys(units)),
            account_concurrency=int_setting(environ, ACCOUNT_CONCURRENCY),
        )
