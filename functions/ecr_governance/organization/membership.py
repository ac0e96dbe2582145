"""Who is governed, and whether an event may be acted on: pure decisions over the organization's account list.

An event is acted on only when its account is an ACTIVE member of the organization (or of the configured OUs) and
its region is one the hub serves; anything else is refused before any call. The hub's writes in a member account
are made by that account's governance role: CloudTrail reports them as that role's, and they are the hub's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ecr_governance.errors import MemberUnreachable
from ecr_governance.text import plain

ACTIVE = "ACTIVE"
# How many members a fan-out checks at once (one AssumeRole each).
CHECK_CONCURRENCY = 8
ACCOUNT_NAME_CHARACTERS = 50  # AWS Organizations' limit on an account's name
NOT_ONBOARDED_CHARACTERS = 300  # "account: reason" (the reason quotes STS's error message)


def account_label(account_id: str, name: str) -> str:
    """How notices and summaries name an account: `name (id)`, the name - outside text, chosen by whoever created
    the account - as one line of plain text (no line break, control sequence or link)."""
    return f"{plain(name, ACCOUNT_NAME_CHARACTERS)} ({account_id})" if name else account_id


def not_onboarded_list(entries: Sequence[str], shown: int) -> str:
    """The first `shown` "account: reason" entries of a run's accounts not onboarded, each one line of plain text."""
    return "; ".join(plain(entry, NOT_ONBOARDED_CHARACTERS) for entry in entries[:shown])


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str = ""
    status: str = ACTIVE

    def label(self) -> str:
        """How alerts and reports name the account: `name (id)`, the name escaped."""
        return account_label(self.account_id, self.name)


@dataclass(frozen=True, order=True)
class Target:
    """One account-region the hub works in."""

    account_id: str
    region: str

    def __str__(self) -> str:
        return f"{self.account_id}/{self.region}"


class OrganizationDirectory(Protocol):
    """What the hub reads from AWS Organizations (the adapter serves it; tests use an in-memory one)."""

    def all_accounts(self) -> list[Account]: ...

    def accounts_under(self, parents: Sequence[str]) -> list[Account]:
        """The accounts of these OUs (or roots), nested OUs included."""
        ...


def governed_accounts(directory: OrganizationDirectory, parents: Sequence[str]) -> list[Account]:
    """Every account of the organization, or of the configured OUs."""
    return directory.accounts_under(parents) if parents else directory.all_accounts()


@dataclass(frozen=True)
class Membership:
    """The accounts and regions this hub governs, read once per run (a new account is governed at the next run)."""

    accounts: Mapping[str, Account]
    regions: tuple[str, ...]
    member_role_name: str = ""
    hub_account: str = ""

    @classmethod
    def of(
        cls, accounts: Iterable[Account], regions: Sequence[str], member_role_name: str = "", hub_account: str = ""
    ) -> Membership:
        governed = {a.account_id: a for a in accounts if a.status == ACTIVE}
        return cls(governed, tuple(regions), member_role_name, hub_account)

    def targets(self) -> list[Target]:
        """Every account-region, sorted: one message each in a fan-out."""
        return sorted(Target(account, region) for account in self.accounts for region in self.regions)

    def refusal(self, account_id: str, region: str) -> str | None:
        """Why an event from this account and region must not be acted on, or None."""
        if account_id not in self.accounts:
            return f"account {account_id!r} is not an active member this hub governs"
        if region not in self.regions:
            return f"region {region!r} is not one this hub governs ({', '.join(self.regions)})"
        return None

    def caused_by_the_hub(self, actor_arn: str) -> bool:
        """Whether a CloudTrail actor is a member's governance role - the hub's own write, not a change to act on."""
        if not self.member_role_name:
            return False
        # arn:aws:sts::<account>:assumed-role/<role name>/<session>
        parts = actor_arn.split(":", 5)
        if len(parts) < 6 or parts[2] != "sts" or parts[4] not in self.accounts:
            return False
        resource = parts[5].split("/")
        return len(resource) >= 2 and resource[0] == "assumed-role" and resource[1] == self.member_role_name

    def name_of(self, account_id: str) -> str:
        account = self.accounts.get(account_id)
        return account.label() if account else account_id


class MemberAccess(Protocol):
    """Whether the hub can reach a member (MemberSessions serves it: one AssumeRole, kept)."""

    def check(self, account_id: str) -> None:
        """Raise MemberUnreachable when the member's governance role cannot be assumed."""
        ...


@dataclass(frozen=True)
class NotOnboarded:
    """A governed account whose role could not be assumed: reported once per run, the others go on."""

    account_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.account_id}: {self.reason}"


def onboarded(
    membership: Membership, access: MemberAccess, concurrency: int = CHECK_CONCURRENCY
) -> tuple[list[str], list[NotOnboarded]]:
    """The governed accounts the hub can reach, and the others with why (each asked once, `concurrency` at a time:
    500 accounts one by one would hold a fan-out for 15 s of AssumeRole round trips)."""

    def reached(account_id: str) -> NotOnboarded | None:
        try:
            access.check(account_id)
        except MemberUnreachable as error:
            return NotOnboarded(account_id, str(error))
        return None

    accounts = sorted(membership.accounts)
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(accounts) or 1))) as pool:
        answers = list(pool.map(reached, accounts))
    reachable = [account for account, missing in zip(accounts, answers, strict=True) if missing is None]
    return reachable, [missing for missing in answers if missing is not None]


class CachedMembership:
    """The organization's membership for a function's lifetime, read again after `ttl` (a new account is governed
    within minutes; every event is checked against a list at most that old)."""

    def __init__(
        self,
        directory: OrganizationDirectory,
        regions: Sequence[str],
        organizational_units: Sequence[str],
        member_role_name: str,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime],
    ):
        self._directory = directory
        self._regions = tuple(regions)
        self._units = tuple(organizational_units)
        self._role = member_role_name
        self._ttl = ttl
        self._clock = clock
        self._cached: tuple[Membership, datetime] | None = None

    def current(self) -> Membership:
        now = self._clock()
        if self._cached is None or now - self._cached[1] > self._ttl:
            accounts = governed_accounts(self._directory, self._units)
            self._cached = (Membership.of(accounts, self._regions, self._role), now)
        return self._cached[0]
