"""An organization hub's sweep on in-memory ports: one target message per reachable member account-region, each
expanded into its repositories' messages, each swept in its own account; an account whose role cannot be assumed is
named once; the summary adds up per account with totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.errors import MemberUnreachable
from ecr_governance.exemptions import ExemptionSettings
from ecr_governance.images import DOCKER_MANIFEST, ImageRecord
from ecr_governance.organization.membership import Account, Target
from ecr_governance.sweep.ledger import RunState
from ecr_governance.sweep.messages import DeadlineMessage, RepositoryMessage, TargetMessage, parse_message
from ecr_governance.sweep.notice import Prices, sweep_notice
from ecr_governance.sweep.planner import OrganizationScope, SweepPlanner
from ecr_governance.sweep.ports import SweepAdapters
from ecr_governance.sweep.settings import SweepMode, SweepRules
from ecr_governance.sweep.summary import RunSummaries
from ecr_governance.sweep.worker import SweepWorker
from sweep_fakes import InMemoryEcr, InMemoryInspector, InMemoryRuns, RecordingPublisher, RecordingQueue

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=60)
DELETE = SweepRules(mode=SweepMode.DELETE)
REGIONS = ("ap-southeast-1", "eu-west-1")
TEAM_A, TEAM_B, SANDBOX, NEW = "111111111111", "222222222222", "333333333333", "444444444444"


def orphan(name: str) -> ImageRecord:
    return ImageRecord(
        "sha256:" + name.encode().hex().ljust(64, "0"), OLD, manifest_media_type=DOCKER_MANIFEST, size_bytes=1024**3
    )


class Organization:
    """Accounts (one closed, one whose role is not deployed yet) and a registry per member account-region."""

    def __init__(self):
        self.accounts = [
            Account(TEAM_A, "team-a"),
            Account(TEAM_B, "team-b"),
            Account(SANDBOX, "sandbox", status="SUSPENDED"),
            Account(NEW, "new-account"),
        ]
        self.registries: dict[Target, InMemoryEcr] = {}
        for account, count in ((TEAM_A, 2), (TEAM_B, 1)):
            for region in REGIONS:
                ecr = InMemoryEcr()
                ecr.add("app/api", *(orphan(f"{account}-{region}-{n}") for n in range(count)))
                ecr.add("app/keep")
                ecr.repository_tags["app/keep"] = {"ecr-governance:exempt": "true"}
                self.registries[Target(account, region)] = ecr
        self.asked: list[str] = []

    def accounts_of(self, parents=()):  # the OrganizationDirectory port
        return list(self.accounts)

    def check(self, account_id: str) -> None:  # the MemberAccess port
        self.asked.append(account_id)
        if account_id == NEW:
            raise MemberUnreachable(f"cannot assume arn:aws:iam::{NEW}:role/ecr-governance-member: AccessDenied")

    def reach(self, target: Target) -> SweepAdapters:
        self.check(target.account_id)
        ecr = self.registries[target]
        return SweepAdapters(ecr, ecr, InMemoryInspector(ecr, covered=False))


class Directory:
    def __init__(self, organization: Organization):
        self.all_accounts = organization.accounts_of
        self.accounts_under = organization.accounts_of


def test_an_organization_run_sweeps_every_reachable_member_account_region_and_adds_up_per_account():
    organization = Organization()
    queue, runs, publisher = RecordingQueue(), InMemoryRuns(), RecordingPublisher()
    hub_ecr = InMemoryEcr()  # the hub's own registry: an organization run never touches it
    scope = OrganizationScope(Directory(organization), organization, REGIONS)
    launch = SweepPlanner(hub_ecr, ExemptionSettings(), queue=queue, runs=runs, organization=scope).launch(
        "run-org", DELETE, NOW, timedelta(hours=6)
    )
    # Once an account (the suspended one is not governed); members are checked side by side, so in any order.
    assert sorted(organization.asked) == sorted([TEAM_A, TEAM_B, NEW])
    assert launch.not_onboarded == (
        f"{NEW}: cannot assume arn:aws:iam::{NEW}:role/ecr-governance-member: AccessDenied",
    )
    targets = [parse_message(b) for b in queue.take()]
    assert [m for m in targets if isinstance(m, TargetMessage)] == [
        TargetMessage("run-org", account, region) for account in (TEAM_A, TEAM_B) for region in REGIONS
    ]

    summaries = RunSummaries(
        runs,
        lambda call: organization.registries[Target(call.account, call.region)],
        Prices(),
        lambda: NOW,
        queue=queue,
        publisher=publisher,
    )
    worker = SweepWorker(
        hub_ecr,
        hub_ecr,
        DELETE,
        ExemptionSettings(),
        reach=organization.reach,
        queue=queue,
        ledger=runs,
        summaries=summaries,
        clock=lambda: NOW,
    )
    for message in targets:
        if isinstance(message, TargetMessage):
            worker.handle(message, lambda: 900.0)
    repository_messages = [parse_message(b) for b in queue.take()]
    assert sorted((m.account, m.region, m.repository) for m in repository_messages) == sorted(
        (account, region, "app/api") for account in (TEAM_A, TEAM_B) for region in REGIONS
    )  # app/keep is exempt in every member
    for message in repository_messages:
        assert isinstance(message, RepositoryMessage)
        worker.handle(message, lambda: 900.0)

    for target, ecr in organization.registries.items():
        assert ecr.digests("app/api") == set(), target  # each swept in its own account-region
    assert hub_ecr.calls == {}
    (notice,) = publisher.notices
    assert "6 untagged images deleted, 6.00 GiB" in notice.subject
    assert "in 4 account-regions (0 could not be read)" in notice.text
    assert "team-a (111111111111): 4 deleted, 4.00 GiB" in notice.text
    assert "team-b (222222222222): 2 deleted, 2.00 GiB" in notice.text
    assert f"Not onboarded (1; their role could not be assumed): {NEW}: cannot assume" in notice.text
    assert "4 exempt when planned" in notice.text


def test_a_member_message_reaching_a_worker_that_governs_only_its_own_account_fails_that_repository():
    hub = InMemoryEcr()
    worker = SweepWorker(hub, hub, DELETE, ExemptionSettings(), clock=lambda: NOW)
    report = worker.sweep_repository("app/api", message=RepositoryMessage("r", "app/api", 0, TEAM_A, REGIONS[0]))
    assert report.failure.code == "NotAnOrganizationHub" and hub.calls == {}


def test_a_deadline_still_closes_an_organization_run_naming_what_was_not_swept():
    organization = Organization()
    queue, runs, publisher = RecordingQueue(), InMemoryRuns(), RecordingPublisher()
    scope = OrganizationScope(Directory(organization), organization, REGIONS)
    hub = InMemoryEcr()
    SweepPlanner(hub, ExemptionSettings(), queue=queue, runs=runs, organization=scope).launch(
        "run-org", DELETE, NOW, timedelta(hours=6)
    )
    queue.take()
    later = NOW + timedelta(hours=6)
    summaries = RunSummaries(runs, lambda call: hub, Prices(), lambda: later, queue=queue, publisher=publisher)
    worker = SweepWorker(
        hub,
        hub,
        DELETE,
        ExemptionSettings(),
        reach=organization.reach,
        queue=queue,
        ledger=runs,
        summaries=summaries,
        clock=lambda: later,
    )
    worker.handle(DeadlineMessage("run-org"))
    (notice,) = publisher.notices
    assert (
        "4 not swept" in notice.subject and "team-a (111111111111) in ap-southeast-1 (every repository)" in notice.text
    )


def test_prices_give_the_monthly_savings_of_bytes_by_storage_class():
    """The summary's estimate and the worker's MonthlySavingsUsd metric (the dashboard's dollars reclaimed)."""
    prices = Prices(standard=0.10, archive=0.05)
    assert prices.monthly_usd({"standard": 10 * 1024**3, "archive": 4 * 1024**3}) == pytest.approx(1.2)


def test_account_names_and_not_onboarded_reasons_are_outside_text_in_the_sweep_summary():
    """An account's name is chosen by whoever created the account, and a reason quotes STS: neither may add a line,
    a terminal control sequence or a link to the summary e-mail."""
    state = RunState(
        "run-org",
        "delete",
        "2026-06-01T02:00:00Z",
        "2026-06-01T08:00:00Z",
        1,
        1,
        {"deleted": 2},
        account_names={TEAM_A: "evil\nForged: line https://phish.example/x \x1b[31m"},
        per_account={TEAM_A: {"deleted": 2}},
        not_onboarded=(f"{NEW}: denied\nInjected line https://phish.example/y",),
    )
    text = sweep_notice(state, Prices(0.10, 0.10)).text
    assert "\nForged" not in text and "\x1b" not in text and "https://" not in text
    assert "\nInjected" not in text
    assert f"evil Forged: line https[:]//phish.example/x [31m ({TEAM_A}): 2 deleted" in text
