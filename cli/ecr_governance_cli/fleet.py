"""Many accounts and regions from one command line, as c7n-org and the AWS CLI do it: `--accounts ID,ID` or
`--organization [--ou OU,OU]`, `--role-name NAME`, `--regions R,R` and `--workers N`, before or after audit,
enforce, sweep or findings summary.

Each account is reached through its governance role (the hub's own MemberSessions: one AssumeRole per account, its
clients kept); the caller's own account with the caller's credentials. Account-regions run `--workers` at a time,
each exactly as the single-account command runs it (the command's `one`, the same function its single-account path
calls), and the output is one row per account-region plus totals - in JSON each account-region's whole document,
per-account totals and the totals. An account whose role cannot be assumed is a NOT_ONBOARDED row with the reason,
one that fails an ERROR row; the others still run. What cannot work anywhere (no credentials, no endpoint, a bad
setting or command line) ends the run with one line, as it does in one account.

STATUS says what an account-region found (VIOLATIONS: non-compliant settings, or images with findings at or above
the threshold); the exit code keeps each command's own contract, worst first: 1 when any account-region is ERROR or
NOT_ONBOARDED, else 3 when any exits 3 (`--fail-on-violation`), else 0. Read-only by default, as each command is:
audit and findings summary never write, sweep deletes only with --delete, enforce writes only as it does in one
account.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ecr_governance.errors import FatalAwsError, GovernanceError, InputError, MemberUnreachable, SettingsError
from ecr_governance.organization.membership import Account, Membership, governed_accounts
from ecr_governance.registry_api import RegistryApi
from ecr_governance.text import plain

from ecr_governance_cli.exits import Exit
from ecr_governance_cli.output import emit, table
from ecr_governance_cli.parsing import UsageError, whole_number
from ecr_governance_cli.target import AwsTarget, CommandTarget

DEFAULT_ROLE_NAME = "ecr-governance-member"  # what org/member.yaml creates (its MemberRoleName's default)
DEFAULT_WORKERS = 8
MAX_WORKERS = 64
ACCOUNT_ID = re.compile(r"\d{12}")
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
# Organizations' ParentId: an OU or a root.
PARENT_ID = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32}")
ROLE_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")  # org/member.yaml's MemberRoleName pattern
# Errors that would be the same in every account-region: they end the run with one line, as in one account.
ENDS_THE_RUN = (FatalAwsError, SettingsError, InputError, UsageError)
NAME_LIMIT = 64  # Organizations allows 50 characters; a longer one is cut
REASON_LIMIT = 1000


# ---- the options --------------------------------------------------------------------------------------------------
def _listed(pattern: re.Pattern[str], what: str) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))
        wrong = [item for item in items if not pattern.fullmatch(item)]
        if not items or wrong:
            shown = ", ".join(repr(item) for item in wrong) or repr(text)
            raise argparse.ArgumentTypeError(f"{shown}: expected {what}, comma-separated")
        return items

    return parse


def role_name(text: str) -> str:
    if not ROLE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IAM role name (1-64 of A-Z a-z 0-9 + = , . @ _ -)")
    return text


workers = whole_number(1, MAX_WORKERS, "a number of account-regions")


def add_fleet_options(group: argparse._ArgumentGroup, default: Mapping[str, Any], checked: bool = True) -> None:
    """The global options that choose accounts and regions. `checked=False` takes the values as they are typed
    (main's early look at the command line, before the command's own parser checks them)."""

    def kind(parse: Callable[[str], Any]) -> dict[str, Any]:
        return {"type": parse} if checked else {}

    group.add_argument(
        "--accounts",
        metavar="ID,ID",
        help="these accounts, each through its governance role (--role-name); the caller's own with its credentials",
        **kind(_listed(ACCOUNT_ID, "12-digit account ids")),
        **default,
    )
    group.add_argument(
        "--organization",
        action="store_true",
        help="every ACTIVE account of the AWS Organization (run from its management or a delegated admin account)",
        **default,
    )
    group.add_argument(
        "--ou",
        metavar="OU,OU",
        help="with --organization: only the accounts under these OUs (or roots), nested OUs included",
        **kind(_listed(PARENT_ID, "OU ids (ou-...) or root ids (r-...)")),
        **default,
    )
    group.add_argument(
        "--role-name",
        metavar="NAME",
        help=f"the role assumed in each account (default {DEFAULT_ROLE_NAME}, what org/member.yaml creates)",
        **kind(role_name),
        **default,
    )
    group.add_argument(
        "--regions",
        metavar="R,R",
        help="these regions (default: the configured region); one row per account and region",
        **kind(_listed(REGION, "region names such as eu-west-1")),
        **default,
    )
    group.add_argument(
        "--workers",
        metavar="N",
        help=f"account-regions worked on at once (1-{MAX_WORKERS}, default {DEFAULT_WORKERS})",
        **kind(workers),
        **default,
    )


@dataclass(frozen=True)
class FleetOptions:
    accounts: tuple[str, ...] = ()
    organization: bool = False
    units: tuple[str, ...] = ()
    role_name: str = DEFAULT_ROLE_NAME
    regions: tuple[str, ...] = ()
    workers: int = DEFAULT_WORKERS

    @classmethod
    def of(cls, args: argparse.Namespace) -> FleetOptions:
        """The options as given; a combination that means nothing is a UsageError naming the options."""
        given = {name: getattr(args, name, None) for name in ("accounts", "organization", "ou", "role_name", "workers")}
        conflict = _conflict(given)
        if conflict:
            raise UsageError(conflict)
        return cls(
            accounts=tuple(sorted(given["accounts"] or ())),
            organization=bool(given["organization"]),
            units=tuple(given["ou"] or ()),
            role_name=given["role_name"] or DEFAULT_ROLE_NAME,
            regions=tuple(getattr(args, "regions", None) or ()),
            workers=given["workers"] or DEFAULT_WORKERS,
        )

    @property
    def requested(self) -> bool:
        """Whether the command runs across accounts or regions (else: in the configured account and region)."""
        return bool(self.accounts or self.organization or self.regions)

    def given(self) -> list[str]:
        chosen = [("--accounts", self.accounts), ("--organization", self.organization), ("--regions", self.regions)]
        return [option for option, value in chosen if value]


def _conflict(given: Mapping[str, Any]) -> str | None:
    if given["accounts"] and given["organization"]:
        return "--accounts and --organization: choose one (the named accounts, or the organization's)"
    if given["ou"] and not given["organization"]:
        return "--ou chooses among the organization's accounts: add --organization"
    if not (given["accounts"] or given["organization"]):
        alone = [option for option, name in (("--role-name", "role_name"), ("--workers", "workers")) if given[name]]
        if alone:
            return f"{' and '.join(alone)} {'goes' if len(alone) == 1 else 'go'} with --accounts or --organization"
    return None


# ---- what a command gives ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetResult:
    """What a command made of one account-region: its document, its table, its exit code and its stderr notes."""

    document: dict[str, Any]
    table: Callable[[], str]
    code: int = Exit.OK
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tally:
    """One account-region's result as a fleet row shows it: its counts, whether it found violations, and what failed
    first when something did."""

    counts: dict[str, int]
    violations: bool = False
    failure: str = ""


def _no_check(args: argparse.Namespace) -> None:
    return None


@dataclass(frozen=True)
class FleetView:
    """How a command runs across accounts: its single-target work, how its document is tallied, the count columns
    of the table (document key, title), a check of the command line made before any call, a closing line."""

    one: Callable[[argparse.Namespace, CommandTarget], TargetResult]
    tally: Callable[[dict[str, Any]], Tally]
    columns: tuple[tuple[str, str], ...]
    check_arguments: Callable[[argparse.Namespace], object] = _no_check
    closing: Callable[[argparse.Namespace], str] | None = None


def alone(args: argparse.Namespace, result: TargetResult) -> int:
    """The single-account path: the document as --output asks, then the notes on stderr; the exit code."""
    emit(args, result.document, result.table)
    for note in result.notes:
        print(note, file=sys.stderr)
    return result.code


# ---- one account-region ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemberTarget:
    """An account-region as a command sees its target: `client(service)` is that account's client in that region."""

    account: Account
    region: str
    registry_api: RegistryApi
    clients: Callable[[str, str, str], Any]  # (service, account id, region) -> client

    def client(self, service: str) -> Any:
        return self.clients(service, self.account.account_id, self.region)


