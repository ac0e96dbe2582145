"""The sweep planner: the schedule -> one SQS message per repository to sweep, and the run's deadline message.

Repositories exempt from lifecycle (by name or by tag) are left out; a repository whose tags cannot be read is left
out too (an exemption may hide there) and named. The run is written down with one pending entry per message before
any message is sent, so the run cannot look complete early; messages the queue refuses are taken out again. Whether
Amazon Inspector's in-use data exists is asked once per run, and said once (a WARNING line and the summary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import Failure, FatalAwsError, GovernanceError, RepositoryNotFound
from ecr_governance.exemptions import ExemptAspect, ExemptionSettings, exemption_by_name, exemption_by_tags
from ecr_governance.organization.membership import (
    MemberAccess,
    Membership,
    OrganizationDirectory,
    governed_accounts,
    onboarded,
)
from ecr_governance.repositories import Repository
from ecr_governance.sweep.ledger import RunStart, RunStarter, UnitRef
from ecr_governance.sweep.messages import (
    DEADLINE_RECHECK_SECONDS,
    DeadlineMessage,
    RepositoryMessage,
    SendResult,
    TargetMessage,
    body,
)
from ecr_governance.sweep.ports import MessageQueue, RegistryCoverage, RepositoryDirectory
from ecr_governance.sweep.settings import SweepRules

logger = Logger(service=SERVICE_NAME, child=True)


@dataclass(frozen=True)
class Selection:
    repositories: tuple[str, ...]
    exempt: tuple[tuple[str, str], ...] = ()  # (repository, why)
    unreadable: tuple[tuple[str, Failure], ...] = ()  # tags unreadable: not swept (an exemption may hide there)
    missing: tuple[str, ...] = ()
    account: str = ""  # the registry's account, from the repositories' ARNs


@dataclass(frozen=True)
class OrganizationScope:
    """What an organization hub's planner reaches: the organization's accounts (or OUs') in these regions."""

    directory: OrganizationDirectory
    access: MemberAccess
    regions: tuple[str, ...]
    organizational_units: tuple[str, ...] = ()


@dataclass(frozen=True)
class LaunchReport:
    run_id: str
    rules: SweepRules
    selection: Selection
    bodies: tuple[str, ...]  # the repository messages (sent, or what would be sent without a queue)
    queued: bool
    unsent: tuple[str, ...] = ()  # repositories whose message the queue refused
    errors: tuple[str, ...] = ()
    in_use_available: bool | None = None
    not_onboarded: tuple[str, ...] = ()  # an organization run: accounts whose role cannot be assumed, with why

    @property
    def queued_count(self) -> int:
        return len(self.bodies) - len(self.unsent) if self.queued else 0

    def as_dict(self) -> dict[str, object]:
        result: dict[str, object] = {
            "status": "planned" if self.queued else "planned (no queue: nothing sent)",
            "runId": self.run_id,
            "mode": str(self.rules.mode),
            "repositories": list(self.selection.repositories),
            "exempt": dict(self.selection.exempt),
            "queued": self.queued_count,
            "inUseData": self.in_use_available,
        }
        if self.unsent:
            result["unsent"] = list(self.unsent)
        if self.not_onboarded:
            result["notOnboarded"] = list(self.not_onboarded)
        if not self.queued:
            result["wouldSend"] = list(self.bodies)
        return result


class SweepPlanner:
    def __init__(
        self,
        directory: RepositoryDirectory,
        exemptions: ExemptionSettings,
        *,
        queue: MessageQueue | None = None,
        runs: RunStarter | None = None,
        in_use: RegistryCoverage | None = None,
        organization: OrganizationScope | None = None,
    ):
        self._directory = directory
        self._exemptions = exemptions
        self._queue = queue
        self._runs = runs
        self._in_use = in_use
        self._organization = organization

    def select(self, names: Sequence[str] | None = None) -> Selection:
        """The named repositories, or every repository, less those exempt from lifecycle (enforcement's exemptions)."""
        repositories, missing = self._repositories(names)
        chosen: list[str] = []
        exempt: list[tuple[str, str]] = []
        unreadable: list[tuple[str, Failure]] = []
        for repository in repositories:
            exemption = exemption_by_name(repository.name, self._exemptions)
            if not exemption.covers(ExemptAspect.LIFECYCLE):
                try:
                    exemption |= exemption_by_tags(self._directory.list_tags(repository), self._exemptions)
                except RepositoryNotFound:
                    missing.append(repository.name)
                    continue
                except FatalAwsError:
                    raise
                except GovernanceError as error:
                    unreadable.append((repository.name, Failure.of(error)))
                    continue
            if exemption.covers(ExemptAspect.LIFECYCLE):
                exempt.append((repository.name, str(exemption)))
            else:
                chosen.append(repository.name)
        account = next((r.account for r in repositories if r.account), "")
        return Selection(tuple(chosen), tuple(exempt), tuple(unreadable), tuple(missing), account)

    def _repositories(self, names: Sequence[str] | None) -> tuple[list[Repository], list[str]]:
        if names is None:
            return sorted(self._directory.list_repositories(), key=lambda r: r.name), []
        found, missing = [], []
        for name in dict.fromkeys(names):
            try:
                found.append(self._directory.get_repository(name))
            except RepositoryNotFound:
                missing.append(name)
        return found, missing

    def launch(self, run_id: str, rules: SweepRules, now: datetime, deadline: timedelta) -> LaunchReport:
        """Send one message per repository to sweep (an organization hub: one per member account-region), then the
        run's deadline; without a queue, say what would be sent."""
        if self._organization is not None:
            return self._launch_organization(run_id, rules, now, deadline, self._organization)
        selection = self.select()
        for name, failure in selection.unreadable:
            logger.error(
                "repository not swept: its tags could not be read",
                extra={"repository": name, "error_code": failure.code, "reason": failure.message, "run_id": run_id},
            )
        in_use = self._in_use_available(selection)
        messages = [RepositoryMessage(run_id, name) for name in selection.repositories]
        bodies = tuple(body(message) for message in messages)
        if self._queue is None:
            return LaunchReport(run_id, rules, selection, bodies, queued=False, in_use_available=in_use)
        units = tuple(UnitRef(m.unit_id, m.repository) for m in messages)
        start = RunStart(run_id, rules.mode, now, now + deadline, units, len(selection.exempt), in_use)
        if self._runs is not None and not self._runs.start_run(start):
            logger.warning("run already started: sending its messages again", extra={"run_id": run_id})
        result = self._queue.send_messages(bodies) if bodies else SendResult()
        unsent = tuple(selection.repositories[i] for i in result.unsent)
        if unsent:
            if self._runs is not None:
                self._runs.remove_units(run_id, [units[i] for i in result.unsent])
            logger.error(
                "repositories not queued: swept next run",
                extra={"run_id": run_id, "repositories": list(unsent), "errors": list(result.errors)},
            )
        self._queue_deadline(run_id)
        return LaunchReport(run_id, rules, selection, bodies, True, unsent, result.errors, in_use)

    def _launch_organization(
        self, run_id: str, rules: SweepRules, now: datetime, deadline: timedelta, scope: OrganizationScope
    ) -> LaunchReport:
        """One target message per reachable member account-region; an account whose role cannot be assumed is named
        once (a log line, the run's summary) and the others go on."""
        membership = Membership.of(governed_accounts(scope.directory, scope.organizational_units), scope.regions)
        reachable, missing = onboarded(membership, scope.access)
        for account in missing:
            logger.error(
                "account not onboarded: not swept",
                extra={"run_id": run_id, "account": account.account_id, "reason": account.reason},
            )
        messages = [TargetMessage(run_id, a, r) for a in reachable for r in scope.regions]
        bodies = tuple(body(m) for m in messages)
        selection = Selection(tuple(f"{m.account}/{m.region}" for m in messages))
        not_onboarded = tuple(str(account) for account in missing)
        if self._queue is None:
            return LaunchReport(run_id, rules, selection, bodies, queued=False, not_onboarded=not_onboarded)
        units = tuple(UnitRef(m.unit_id, "", m.account) for m in messages)
        names = {a: membership.accounts[a].name for a in reachable if membership.accounts[a].name}
        start = RunStart(
            run_id, rules.mode, now, now + deadline, units, not_onboarded=not_onboarded, account_names=names
        )
        if self._runs is not None and not self._runs.start_run(start):
            logger.warning("run already started: sending its messages again", extra={"run_id": run_id})
        result = self._queue.send_messages(bodies) if bodies else SendResult()
        unsent = tuple(selection.repositories[i] for i in result.unsent)
        if unsent and self._runs is not None:
            self._runs.remove_units(run_id, [units[i] for i in result.unsent])
        self._queue_deadline(run_id)
        return LaunchReport(run_id, rules, selection, bodies, True, unsent, result.errors, None, not_onboarded)

    def _in_use_available(self, selection: Selection) -> bool | None:
        """Whether Inspector's in-use data exists for this registry, said once per run."""
        if self._in_use is None or not selection.repositories:
            return None
        try:
            covered = self._in_use.covers_registry(selection.account)
        except FatalAwsError:
            raise
        except GovernanceError as error:  # each worker asks again, and fails its repository if it cannot tell
            logger.warning("could not tell whether in-use data exists", extra={"reason": str(error)})
            return None
        if not covered:
            logger.warning(
                "in-use data not available: Amazon Inspector does not scan this registry's images, so an untagged "
                "image deployed by digest is recognised only by its pulls (SweepMinIdleDays)",
                extra={"account": selection.account},
            )
        return covered

    def _queue_deadline(self, run_id: str) -> None:
        assert self._queue is not None
        if self._runs is None:
            return
        result = self._queue.send_messages([body(DeadlineMessage(run_id))], DEADLINE_RECHECK_SECONDS)
        if result.unsent:
            logger.error(
                "the run's deadline message was not queued: its summary goes out only if every repository reports",
                extra={"run_id": run_id, "errors": list(result.errors)},
            )
