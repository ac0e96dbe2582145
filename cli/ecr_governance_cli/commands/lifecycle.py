"""`ecr-governance lifecycle validate|preview`: check a lifecycle policy and see its blast radius before rollout.

validate exits 0 when ECR would accept the policy (warnings are printed), 3 when it would not (errors printed: the
violations a check finds) and 2 when the file cannot be read as JSON. preview evaluates the policy offline
(ecr_governance.lifecycle) against an images file, one repository, or every repository of the registry; from a
registry it also reads the manifests of image indexes (their children stay while the index stays) and of untagged
images (referrers go with their subject).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.errors import InputError, RepositoryNotFound
from ecr_governance.images import ImageDetailError, ImageRecord, image_from_detail, parse_timestamp
from ecr_governance.lifecycle.policy import LifecyclePolicy, parse_policy
from ecr_governance.lifecycle.preview import RepositoryPreview, preview_repository, read_repository_images
from ecr_governance.lifecycle.validate import ValidationReport, validate_policy

from ecr_governance_cli.exits import Exit
from ecr_governance_cli.inputs import IMAGES_FILE_LIMIT, POLICY_FILE_LIMIT, read_json_file
from ecr_governance_cli.output import add_output_options, emit
from ecr_governance_cli.parsing import repository_name
from ecr_governance_cli.render import (
    plural,
    registry_preview_json,
    registry_preview_table,
    repository_preview_json,
    repository_preview_table,
)
from ecr_governance_cli.target import AwsTarget


def register(subparsers: argparse._SubParsersAction) -> None:
    lifecycle = subparsers.add_parser(
        "lifecycle",
        help="validate a lifecycle policy and preview what it would expire, offline",
        description="Validate an ECR lifecycle policy and preview what it would expire or archive, offline.",
    )
    actions = lifecycle.add_subparsers(dest="lifecycle_command", required=True, metavar="ACTION")

    validate = actions.add_parser(
        "validate",
        help="check a policy against ECR's acceptance rules and flag likely mistakes",
        description="Exit 0: valid (warnings printed); 3: ECR would reject it (errors printed); 2: unreadable file.",
    )
    validate.add_argument("policy", metavar="POLICY.json", help="lifecycle policy JSON")
    add_output_options(validate, "one line per error and warning, then the verdict")
    validate.set_defaults(func=_run_validate)

    preview = actions.add_parser(
        "preview",
        help="show which images a policy would expire or archive (like GetLifecyclePolicyPreview, offline)",
        description=(
            "Evaluate a lifecycle policy offline with ECR's semantics. IMAGES.json is what `aws ecr describe-images "
            "--output json` prints, or a bare list of image details; times are ISO-8601 or epoch seconds. An index "
            "detail may list the manifests it references in childImageDigests."
        ),
    )
    preview.add_argument("--policy", required=True, metavar="POLICY.json", help="lifecycle policy JSON")
    source = preview.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", metavar="IMAGES.json", help="image details from a file")
    source.add_argument(
        "--repository", type=repository_name, metavar="NAME", help="read the images of this repository from ECR"
    )
    source.add_argument("--all-repositories", action="store_true", help="every repository of the registry")
    preview.add_argument(
        "--now", metavar="TIME", help="evaluate as of this time: ISO-8601 or epoch seconds (default: now)"
    )
    add_output_options(
        preview,
        "each image the policy acts on (per repository with --all-repositories); json is shaped like "
        "GetLifecyclePolicyPreview (with --all-repositories: repositories + totals)",
    )
    preview.set_defaults(func=_run_preview)


# ---- validate -------------------------------------------------------------------------------------------------


def _finding_dict(finding) -> dict[str, Any]:
    return {"rulePriority": finding.rule_priority, "field": finding.field, "message": finding.message}


def _report_document(path: str, report: ValidationReport) -> dict[str, Any]:
    return {
        "policy": path,
        "valid": report.valid,
        "errors": [_finding_dict(f) for f in report.errors],
        "warnings": [_finding_dict(f) for f in report.warnings],
    }


def _report_table(path: str, report: ValidationReport) -> str:
    lines = [f"error: {finding}" for finding in report.errors]
    lines += [f"warning: {finding}" for finding in report.warnings]
    verdict = "valid" if report.valid else "invalid: ECR would reject it"
    lines.append(
        f"{path}: {verdict} ({plural(len(report.errors), 'error')}, {plural(len(report.warnings), 'warning')})"
    )
    return "\n".join(lines)


def _run_validate(args: argparse.Namespace, target: AwsTarget) -> int:
    report = validate_policy(read_json_file(args.policy, "policy file", POLICY_FILE_LIMIT))
    emit(args, _report_document(args.policy, report), lambda: _report_table(args.policy, report))
    return Exit.OK if report.valid else Exit.VIOLATIONS


# ---- preview --------------------------------------------------------------------------------------------------


def parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        return parse_timestamp(text, "--now")
    except ImageDetailError as error:
        raise InputError(f"{error} (e.g. 2026-01-31T00:00:00Z or 1769817600)") from error


def _load_policy(path: str) -> LifecyclePolicy:
    document = read_json_file(path, "policy file", POLICY_FILE_LIMIT)
    report = validate_policy(document)
    for finding in report.warnings:
        print(f"warning: {finding}", file=sys.stderr)
    if not report.valid:
        for finding in report.errors[1:]:
            print(f"error: {finding}", file=sys.stderr)
        raise InputError(f"policy {path} would be rejected by ECR: {report.errors[0]}")
    return parse_policy(document)


def _records(details: Iterable[Any], source: str) -> list[ImageRecord]:
    records = []
    for index, detail in enumerate(details):
        try:
            records.append(image_from_detail(detail))
        except ImageDetailError as error:
            raise InputError(f"{source}: image detail #{index + 1}: {error}") from error
    return records


def _image_details_from_file(path: str) -> list[Any]:
    document = read_json_file(path, "images file", IMAGES_FILE_LIMIT)
    if isinstance(document, dict) and isinstance(document.get("imageDetails"), list):
        return document["imageDetails"]
    if isinstance(document, list):
        return document
    raise InputError(f'images file {path} must hold {{"imageDetails": [...]}} (describe-images output) or a list')


def _evaluate_repository(
    policy: LifecyclePolicy, name: str | None, images: Sequence[ImageRecord], now: datetime, source: str
) -> RepositoryPreview:
    try:
        return preview_repository(policy, name, images, now)
    except ImageDetailError as error:
        raise InputError(f"{source}: {error}") from error


def _previews_from_file(policy: LifecyclePolicy, path: str, now: datetime) -> list[RepositoryPreview]:
    """One preview per repositoryName in the file: a policy applies per repository, and digests repeat across them."""
    images_by_repository: dict[str | None, list[ImageRecord]] = {}
    for record in _records(_image_details_from_file(path), path):
        images_by_repository.setdefault(record.repository_name, []).append(record)
    if not images_by_repository:
        images_by_repository[None] = []
    return [
        _evaluate_repository(policy, name, images, now, path)
        for name, images in sorted(images_by_repository.items(), key=lambda item: item[0] or "")
    ]


def _previews_from_registry(
    policy: LifecyclePolicy, target: AwsTarget, repository: str | None, now: datetime
) -> list[RepositoryPreview]:
    registry = EcrRegistry(target.client("ecr"))
    if repository is not None:
        images = read_repository_images(registry, repository)
        return [_evaluate_repository(policy, repository, images, now, f"repository {repository}")]
    previews = []
    for listed in sorted(registry.list_repositories(), key=lambda r: r.name):
        try:
            images = read_repository_images(registry, listed.name)
        except RepositoryNotFound:
            print(f"note: repository {listed.name} was deleted during the preview; skipped", file=sys.stderr)
            continue
        previews.append(_evaluate_repository(policy, listed.name, images, now, f"repository {listed.name}"))
    return previews


def _run_preview(args: argparse.Namespace, target: AwsTarget) -> int:
    now = parse_now(args.now)
    policy = _load_policy(args.policy)
    if args.images is not None:
        previews = _previews_from_file(policy, args.images, now)
    else:
        previews = _previews_from_registry(policy, target, args.repository, now)
    if args.all_repositories or len(previews) > 1:
        emit(args, registry_preview_json(previews), lambda: registry_preview_table(previews, now))
    else:
        emit(args, repository_preview_json(previews[0]), lambda: repository_preview_table(previews[0], now))
    return Exit.OK
