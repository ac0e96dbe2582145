"""`ecr-governance scanners`: which principals pull like a scanner, and whether they are pull-time update exclusions.

It writes nothing. It reads CloudTrail's BatchGetImage events of the last --hours (LookupEvents, at most
--max-events of them, paced at two requests a second), ECR's pull-time update exclusions and SCANNER_ROLE_ARNS from
the environment. A principal that pulled at least --min-repositories repositories and at least --min-share of the
repositories pulled in the window is scanner-like; scanner-like or named, and not excluded, it is NOT_EXCLUDED, and
the output gives the command that registers it and the SCANNER_ROLE_ARNS value that keeps it registered. Exit 0; 3
with --fail-on-violation when a principal is NOT_EXCLUDED; 1 when CloudTrail or the exclusions cannot be read.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from ecr_governance.aws.cloudtrail import CloudTrailEvents
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.enforce.pull_audit import (
    DEFAULT_MIN_REPOSITORIES,
    DEFAULT_MIN_SHARE,
    PullerAudit,
    PullSample,
    Thresholds,
    investigate,
)
from ecr_governance.enforce.registry_settings import RegistrySettings
from ecr_governance.images import iso8601
from ecr_governance.text import plain

from ecr_governance_cli.exits import Exit
from ecr_governance_cli.fleet import TargetResult, alone
from ecr_governance_cli.output import add_output_options, table
from ecr_governance_cli.parsing import whole_number
from ecr_governance_cli.target import AwsTarget

DEFAULT_HOURS = 24
MAX_HOURS = 2160  # LookupEvents reads the last 90 days
DEFAULT_MAX_EVENTS = 5000
ARN_LIMIT = 2048  # IAM's longest ARN
REGISTER_COMMAND = "aws ecr register-pull-time-update-exclusion --principal-arn {}"


def _share(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        value = None
    if value is None or not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share above 0 and at most 1 (e.g. 0.5)")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    help_text = "principals that pull like a scanner, and whether their pulls count as use (read-only)"
    command = subparsers.add_parser(
        "scanners", help=help_text, description=f"{help_text[0].upper()}{help_text[1:]}. {__doc__.split('.', 1)[1]}"
    )
    command.add_argument(
        "--hours",
        type=whole_number(1, MAX_HOURS),
        default=DEFAULT_HOURS,
        metavar="N",
        help=f"the window: the last N hours of CloudTrail's event history (1..{MAX_HOURS}, default {DEFAULT_HOURS})",
    )
    command.add_argument(
        "--max-events",
        type=whole_number(1, None),
        default=DEFAULT_MAX_EVENTS,
        metavar="N",
        help=f"read at most N pull events, newest first (default {DEFAULT_MAX_EVENTS}; the output says when capped)",
    )
    command.add_argument(
        "--min-repositories",
        type=whole_number(1, None),
        default=DEFAULT_MIN_REPOSITORIES,
        metavar="N",
        help=f"scanner-like: pulled at least N repositories (default {DEFAULT_MIN_REPOSITORIES})",
    )
    command.add_argument(
        "--min-share",
        type=_share,
        default=DEFAULT_MIN_SHARE,
        metavar="F",
        help=f"... and at least this share of the repositories pulled (default {float(DEFAULT_MIN_SHARE)})",
    )
    add_output_options(command, "one row per principal that pulled, its verdict, and how to register the missing")
    command.add_argument(
        "--fail-on-violation",
        action="store_true",
        help=f"exit {Exit.VIOLATIONS} when a scanner-like or named principal is not excluded (for CI gates)",
    )
    command.set_defaults(func=run)


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    named = RegistrySettings.from_environ(os.environ).scanner_role_arns
    exclusions = EcrRegistry(target.client("ecr")).pull_time_update_exclusions()
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=args.hours)
    thresholds = Thresholds(args.min_repositories, args.min_share)
    source = CloudTrailEvents(target.client("cloudtrail"))
    sample, audit = investigate(
        source, since, args.max_events, exclusions=exclusions, named=named, thresholds=thresholds
    )
    document = scanners_document(audit, sample, since, args.max_events)
    code = Exit.VIOLATIONS if args.fail_on_violation and audit.not_excluded else Exit.OK
    return alone(args, TargetResult(document, lambda: scanners_table(document), code))


# ---- rendering --------------------------------------------------------------------------------------------------
def scanners_document(audit: PullerAudit, sample: PullSample, since: datetime, max_events: int) -> dict[str, Any]:
    """The investigation as JSON; ARNs and service names are outside text, made one bounded line (plain)."""
    to_register = [plain(arn, ARN_LIMIT) for arn in audit.to_register]
    return {
        "startTime": iso8601(since),
        "sample": {
            "eventsRead": sample.events_read,
            "maxEvents": max_events,
            "capped": sample.capped,
            "undecodableEvents": sample.undecodable,
            "skippedEvents": audit.skipped,
        },
        "thresholds": {
            "minRepositories": audit.thresholds.min_repositories,
            "minShare": float(audit.thresholds.min_share),
        },
        "repositoriesPulled": audit.repositories_pulled,
        "principals": [
            {
                "principalArn": plain(row.principal_arn, ARN_LIMIT),
                "identityType": plain(row.identity_type, 64),
                "repositories": row.repositories,
                "images": row.images,
                "pulls": row.pulls,
                "excluded": row.excluded,
                "named": row.named,
                "scannerLike": row.scanner_like,
                "verdict": str(row.verdict),
            }
            for row in audit.principals
        ],
        "servicePulls": [
            {"service": plain(row.service, 256), "repositories": row.repositories, "pulls": row.pulls}
            for row in audit.services
        ],
        "registration": {
            "commands": [REGISTER_COMMAND.format(arn) for arn in to_register],
            "scannerRoleArns": ",".join(audit.scanner_role_arns) if to_register else None,
        },
        "summary": {
            "principals": len(audit.principals),
            "notExcluded": len(audit.not_excluded),
            "unregistrable": len(audit.not_excluded) - len(to_register),
        },
    }


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def scanners_table(document: dict[str, Any]) -> str:
    sample = document["sample"]
    capped = f" - CAPPED at --max-events {sample['maxEvents']}: older pulls were not read" if sample["capped"] else ""
    lines = [
        f"Pulls since {document['startTime']}: {sample['eventsRead']} events read{capped}; "
        f"{document['repositoriesPulled']} repositories pulled",
    ]
    if sample["undecodableEvents"] or sample["skippedEvents"]:
        lines.append(
            f"Not counted: {sample['undecodableEvents']} undecodable, {sample['skippedEvents']} not a successful "
            "ECR pull with a repository and a principal"
        )
    rows = [("PRINCIPAL", "TYPE", "REPOSITORIES", "IMAGES", "PULLS", "EXCLUDED", "NAMED", "VERDICT")]
    rows += [
        (
            p["principalArn"],
            p["identityType"],
            str(p["repositories"]),
            str(p["images"]),
            str(p["pulls"]),
            _yes(p["excluded"]),
            _yes(p["named"]),
            p["verdict"],
        )
        for p in document["principals"]
    ]
    lines += ["", *(table(rows, frozenset({2, 3, 4})) if document["principals"] else ["No principal pulled."])]
    if document["servicePulls"]:
        services = [("AWS SERVICE (not a candidate)", "REPOSITORIES", "PULLS")]
        services += [(s["service"], str(s["repositories"]), str(s["pulls"])) for s in document["servicePulls"]]
        lines += ["", *table(services, frozenset({1, 2}))]
    lines += _registration_lines(document)
    return "\n".join(lines)


def _registration_lines(document: dict[str, Any]) -> list[str]:
    registration, summary = document["registration"], document["summary"]
    lines = []
    if registration["commands"]:
        lines += ["", "Register the NOT_EXCLUDED principals (this command writes nothing):"]
        lines += [f"  {command}" for command in registration["commands"]]
        lines += [
            "and keep them registered: ScannerRoleArns (SCANNER_ROLE_ARNS) =",
            f"  {registration['scannerRoleArns']}",
        ]
    if summary["unregistrable"]:
        lines += [
            "",
            f"{summary['unregistrable']} NOT_EXCLUDED principal(s) are not a role or user ARN: ECR cannot "
            "register them",
        ]
    return lines
