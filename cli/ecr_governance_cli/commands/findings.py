"""`ecr-governance findings show|summary`: the scan-findings capability from the command line.

`show` prints the report the alert for one image would carry (every finding, no byte budget), with the function's
settings from the environment (ALERT_SEVERITY_THRESHOLD, ALERT_ONLY_FIXABLE, SUPPRESSIONS_PARAMETER_NAME) unless
--severity overrides the threshold. `summary` reads each repository's newest image and its latest scan's counts
by severity: one DescribeImages listing and one DescribeImageScanFindings page per repository.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.ssm import SsmSuppressions
from ecr_governance.errors import CredentialsMissing, GovernanceError, ImageNotFound, RepositoryNotFound
from ecr_governance.findings.normalize import SEVERITIES, ScannedImage, Severity
from ecr_governance.findings.policy import ScanPosture
from ecr_governance.findings.service import LoggedAlerts, ScanFindingsAlerter
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.images import iso8601

from ecr_governance_cli.exits import Exit
from ecr_governance_cli.local_invoke import bind_log_handlers_to
from ecr_governance_cli.output import add_output_options, emit
from ecr_governance_cli.parsing import image_digest, image_tag, repository_name
from ecr_governance_cli.render import (
    findings_report,
    findings_report_document,
    findings_summary_json,
    findings_summary_table,
)
from ecr_governance_cli.target import AwsTarget

PROGRESS_FROM = 10  # repositories: below this, a summary is quick enough to need no progress lines


def register(subparsers: argparse._SubParsersAction) -> None:
    findings = subparsers.add_parser(
        "findings",
        help="scan findings: the report an image's alert carries, the registry's posture",
        description="Scan findings as the alerting function reads them (basic and enhanced scanning).",
    )
    actions = findings.add_subparsers(dest="findings_command", required=True, metavar="ACTION")
    severities = [str(severity) for severity in SEVERITIES]

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
    show.add_argument("--severity", choices=severities, help="threshold (default: ALERT_SEVERITY_THRESHOLD or HIGH)")
    add_output_options(show, "the alert's text")
    show.set_defaults(func=run_show)

    summary = actions.add_parser(
        "summary",
        help="each repository's newest image: its latest scan's counts by severity",
        description="Counts by severity of each repository's newest image (the posture table); progress on stderr.",
    )
    summary.add_argument(
        "--repository",
        action="append",
        type=repository_name,
        metavar="NAME",
        help="only this repository (repeatable; default: all)",
    )
    summary.add_argument("--severity", choices=severities, help="lowest severity shown (default: the threshold)")
    add_output_options(summary, "one row per repository")
    summary.set_defaults(func=run_summary)


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
    # The CLI publishes nothing: LoggedAlerts only satisfies the alerter, report() never publishes.
    alerter = ScanFindingsAlerter(registry, LoggedAlerts(), settings, suppressions)
    image = registry.scanned_image(args.repository, digest=args.digest, tag=args.tag)
    report = alerter.report(image)
    emit(args, findings_report_document(report), lambda: findings_report(report, "table"))
    return Exit.OK


def _posture(registry: EcrRegistry, repository_name: str) -> ScanPosture:
    images = list(registry.describe_images(repository_name))
    if not images:
        return ScanPosture(repository_name, None, scan_status="NO_IMAGES")
    newest = max(images, key=lambda image: (image.pushed_at, image.digest))
    image = ScannedImage(repository_name, newest.digest, newest.tags)
    pushed_at = iso8601(newest.pushed_at)
    try:
        scan = registry.image_scan(repository_name, newest.digest, page_size=1)  # the counts come with any page
    except ImageNotFound:
        return ScanPosture(repository_name, image, pushed_at, "NOT_SCANNED")
    return ScanPosture(repository_name, image, pushed_at, scan.status, scan.severity_counts)


def run_summary(args: argparse.Namespace, target: AwsTarget) -> int:
    threshold = _settings(args).severity_threshold
    registry = EcrRegistry(target.client("ecr"))
    names = list(dict.fromkeys(args.repository)) if args.repository else [r.name for r in registry.list_repositories()]
    postures: list[ScanPosture] = []
    for number, name in enumerate(names, start=1):
        try:
            postures.append(_posture(registry, name))
        except RepositoryNotFound as error:
            if args.repository:  # a name the user typed must exist: its ERROR row
                postures.append(ScanPosture(name, None, scan_status="ERROR", detail=str(error)))
            continue  # else deleted while the registry was walked
        except CredentialsMissing:
            raise
        except GovernanceError as error:  # one repository's failure is its row, not the end of the summary
            postures.append(ScanPosture(name, None, scan_status="ERROR", detail=str(error)))
        if len(names) >= PROGRESS_FROM and (number % PROGRESS_FROM == 0 or number == len(names)):
            print(f"read {number}/{len(names)} repositories", file=sys.stderr)
    emit(args, findings_summary_json(postures, threshold), lambda: findings_summary_table(postures, threshold))
    return Exit.ERROR if any(posture.scan_status == "ERROR" for posture in postures) else Exit.OK
