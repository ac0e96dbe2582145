"""The AWS Organizations adapter: the accounts the hub governs (the organization's OrganizationDirectory port).

Run from the management account or a delegated administrator. ListAccounts for the whole organization; for OUs,
ListAccountsForParent and ListOrganizationalUnitsForParent walk every nested OU. Every page is read (20 a page is
Organizations' own maximum for ListAccounts).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires
from ecr_governance.organization.membership import Account


class OrganizationsDirectory:
    def __init__(self, organizations_client: Any):
        self._organizations = organizations_client

    @requires("organizations:ListAccounts")
    def all_accounts(self) -> list[Account]:
        return list(self._pages("list_accounts", "Accounts"))

    @requires("organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent")
    def accounts_under(self, parents: Sequence[str]) -> list[Account]:
        """The accounts of these OUs (or roots), nested OUs included."""
        found: dict[str, Account] = {}
        pending = list(parents)
        seen: set[str] = set()
        while pending:
            parent = pending.pop()
            if parent in seen:
                continue
            seen.add(parent)
            for account in self._pages("list_accounts_for_parent", "Accounts", ParentId=parent):
                found[account.account_id] = account
            pending.extend(
                unit["Id"]
                for unit in self._raw_pages(
                    "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent
                )
            )
        return sorted(found.values(), key=lambda account: account.account_id)

    def _pages(self, operation: str, key: str, **params: Any) -> Iterator[Account]:
        for raw in self._raw_pages(operation, key, **params):
            yield Account(raw["Id"], raw.get("Name", ""), raw.get("Status", ""))

    def _raw_pages(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        name = "".join(part.title() for part in operation.split("_"))
        with translated(name, "organizations"):
            for page in self._organizations.get_paginator(operation).paginate(**params):
                yield from page.get(key, [])
