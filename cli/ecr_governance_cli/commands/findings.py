"""`ecr-governance findings show|summary|redrive`: the findings capability from the command line.

`show` prints the report the alert for one image would carry (every finding, no byte budget), with the function's
settings from the environment (ALERT_SEVERITY_THRESHOLD, ALERT_ONLY_FIXABLE, SUPPRESSIONS_PARAMETER_NAME) unless
--severity overrides the threshold. `summary` reads every tagged image of each repository and its latest scan's
counts by severity: one DescribeImages listing per repository and one DescribeImageScanFindings page per tagged image
(a signature or attestation pushed after an image must not hide that image's findings). `redrive` sends the events
of a failures queue back through alerting: a dry run that lists them unless --apply.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace
from typing import Any

from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.failures_queue import FailuresQueue
from ecr_governance.aws.lambda_invoke import LambdaInvoker
from ecr_governance.aws.ssm import SsmSuppressions
from ecr_governance.errors import (
    CredentialsMissing,
    GovernanceError,
    ImageNotFound,
    InputError,
    RepositoryNotFound,
    ScanNotFound,
)
from ecr_governance.findings.normalize import SEVERITIES, ScannedImage, Severity
from ecr_governance.findings.policy import ScanPosture
from ecr_governance.findings.reader import FindingsReader, RulesReader
from ecr_governance.findings.redrive import Redriver
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.images import iso8601

from ecr_governance_cli.exits import Exit
from ecr_governance_cli.fleet import FleetView, Tally, TargetResult, alone
from ecr_governance_cli.local_invoke import bind_log_handlers_to
from ecr_governance_cli.output import add_output_options, emit
from ecr_governance_cli.parsing import image_digest, image_tag, repository_name
from ecr_governance_cli.render import (
    findings_report,
    findings_report_document,
    findings_summary_json,
    findings_summary_table,
    redrive_document,
    redrive_table,
)
from ecr_governance_cli.target import AwsTarget, CommandTarget

PROGRESS_FROM = 10  # repositories: below this, a summary is quick enough to need no progress lines
REDRIVE_LIMIT = 100


def register(subparsers: argparse._SubParsersAction) -> None:
    findings = subparsers.add_parser(
        "findings",
        help="scan findings: the report an image's alert carries, the registry's posture, redriving failures",
        description="Scan findings as the alerting functions read them (basic and enhanced scanning).",
    )
    actions = findings.add_subparsers(dest="findings_command", required=True, metavar="ACTION")
    _register_show(actions)
    _register_summary(actions)
    _register_redrive(actions)


SEVERITY_CHOICES = [str(severity) for severity in SEVERITIES]


def _register_show(actions: argparse._SubParsersAction) -> None:
    show = actions.add_parser(
        "show",
        help="the report the alert for one image would carry",
        description="Every finding of the image's latest scan at or above the threshold, after suppressions.",
    )
    show.add_argument(
        "--repository", required=True, type=repository_name, metavar="NAME", help="the image's repository"
    )
    image = show.add_mutually_exclusive_group(required=True)
    image.add_argument("--tag", type=image_tag, metavar="TAG", help="the image, by one of its tags")
    image.add_argument("--digest", type=image_digest, metavar="DIGEST", help="the image, by its digest (sha256:...)")
    show.add_argument(
        "--severity", choices=SEVERITY_CHOICES, help="threshold (default: ALERT_SEVERITY_THRESHOLD or HIGH)"
    )
    add_output_options(show, "the alert's text (json: its OCSF document)")
    show.set_defaults(func=run_show)


def _register_summary(actions: argparse._SubParsersAction) -> None:
    summary = actions.add_parser(
        "summary",
        help="every tagged image: its latest scan's counts by severity",
        description="Counts by severity of every tagged image, by repository (the posture table); progress on stderr.",
    )
    summary.add_argument(
        "--repository",
        action="append",
        type=repository_name,
        metavar="NAME",
        help="only this repository (repeatable; default: all)",
    )
    summary.add_argument("--severity", choices=SEVERITY_CHOICES, help="lowest severity shown (default: the threshold)")
    add_output_options(summary, "one row per tagged image")
    summary.set_defaults(func=run_summary, progress=True, fleet_view=SUMMARY_VIEW)


def _register_redrive(actions: argparse._SubParsersAction) -> None:
    redrive = actions.add_parser(
        "redrive",
        help="send a failures queue's events back through alerting (a dry run unless --apply)",
        description=(
            "Lists the events of ScanFindingsFailures (Lambda failure records: replayed by invoking the function) "
            "or of InspectorFindingsDeadLetterQueue (finding events: sent to --to-queue-url); --apply replays each "
            "and deletes it once the replay is accepted; what is not redriven stays in the queue."
        ),
    )
    redrive.add_argument("--queue-url", required=True, metavar="URL", help="the failures or dead-letter queue")
    redrive.add_argument(
        "--to-queue-url", metavar="URL", help="where Inspector finding events go back to (InspectorFindingsQueueUrl)"
    )
    redrive.add_argument("--apply", action="store_true", help="replay and delete (default: list only)")
    redrive.add_argument("--max", type=int, default=REDRIVE_LIMIT, metavar="N", help="at most N messages (100)")
    add_output_options(redrive, "one row per message")
    redrive.set_defaults(func=run_redrive)


def _settings(args: argparse.Namespace) -> FindingsSettings:
    settings = FindingsSettings.from_environ()
    return replace(settings, severity_threshold=Severity(args.severity)) if args.severity else settings


def run_show(args: argparse.Namespace, target: AwsTarget) -> int:
    settings = _settings(args)
    bind_log_handlers_to(sys.stderr)  # library log lines never mix into the report
    registry = EcrRegistry(target.client("ecr"))
    suppressions = (
        SsmSuppressions(target.client("ssm"), settings.suppressions_parameter_name, max_age_seconds=0)
        if settings.suppressions_parameter_name
        else None
    )
    reader = FindingsReader(registry, RulesReader(settings, suppressions))
    image = registry.scanned_image(args.repository, digest=args.digest, tag=args.tag)
    report = reader.report(image)
    emit(args, findings_report_document(report), lambda: findings_report(report, "table"))
    return Exit.OK


def _postures(registry: EcrRegistry, repository_name: str) -> list[ScanPosture]:
    """A row per tagged image, newest first; a repository without one is a row saying so."""
    images = list(registry.describe_images(repository_name))
    tagged = sorted((image for image in images if image.tags), key=lambda i: (i.pushed_at, i.digest), reverse=True)
    if not tagged:
        return [ScanPosture(repository_name, None, scan_status="NO_TAGGED_IMAGES" if images else "NO_IMAGES")]
    postures = []
    for record in tagged:
        image = ScannedImage(repository_name, record.digest, record.tags)
        pushed_at = iso8601(record.pushed_at)
        try:
            scan = registry.image_scan(repository_name, record.digest, page_size=1)  # the counts come with any page
        except ScanNotFound:
            postures.append(ScanPosture(repository_name, image, pushed_at, "NOT_SCANNED"))
            continue
        except ImageNotFound:
            continue  # deleted since the listing
        postures.append(ScanPosture(repository_name, image, pushed_at, scan.status, scan.severity_counts))
    return postures


def run_summary(args: argparse.Namespace, target: AwsTarget) -> int:
    return alone(args, summary_one(args, target))


def summary_one(args: argparse.Namespace, target: CommandTarget) -> TargetResult:
    """The posture of one account-region: the single-account command and each row of a fleet run (which shows no
    progress lines)."""
    threshold = _settings(args).severity_threshold
    registry = EcrRegistry(target.client("ecr"))
    names = list(dict.fromkeys(args.repository)) if args.repository else [r.name for r in registry.list_repositories()]
    postures: list[ScanPosture] = []
    for number, name in enumerate(names, start=1):
        try:
            postures.extend(_postures(registry, name))
        except RepositoryNotFound as error:
            if args.repository:  # a name the user typed must exist: its ERROR row
                postures.append(ScanPosture(name, None, scan_status="ERROR", detail=str(error)))
            continue  # else deleted while the registry was walked
        except CredentialsMissing:
            raise
        except GovernanceError as error:  # one repository's failure is its row, not the end of the summary
            postures.append(ScanPosture(name, None, scan_status="ERROR", detail=str(error)))
        if args.progress and len(names) >= PROGRESS_FROM and (number % PROGRESS_FROM == 0 or number == len(names)):
            print(f"read {number}/{len(names)} repositories", file=sys.stderr)
    failed = any(posture.scan_status == "ERROR" for posture in postures)
    return TargetResult(
        findings_summary_json(postures, threshold),
        lambda: findings_summary_table(postures, threshold),
        Exit.ERROR if failed else Exit.OK,
    )


SUMMARY_COLUMNS = (
    ("repositories", "REPOSITORIES"),
    ("images", "IMAGES"),
    ("imagesAtOrAboveThreshold", "IMAGES >= THRESHOLD"),
    ("critical", "CRITICAL"),
    ("high", "HIGH"),
    ("notScanned", "NOT SCANNED"),
    ("errors", "ERRORS"),
)


def summary_tally(document: dict[str, Any]) -> Tally:
    """A fleet row, as the single-account summary's last line counts: repositories, tagged images, those with
    findings at or above the threshold (violations) and those findings, the findings by severity, images not scanned,
    and repositories that could not be read."""
    rows = document["repositories"]
    severities = Counter({str(severity).lower(): 0 for severity in SEVERITIES})
    for row in rows:
        severities.update({key.lower(): value for key, value in (row["findingSeverityCounts"] or {}).items()})
    errors = [row for row in rows if row["scanStatus"] == "ERROR"]
    counts = {
        "repositories": len({row["repositoryName"] for row in rows}),
        "images": sum(1 for row in rows if row["imageDigest"]),
        "imagesAtOrAboveThreshold": sum(1 for row in rows if row["atOrAboveThreshold"]),
        "atOrAboveThreshold": sum(row["atOrAboveThreshold"] or 0 for row in rows),
        **severities,
        "notScanned": sum(1 for row in rows if row["scanStatus"] == "NOT_SCANNED"),
        "errors": len(errors),
    }
    failure = f"{errors[0]['repositoryName']}: {errors[0]['error']}" if errors else ""
    return Tally(counts, violations=bool(counts["imagesAtOrAboveThreshold"]), failure=failure)


SUMMARY_VIEW = FleetView(one=summary_one, tally=summary_tally, columns=SUMMARY_COLUMNS)


def run_redrive(args: argparse.Namespace, target: AwsTarget) -> int:
    if not 1 <= args.max <= 10_000:
        raise InputError(f"--max {args.max}: expected 1 to 10000 messages")
    source = FailuresQueue(target.client("sqs"), args.queue_url)
    sender = FailuresQueue(target.client("sqs"), args.to_queue_url) if args.to_queue_url else None
    report = Redriver(source, LambdaInvoker(target.client("lambda")), sender).run(args.apply, args.max)
    emit(args, redrive_document(report), lambda: redrive_table(report))
    return Exit.ERROR if report.failed else Exit.OK
