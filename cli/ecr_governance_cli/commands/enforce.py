"""`ecr-governance audit|enforce`: the enforcement capability from the command line.

Exit 0 when every decision could be made; 1 when any failed (a repository that could not be read or written, a
named repository that does not exist: its ERROR row, the others still printed); 3 with --fail-on-violation when a
repository is non-compliant; 2 for a usage error such as a name ECR would refuse.
"""

from __future__ import annotations

import argparse
import os
import sys

from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings

from ecr_governance_cli.exits import Exit
from ecr_governance_cli.local_invoke import bind_log_handlers_to
from ecr_governance_cli.output import add_output_options, emit
from ecr_governance_cli.parsing import repository_name
from ecr_governance_cli.render import enforcement_document, enforcement_failed, enforcement_table
from ecr_governance_cli.target import AwsTarget


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, help_text in (
        ("audit", "report every repository's compliance (no writes)"),
        ("enforce", "remediate violations (settings from the environment, as the function reads them)"),
    ):
        command = subparsers.add_parser(name, help=help_text, description=f"{help_text}. {__doc__.split('.', 1)[1]}")
        command.add_argument(
            "--repository",
            action="append",
            type=repository_name,
            metavar="NAME",
            help="only this repository (repeatable; default: all)",
        )
        add_output_options(command, "one row per repository, its settings and verdict")
        if name == "enforce":
            command.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
        else:
            command.add_argument(
                "--effective-scanning",
                action="store_true",
                help="also show ECR's own answer on each repository's scanning (one call per 25 repositories)",
            )
        command.add_argument(
            "--fail-on-violation",
            action="store_true",
            help=f"exit {Exit.VIOLATIONS} when a repository or a registry setting is non-compliant (for CI gates)",
        )
        command.set_defaults(func=run, dry_run=name == "audit")


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    environ = dict(os.environ)
    environ.setdefault("REGISTRY_API", str(target.registry_api))  # an emulator serves ECR's core API only
    settings = EnforceSettings.from_environ(environ)
    bind_log_handlers_to(sys.stderr)  # decision logs (if a logger is configured) never mix into the report
    registry = EcrRegistry(target.client("ecr"))
    enforcer = Enforcer(registry, settings)
    plan = enforcer.assess(args.repository)
    missing = sorted(plan.missing_repositories)  # a name the user typed must exist: its own ERROR row
    report = enforcer.apply(plan, dry_run=args.dry_run)
    effective = registry.get_effective_scanning(report.repositories) if getattr(args, "effective_scanning", 0) else None
    document = enforcement_document(report, missing, effective)
    emit(args, document, lambda: enforcement_table(report, missing, effective))
    if args.command == "enforce" and not settings.writes_enabled:
        print("GOVERNANCE_MODE=audit: nothing was written (unset it, or set enforce, to remediate)", file=sys.stderr)
    elif args.command == "enforce" and args.dry_run:
        print("--dry-run: nothing was written", file=sys.stderr)
    if enforcement_failed(document):
        return Exit.ERROR
    summary = document["summary"]
    if args.fail_on_violation and summary["nonCompliantAfter"] + summary["registryNonCompliant"]:
        return Exit.VIOLATIONS
    return Exit.OK
