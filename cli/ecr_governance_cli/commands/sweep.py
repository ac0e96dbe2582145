"""`ecr-governance sweep`: the untagged sweep from the command line, as the functions run it - but in one process.

It deletes unless --dry-run (the deployed functions' switch is SweepMode). Settings come from the environment (the
variables the functions read: minimum age and idle window, archived images, exemptions); --min-age-days and
--min-idle-days override them, in days (fractions allowed). --now previews a future date and needs --dry-run: a
deletion is never decided on a pretended clock. Exit 0; 1 for an error or when any image or repository failed;
2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from datetime import timedelta

from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.errors import RepositoryNotFound
from ecr_governance.sweep.service import SweepPlanner, SweepWorker
from ecr_governance.sweep.settings import MAX_DAYS, SweepMode, SweepSettings

from ecr_governance_cli.commands.lifecycle import parse_now
from ecr_governance_cli.local_invoke import bind_log_handlers_to
from ecr_governance_cli.render import sweep_json, sweep_progress, sweep_table
from ecr_governance_cli.target import AwsTarget

EXIT_FAILURES = 1


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
        help="delete old untagged images that no image which stays needs (or --dry-run: show the plan)",
        description=__doc__.split("\n\n", 1)[1],
    )
    scope = sweep.add_mutually_exclusive_group(required=True)
    scope.add_argument("--repository", action="append", metavar="NAME", help="sweep this repository (repeatable)")
    scope.add_argument("--all-repositories", action="store_true", help="every repository not exempt from lifecycle")
    sweep.add_argument("--min-age-days", type=_days, metavar="N", help="pushed more than N days ago (default 14)")
    sweep.add_argument("--min-idle-days", type=_days, metavar="N", help="not pulled within N days (default 30)")
    sweep.add_argument("--dry-run", action="store_true", help="plan, re-check and report; delete nothing")
    sweep.add_argument("--now", metavar="ISO-8601", help="with --dry-run: plan as of this time (a future date)")
    sweep.add_argument(
        "--output", choices=("table", "json"), default="table", help="per-repository totals, or every digest in JSON"
    )
    sweep.set_defaults(func=run, parser=sweep)


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    if args.now is not None and not args.dry_run:
        args.parser.error("--now only previews: use it with --dry-run")
    now = parse_now(args.now)
    settings = SweepSettings.from_environ()
    rules = replace(
        settings.rules,
        mode=SweepMode.DRY_RUN if args.dry_run else SweepMode.DELETE,
        min_age=settings.rules.min_age if args.min_age_days is None else args.min_age_days,
        min_idle=settings.rules.min_idle if args.min_idle_days is None else args.min_idle_days,
    )
    bind_log_handlers_to(sys.stderr)  # report logs (if a logger is configured) never mix into the output
    registry = EcrRegistry(target.client("ecr"))
    selection = SweepPlanner(registry, settings.exemptions).select(None if args.all_repositories else args.repository)
    if selection.missing and not args.all_repositories:  # a name the user typed must exist
        raise RepositoryNotFound(", ".join(selection.missing))
    # With --now every age - at the plan and at each re-check - is measured from that time.
    worker = SweepWorker(registry, clock=lambda: now) if args.now else SweepWorker(registry)
    reports = []
    for position, name in enumerate(selection.repositories, start=1):
        reports.append(worker.sweep_repository(name, rules, now=now))
        if args.all_repositories:
            print(sweep_progress(position, len(selection.repositories), reports[-1]), file=sys.stderr)
    if args.output == "json":
        print(json.dumps(sweep_json(reports, selection, rules, now), indent=2))
    else:
        print(sweep_table(reports, selection, rules, now))
    failed = any(report.has_failures for report in reports) or bool(selection.unreadable)
    return EXIT_FAILURES if failed else 0
