"""`ecr-governance sweep`: the untagged sweep from the command line, as the functions run it - but in one process.

It shows the plan and deletes nothing unless --delete (the deployed functions' switch is SweepMode); the plan's last
line says how to run it for real. Settings come from the environment (the variables the functions read: minimum age
and idle window, archived images, exemptions); --min-age-days and --min-idle-days override them, in days (fractions
allowed). --now plans as of another time and cannot be used with --delete: a deletion is never decided on a
pretended clock. Exit 0; 1 for an error or when any image or repository failed (a named repository that does not
exist is an ERROR row, the others are still swept); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.inspector import InspectorUsage
from ecr_governance.registry_api import RegistryApi
from ecr_governance.sweep.planner import SweepPlanner
from ecr_governance.sweep.report import Outcome
from ecr_governance.sweep.settings import MAX_DAYS, SweepMode, SweepRules, SweepSettings
from ecr_governance.sweep.worker import SweepWorker

from ecr_governance_cli.commands.lifecycle import parse_now
from ecr_governance_cli.exits import Exit
from ecr_governance_cli.fleet import FleetView, Tally, TargetResult, alone
from ecr_governance_cli.local_invoke import bind_log_handlers_to
from ecr_governance_cli.output import add_output_options
from ecr_governance_cli.parsing import UsageError, repository_name
from ecr_governance_cli.render import sweep_json, sweep_progress, sweep_table
from ecr_governance_cli.target import AwsTarget, CommandTarget


def _days(text: str) -> timedelta:
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not (math.isfinite(days) and 0 <= days <= MAX_DAYS):
        raise argparse.ArgumentTypeError(f"expected a number of days from 0 to {MAX_DAYS}, got {text!r}")
    return timedelta(days=days)


def register(subparsers: argparse._SubParsersAction) -> None:
    sweep = subparsers.add_parser(
        "sweep",
        help="show (or with --delete, delete) the old untagged images that no image which stays needs",
        description=__doc__.split("\n\n", 1)[1],
    )
    scope = sweep.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "--repository", action="append", type=repository_name, metavar="NAME", help="sweep this repository (repeatable)"
    )
    scope.add_argument("--all-repositories", action="store_true", help="every repository not exempt from lifecycle")
    sweep.add_argument("--min-age-days", type=_days, metavar="N", help="pushed more than N days ago (default 14)")
    sweep.add_argument("--min-idle-days", type=_days, metavar="N", help="not pulled within N days (default 30)")
    action = sweep.add_mutually_exclusive_group()
    action.add_argument("--delete", action="store_true", help="delete the candidates (without it: show the plan)")
    action.add_argument("--dry-run", action="store_true", help="show the plan and delete nothing (the default)")
    sweep.add_argument("--now", metavar="ISO-8601", help="plan as of this time (a future date); not with --delete")
    add_output_options(sweep, "per-repository totals (the JSON has every image, its decision and reason)")
    sweep.set_defaults(func=run, progress=True, fleet_view=FLEET_VIEW)


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    return alone(args, one(args, target))


def checked_now(args: argparse.Namespace) -> datetime:
    """The time the plan is made as of (--now, or now); --now with --delete is a usage error."""
    if args.now is not None and args.delete:
        raise UsageError("--now only previews: a deletion is never decided on a pretended clock (drop --delete)")
    return parse_now(args.now)


def _rules(args: argparse.Namespace, settings: SweepSettings) -> SweepRules:
    return replace(
        settings.rules,
        mode=SweepMode.DELETE if args.delete else SweepMode.DRY_RUN,
        min_age=settings.rules.min_age if args.min_age_days is None else args.min_age_days,
        min_idle=settings.rules.min_idle if args.min_idle_days is None else args.min_idle_days,
    )


def one(args: argparse.Namespace, target: CommandTarget) -> TargetResult:
    """The sweep of one account-region: the single-account command and each row of a fleet run (which shows no
    progress lines)."""
    now = checked_now(args)
    settings = SweepSettings.from_environ()
    rules = _rules(args, settings)
    bind_log_handlers_to(sys.stderr)  # report logs (if a logger is configured) never mix into the output
    registry = EcrRegistry(target.client("ecr"))
    in_use = InspectorUsage(target.client("inspector2"))
    selection = SweepPlanner(registry, settings.exemptions).select(None if args.all_repositories else args.repository)
    missing = selection.missing if not args.all_repositories else ()  # a name the user typed: its ERROR row
    # With --now every age - at the plan and at each re-read - is measured from that time.
    clock = (lambda: now) if args.now else (lambda: datetime.now(UTC))
    # An emulator (--local, --endpoint-url, or REGISTRY_API=core in the environment) serves ECR's core API only.
    api = RegistryApi.CORE if RegistryApi.CORE in (target.registry_api, settings.registry_api) else RegistryApi.AWS
    worker = SweepWorker(registry, registry, rules, settings.exemptions, in_use=in_use, clock=clock, registry_api=api)
    reports = []
    for position, name in enumerate(selection.repositories, start=1):
        reports.append(worker.sweep_repository(name, now=now))
        if args.all_repositories and args.progress:
            print(sweep_progress(position, len(selection.repositories), reports[-1]), file=sys.stderr)
    reports.sort(key=lambda report: report.repository)
    table = sweep_table(reports, selection, rules, now, missing)
    if not args.delete:
        table += f"\nNothing was deleted. To delete for real: {_delete_command(args)}"
    failed = any(report.has_failures for report in reports) or bool(selection.unreadable) or bool(missing)
    document = sweep_json(reports, selection, rules, now, missing)
    return TargetResult(document, lambda: table, Exit.ERROR if failed else Exit.OK)


# What a fleet row counts: the sweep's totals but the organization run's own (its rows are the account-regions).
NOT_COUNTED = frozenset({"targets", "targetsFailed", "parts"})
COLUMNS = (
    ("repositories", "REPOSITORIES"),
    ("examined", "IMAGES"),
    ("candidates", "CANDIDATES"),
    ("wouldDelete", "WOULD DELETE"),
    ("deleted", "DELETED"),
    ("failed", "FAILED"),
)


def tally(document: dict[str, Any]) -> Tally:
    """A fleet row: the sweep's totals, and the repositories that could not be swept (ERROR rows)."""
    counts = {key: 0 for key, _ in COLUMNS}
    counts.update((key, value) for key, value in document["totals"].items() if key not in NOT_COUNTED)
    failed = [row for row in document["repositories"] if row["status"] == "ERROR"]
    counts["repositoriesError"] = len(failed)
    return Tally(counts, failure=_failure(failed[0]) if failed else "")


def _failure(row: dict[str, Any]) -> str:
    if row["error"]:
        return f"{row['repositoryName']}: {row['error']['message']}"
    failed = [image for image in row.get("images", []) if image.get("outcome") == str(Outcome.FAILED)]
    first = f" ({failed[0].get('failureCode', '')}: {failed[0].get('detail', '')})" if failed else ""
    return f"{row['repositoryName']}: {len(failed)} image deletions failed{first}"


def _closing(args: argparse.Namespace) -> str:
    return "" if args.delete else "Nothing was deleted (a dry run: add --delete to delete)."


FLEET_VIEW = FleetView(one=one, tally=tally, columns=COLUMNS, check_arguments=checked_now, closing=_closing)


def _delete_command(args: argparse.Namespace) -> str:
    scope = (
        ["--all-repositories"] if args.all_repositories else [f"--repository {shlex.quote(n)}" for n in args.repository]
    )
    ages = [
        f"--{name.replace('_', '-')} {getattr(args, name).total_seconds() / 86400:g}"
        for name in ("min_age_days", "min_idle_days")
        if getattr(args, name) is not None
    ]
    return " ".join(["ecr-governance sweep", *scope, *ages, "--delete"])
