"""Who is governed: only ACTIVE members in the hub's regions; members checked side by side, each once, reported in
account order with why an unreachable one is not onboarded."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.errors import MemberUnreachable
from ecr_governance.organization.membership import Account, CachedMembership, Membership, onboarded

REGIONS = ("eu-west-1", "us-east-1")


class Access:
    """Two checks must be in flight at once to get past the barrier: a fan-out that checks one by one fails."""

    def __init__(self, unreachable: set[str], parallel: int = 2):
        self.unreachable = unreachable
        self.barrier = threading.Barrier(parallel, timeout=5)
        self.checked: list[str] = []
        self._lock = threading.Lock()

    def check(self, account_id: str) -> None:
        with self._lock:
            self.checked.append(account_id)
        self.barrier.wait()
        if account_id in self.unreachable:
            raise MemberUnreachable(f"cannot assume arn:aws:iam::{account_id}:role/r: AccessDenied")


def membership(*accounts: Account) -> Membership:
    return Membership.of(accounts, REGIONS, "r")


def test_members_are_checked_side_by_side_each_once_and_reported_in_order():
    accounts = [Account(f"{n:012d}", f"team-{n}") for n in range(8, 0, -1)]
    access = Access(unreachable={"000000000003", "000000000006"})
    reachable, missing = onboarded(membership(*accounts), access, concurrency=4)
    assert reachable == ["000000000001", "000000000002", "000000000004", "000000000005", "000000000007", "000000000008"]
    assert [m.account_id for m in missing] == ["000000000003", "000000000006"]
    assert "AccessDenied" in missing[0].reason
    assert sorted(access.checked) == sorted(a.account_id for a in accounts)


def test_an_organization_with_no_member_checks_nothing():
    assert onboarded(membership(), Access(set()), concurrency=8) == ([], [])


def test_only_active_members_in_the_hubs_regions_are_acted_on():
    governed = membership(Account("111111111111", "a"), Account("222222222222", "b", status="SUSPENDED"))
    assert governed.refusal("111111111111", "eu-west-1") is None
    assert "not an active member" in governed.refusal("222222222222", "eu-west-1")
    assert "not one this hub governs" in governed.refusal("111111111111", "ap-south-1")


class Directory:
    def __init__(self):
        self.reads = 0
        self.accounts = [Account("111111111111", "a")]

    def all_accounts(self):
        self.reads += 1
        return list(self.accounts)

    def accounts_under(self, parents):
        raise AssertionError("no OU configured")


@pytest.mark.parametrize(("minutes", "reads"), [(9, 1), (11, 2)])
def test_the_account_list_is_read_again_after_ten_minutes(minutes, reads):
    now = [datetime(2026, 12, 4, tzinfo=UTC)]
    directory = Directory()
    cached = CachedMembership(directory, REGIONS, (), "r", ttl=timedelta(minutes=10), clock=lambda: now[0])
    cached.current()
    directory.accounts.append(Account("222222222222", "b"))
    now[0] += timedelta(minutes=minutes)
    assert ("222222222222" in cached.current().accounts) is (reads == 2)
    assert directory.reads == reads
