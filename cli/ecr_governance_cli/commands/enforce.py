"""`ecr-governance audit|enforce`: the enforcement capability from the command line.

Exit 0 when every decision could be made; 1 when any failed (a repository that could not be read or written, a
named repository that does not exist: its ERROR row, the others still printed); 3 with --fail-on-violation when a
repository is non-compliant; 2 for a usage error such as a name ECR would refuse.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.enforce.model import Action
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings

from ecr_governance_cli.exits import Exit
from ecr_governance_cli.fleet import FleetView, Tally, TargetResult, alone
from ecr_governance_cli.local_invoke import bind_log_handlers_to
from ecr_governance_cli.output import add_output_options
from ecr_governance_cli.parsing import repository_name
from ecr_governance_cli.render import enforcement_document, enforcement_failed, enforcement_table
from ecr_governance_cli.target import AwsTarget, CommandTarget


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
        command.set_defaults(func=run, dry_run=name == "audit", fleet_view=FLEET_VIEWS[name])


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    return alone(args, one(args, target))


def one(args: argparse.Namespace, target: CommandTarget) -> TargetResult:
    """audit or enforce in one account-region: the single-account command and each row of a fleet run."""
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
    return TargetResult(
        document,
        table=lambda: enforcement_table(report, missing, effective),
        code=_exit_code(args, document),
        notes=_notes(args, settings),
    )


def _notes(args: argparse.Namespace, settings: EnforceSettings) -> tuple[str, ...]:
    if args.command == "enforce" and not settings.writes_enabled:
        return ("GOVERNANCE_MODE=audit: nothing was written (unset it, or set enforce, to remediate)",)
    if args.command == "enforce" and args.dry_run:
        return ("--dry-run: nothing was written",)
    return ()


def _exit_code(args: argparse.Namespace, document: dict[str, Any]) -> int:
    if enforcement_failed(document):
        return Exit.ERROR
    if args.fail_on_violation and _violations(document["summary"]):
        return Exit.VIOLATIONS
    return Exit.OK


def _violations(summary: dict[str, int]) -> int:
    return summary["nonCompliantAfter"] + summary["registryNonCompliant"]


def tally(document: dict[str, Any]) -> Tally:
    """A fleet row: the summary's counts; violations when a repository or a registry setting stays non-compliant."""
    summary = document["summary"]
    return Tally(dict(summary), violations=bool(_violations(summary)), failure=_first_failure(document))


def _first_failure(document: dict[str, Any]) -> str:
    for row in document["repositories"]:
        if row["error"]:
            return f"{row['repositoryName']}: {row['error']['message']}"
    for decision in document["registry"]:
        if decision["action"] == str(Action.FAILED):
            return f"registry {decision['aspect']}: {decision['detail']}"
    return ""


# A fleet row's counts: audit never remediates, so only enforce shows REMEDIATED.
AUDIT_COLUMNS = (
    ("repositories", "REPOSITORIES"),
    ("nonCompliantAfter", "NON-COMPLIANT"),
    ("registryNonCompliant", "REGISTRY NON-COMPLIANT"),
    ("wouldRemediate", "WOULD REMEDIATE"),
    ("failed", "FAILED"),
)
FLEET_VIEWS = {
    "audit": FleetView(one=one, tally=tally, columns=AUDIT_COLUMNS),
    "enforce": FleetView(
        one=one, tally=tally, columns=(*AUDIT_COLUMNS[:-1], ("remediated", "REMEDIATED"), AUDIT_COLUMNS[-1])
    ),
}
