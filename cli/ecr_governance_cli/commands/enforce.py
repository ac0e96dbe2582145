"""`ecr-governance audit|enforce`: the enforcement capability from the command line."""

from __future__ import annotations

import argparse
import os
import sys

from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import RepositoryNotFound

from ecr_governance_cli.local_invoke import bind_log_handlers_to
from ecr_governance_cli.render import enforcement_json, enforcement_table
from ecr_governance_cli.target import AwsTarget

EXIT_VIOLATIONS = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, help_text in (
        ("audit", "report every repository's compliance (no writes)"),
        ("enforce", "remediate violations (settings from the environment, as the function reads them)"),
    ):
        command = subparsers.add_parser(name, help=help_text, description=help_text)
        command.add_argument(
            "--repository", action="append", metavar="NAME", help="only this repository (repeatable; default: all)"
        )
        command.add_argument(
            "--output", choices=("table", "json"), default="table", help="a table per repository, or JSON decisions"
        )
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
                help=f"exit {EXIT_VIOLATIONS} when a repository or a registry setting is non-compliant (for CI gates)",
            )
        command.set_defaults(func=run, dry_run=name == "audit")


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    environ = dict(os.environ)
    if target.effective_endpoint:  # an AWS-compatible endpoint serves ECR's core API only, unless told otherwise
        environ.setdefault("REGISTRY_API", "core")
    settings = EnforceSettings.from_environ(environ)
    bind_log_handlers_to(sys.stderr)  # decision logs (if a logger is configured) never mix into the report
    registry = EcrRegistry(target.client("ecr"))
    enforcer = Enforcer(registry, settings)
    plan = enforcer.assess(args.repository)
    if plan.missing_repositories:  # a name the user typed, unlike an event's, must exist
        raise RepositoryNotFound(", ".join(plan.missing_repositories))
    report = enforcer.apply(plan, dry_run=args.dry_run)
    effective = None
    if getattr(args, "effective_scanning", False):
        effective = registry.get_effective_scanning(report.repositories)
    print(enforcement_json(report, effective) if args.output == "json" else enforcement_table(report, effective))
    if args.command == "enforce" and not settings.writes_enabled:
        print("GOVERNANCE_MODE=audit: nothing was written (unset it, or set enforce, to remediate)", file=sys.stderr)
    elif args.command == "enforce" and args.dry_run:
        print("--dry-run: nothing was written", file=sys.stderr)
    summary = report.summary()
    non_compliant = summary["non_compliant_after"] + summary["registry_non_compliant"]
    if getattr(args, "fail_on_violation", False) and non_compliant:
        return EXIT_VIOLATIONS
    return 0