class Reach:
    """Where the calls go: the caller's own account with the caller's credentials (the account STS names), any other
    account through its governance role (MemberSessions). Each has its own session: a boto3 session builds one
    client at a time."""

    def __init__(self, target: AwsTarget, options: FleetOptions):
        from ecr_governance.aws.accounts import MemberSessions
        from ecr_governance.aws.sts import CallerIdentity

        self._target = target
        self._session = target.session()
        self._building = threading.Lock()
        self.regions = options.regions or (self._configured_region(),)
        self.own_account = CallerIdentity(self.caller_client("sts", self.regions[0])).account()
        members = target.session()
        self._members = MemberSessions(
            members,
            options.role_name,
            partition=members.get_partition_for_region(self.regions[0]),  # aws-cn, aws-us-gov: the regions say
            endpoint_url=target.effective_endpoint,
        )

    def caller_client(self, service: str, region: str) -> Any:
        from ecr_governance.aws.clients import make_client

        with self._building:
            return make_client(
                service,
                session=self._session,
                endpoint_url=self._target.effective_endpoint,
                local=self._target.local,
                region=region,
            )

    def client(self, service: str, account_id: str, region: str) -> Any:
        if account_id == self.own_account:
            return self.caller_client(service, region)
        return self._members.client(service, account_id, region)

    def _configured_region(self) -> str:
        region = self._session.region_name or os.environ.get("AWS_REGION")
        if not region:
            raise SettingsError("no AWS region configured: pass --regions, --region or set AWS_REGION")
        return str(region)

    def membership(self, options: FleetOptions) -> Membership:
        """The ACTIVE accounts chosen (the organization's, under --ou when given; or those named; or the caller's
        own) and the regions, as the hub reads them."""
        if options.organization:
            from ecr_governance.aws.organizations import OrganizationsDirectory

            directory = OrganizationsDirectory(self.caller_client("organizations", self.regions[0]))
            accounts = governed_accounts(directory, options.units)
        else:
            accounts = [Account(account) for account in options.accounts or (self.own_account,)]
        membership = Membership.of(accounts, self.regions, options.role_name, self.own_account)
        if not membership.accounts:  # a wrong OU or organization: a run that checks nothing must not pass a gate
            where = f"under {', '.join(options.units)}" if options.units else "in the organization"
            raise GovernanceError(f"--organization: no ACTIVE account {where}, nothing to run in")
        return membership


class Status(StrEnum):
    OK = "OK"
    VIOLATIONS = "VIOLATIONS"
    ERROR = "ERROR"
    NOT_ONBOARDED = "NOT_ONBOARDED"


@dataclass(frozen=True)
class Row:
    """One account-region's outcome: `counts` and `document` are None when it could not be worked on."""

    account: Account
    region: str
    status: Status
    code: int
    counts: dict[str, int] | None = None
    document: dict[str, Any] | None = None
    reason: str = ""
    notes: tuple[str, ...] = field(default=(), compare=False)


def outcome(view: FleetView, args: argparse.Namespace, target: MemberTarget) -> Row:
    """Run the command in one account-region; a failure there is its row, not the end of the run."""
    try:
        result = view.one(args, target)
    except ENDS_THE_RUN:
        raise
    except MemberUnreachable as error:
        return Row(target.account, target.region, Status.NOT_ONBOARDED, Exit.ERROR, reason=str(error))
    except GovernanceError as error:
        return Row(target.account, target.region, Status.ERROR, Exit.ERROR, reason=str(error))
    tally = view.tally(result.document)
    if result.code == Exit.ERROR:
        status, reason = Status.ERROR, tally.failure or "failed (its result in --output json says where)"
    elif tally.violations or result.code == Exit.VIOLATIONS:
        status, reason = Status.VIOLATIONS, ""
    else:
        status, reason = Status.OK, ""
    return Row(
        target.account,
        target.region,
        status,
        result.code,
        counts=tally.counts,
        document=result.document,
        reason=reason,
        notes=result.notes,
    )


def work(targets: Sequence[MemberTarget], one: Callable[[MemberTarget], Row], workers: int) -> list[Row]:
    """Every account-region, `workers` at a time, in the order given. An error that ends the run cancels what has
    not started."""
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets))), thread_name_prefix="fleet") as pool:
        futures = [pool.submit(one, target) for target in targets]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


# ---- many -------------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace, target: AwsTarget, options: FleetOptions) -> int:
    """Run the command in every chosen account-region; print the rows and the totals as --output asks."""
    view: FleetView | None = getattr(args, "fleet_view", None)
    if view is None:
        command = getattr(args, "command_name", args.command)
        raise UsageError(
            f"{', '.join(options.given())}: `{command}` runs in the configured account and region only "
            "(across accounts and regions: audit, enforce, sweep, findings summary)"
        )
    view.check_arguments(args)  # a usage error is refused before any call
    args = copy.copy(args)
    args.progress = False  # progress lines of many account-regions at once would only interleave
    reach = Reach(target, options)
    membership = reach.membership(options)
    targets = [
        MemberTarget(membership.accounts[each.account_id], each.region, target.registry_api, reach.client)
        for each in membership.targets()
    ]
    rows = work(targets, lambda member: outcome(view, args, member), options.workers)
    keys = [key for key, _ in view.columns]
    closing = view.closing(args) if view.closing else ""
    emit(args, fleet_document(rows, keys), lambda: fleet_table(rows, view.columns, closing))
    for note in dict.fromkeys(note for row in rows for note in row.notes):
        print(note, file=sys.stderr)
    return fleet_exit(rows)


def _totals(rows: Iterable[Row], keys: Sequence[str]) -> dict[str, int]:
    rows = list(rows)
    counts: Counter[str] = Counter(dict.fromkeys(keys, 0))
    for row in rows:
        counts.update(row.counts or {})
    statuses = Counter(row.status for row in rows)
    return {**counts, "targets": len(rows), **{_status_key(status): statuses[status] for status in Status}}


def _status_key(status: Status) -> str:
    """targetsOk, targetsViolations, targetsError, targetsNotOnboarded."""
    return "targets" + status.title().replace("_", "")


def fleet_document(rows: Sequence[Row], keys: Sequence[str] = ()) -> dict[str, Any]:
    """Each account-region (its summary counts and its whole single-account document), each account's totals and
    the totals, counts and account-regions by status."""
    accounts = list(dict.fromkeys(row.account for row in rows))
    return {
        "targets": [
            {
                "accountId": row.account.account_id,
                "accountName": row.account.name or None,
                "region": row.region,
                "status": str(row.status),
                "error": {"message": row.reason} if row.reason else None,
                "summary": row.counts,
                "result": row.document,
            }
            for row in rows
        ],
        "accounts": [
            {
                "accountId": account.account_id,
                "accountName": account.name or None,
                "totals": _totals((row for row in rows if row.account == account), keys),
            }
            for account in accounts
        ],
        "totals": _totals(rows, keys),
    }


def fleet_table(rows: Sequence[Row], columns: Sequence[tuple[str, str]], closing: str = "") -> str:
    """ACCOUNT NAME REGION, the command's counts, STATUS; a TOTAL row; then why each failed row failed."""
    from ecr_governance_cli.render import plural

    keys = [key for key, _ in columns]
    totals = _totals(rows, keys)
    lines = table(
        [
            ("ACCOUNT", "NAME", "REGION", *(title for _, title in columns), "STATUS"),
            *(_table_row(row, keys) for row in rows),
            ("TOTAL", "", "", *(str(totals[key]) for key in keys), ""),
        ],
        right_aligned=frozenset(range(3, 3 + len(columns))),
    )
    lines += [f"{_where(row)}: {row.status}: {plain(row.reason, REASON_LIMIT)}" for row in rows if row.reason]
    statuses = ", ".join(f"{totals[_status_key(status)]} {status}" for status in Status)
    accounts = len({row.account.account_id for row in rows})
    lines.append(f"{plural(len(rows), 'account-region')} in {plural(accounts, 'account')}: {statuses}")
    return "\n".join([*lines, closing] if closing else lines)


def _table_row(row: Row, keys: Sequence[str]) -> tuple[str, ...]:
    cells = (str(row.counts.get(key, 0)) if row.counts is not None else "-" for key in keys)
    name = plain(row.account.name, NAME_LIMIT) or "-"
    return (plain(row.account.account_id, 12), name, plain(row.region, 32), *cells, str(row.status))


def _where(row: Row) -> str:
    return f"{plain(row.account.account_id, 12)} {plain(row.region, 32)}"


def fleet_exit(rows: Sequence[Row]) -> int:
    """1 when any account-region failed or could not be reached, else 3 when any exits 3, else 0."""
    codes = {row.code for row in rows}
    for code in (Exit.ERROR, Exit.VIOLATIONS):
        if code in codes:
            return code
    return Exit.OK
