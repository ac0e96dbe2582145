"""`ecr-governance lifecycle validate|preview`: check a lifecycle policy and see its blast radius before rollout.

validate exits 0 when ECR would accept the policy (warnings are printed), 1 when it would not (errors printed) and
2 when the file cannot be read as JSON. preview evaluates the policy offline (ecr_governance.lifecycle) against an
images file, one repository, or every repository of the registry.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecr_governance.errors import InputError, RepositoryNotFound
from ecr_governance.lifecycle import (
    Decision,
    ImageDetailError,
    ImageRecord,
    LifecyclePolicy,
    ValidationReport,
    evaluate,
    image_from_detail,
    iso8601,
    parse_policy,
    preview_result,
    validate_policy,
)

if TYPE_CHECKING:
    from ecr_governance.cli import AwsTarget

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2


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
        description="Exit 0: valid (warnings printed); 1: ECR would reject it (errors printed); 2: unreadable file.",
    )
    validate.add_argument("policy", metavar="POLICY.json", help="lifecycle policy JSON")
    validate.add_argument("--output", choices=("text", "json"), default="text")
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
    source.add_argument("--repository", metavar="NAME", help="read the images of this repository from ECR")
    source.add_argument("--all-repositories", action="store_true", help="every repository of the registry")
    preview.add_argument("--now", metavar="ISO-8601", help="evaluate as of this time (default: now)")
    preview.add_argument("--output", choices=("table", "json"), default="table")
    preview.set_defaults(func=_run_preview)


# ---- validate -------------------------------------------------------------------------------------------------


def _read_json(path: str, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read {what} file {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise InputError(f"{what} file {path} is not UTF-8 text") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{what} file {path} is not valid JSON: {error.msg} at line {error.lineno}") from error


def _finding_dict(finding) -> dict[str, Any]:
    return {"rulePriority": finding.rule_priority, "field": finding.field, "message": finding.message}


def _print_report(path: str, report: ValidationReport, output: str) -> None:
    if output == "json":
        document = {
            "policy": path,
            "valid": report.valid,
            "errors": [_finding_dict(f) for f in report.errors],
            "warnings": [_finding_dict(f) for f in report.warnings],
        }
        print(json.dumps(document, indent=2))
        return
    for finding in report.errors:
        print(f"error: {finding}")
    for finding in report.warnings:
        print(f"warning: {finding}")
    verdict = "valid" if report.valid else "invalid: ECR would reject it"
    print(f"{path}: {verdict} ({len(report.errors)} errors, {len(report.warnings)} warnings)")


def _run_validate(args: argparse.Namespace, target: AwsTarget) -> int:
    try:
        document = _read_json(args.policy, "policy")
    except InputError as error:
        # Not main()'s exit 1: 1 means "ECR would reject this policy"; an unreadable file is a different failure.
        print(f"ecr-governance: error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    report = validate_policy(document)
    _print_report(args.policy, report, args.output)
    return EXIT_VALID if report.valid else EXIT_INVALID


# ---- preview --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryPreview:
    repository_name: str | None
    images: tuple[ImageRecord, ...]
    decisions: tuple[Decision, ...]

    def bytes_for(self, action: str) -> int:
        return sum(d.image.size_bytes for d in self.decisions if d.action == action)

    def count_for(self, action: str) -> int:
        return sum(1 for d in self.decisions if d.action == action)


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise InputError(f"--now {text!r} is not an ISO-8601 time (e.g. 2026-01-31T00:00:00Z)") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _load_policy(path: str) -> LifecyclePolicy:
    document = _read_json(path, "policy")
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
    document = _read_json(path, "images")
    if isinstance(document, dict) and isinstance(document.get("imageDetails"), list):
        return document["imageDetails"]
    if isinstance(document, list):
        return document
    raise InputError(f'images file {path} must hold {{"imageDetails": [...]}} (describe-images output) or a list')


def _evaluate_repository(
    policy: LifecyclePolicy, name: str | None, images: Sequence[ImageRecord], now: datetime, source: str
) -> RepositoryPreview:
    try:
        decisions = evaluate(policy, images, now)
    except ImageDetailError as error:
        raise InputError(f"{source}: {error}") from error
    return RepositoryPreview(repository_name=name, images=tuple(images), decisions=tuple(decisions))


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
    from ecr_governance.registry import EcrRegistry

    registry = EcrRegistry(target.client("ecr"))
    if repository is not None:
        images = _records(registry.describe_images(repository, include_archived=True), f"repository {repository}")
        return [_evaluate_repository(policy, repository, images, now, f"repository {repository}")]
    previews = []
    for listed in sorted(registry.list_repositories(), key=lambda r: r.name):
        try:
            images = _records(registry.describe_images(listed.name, include_archived=True), f"repository {listed.name}")
        except RepositoryNotFound:
            print(f"note: repository {listed.name} was deleted during the preview; skipped", file=sys.stderr)
            continue
        previews.append(_evaluate_repository(policy, listed.name, images, now, f"repository {listed.name}"))
    return previews


def _run_preview(args: argparse.Namespace, target: AwsTarget) -> int:
    now = _parse_now(args.now)
    policy = _load_policy(args.policy)
    if args.images is not None:
        previews = _previews_from_file(policy, args.images, now)
    else:
        previews = _previews_from_registry(policy, target, args.repository, now)
    breakdown = args.all_repositories or len(previews) > 1
    if args.output == "json":
        document = registry_preview_json(previews) if breakdown else repository_preview_json(previews[0])
        print(json.dumps(document, indent=2))
    else:
        print(registry_preview_table(previews, now) if breakdown else repository_preview_table(previews[0], now))
    return 0


# ---- rendering ------------------------------------------------------------------------------------------------


def repository_preview_json(preview: RepositoryPreview) -> dict[str, Any]:
    document = preview_result(preview.decisions, preview.images)
    return {"repositoryName": preview.repository_name, **document} if preview.repository_name else document


def _totals(previews: Sequence[RepositoryPreview]) -> dict[str, int]:
    return {
        "repositoryCount": len(previews),
        "affectedRepositoryCount": sum(1 for p in previews if p.decisions),
        "evaluatedImageCount": sum(len(p.images) for p in previews),
        "expiringImageCount": sum(p.count_for("expire") for p in previews),
        "expiringBytes": sum(p.bytes_for("expire") for p in previews),
        "transitioningImageCount": sum(p.count_for("transition") for p in previews),
        "transitioningBytes": sum(p.bytes_for("transition") for p in previews),
    }


def registry_preview_json(previews: Sequence[RepositoryPreview]) -> dict[str, Any]:
    repositories = []
    for preview in previews:
        counts = _totals([preview])
        del counts["repositoryCount"], counts["affectedRepositoryCount"]
        repositories.append(
            {
                "repositoryName": preview.repository_name,
                **counts,
                "previewResults": preview_result(preview.decisions, preview.images)["previewResults"],
            }
        )
    return {"repositories": repositories, "totals": _totals(previews)}


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _table(rows: list[tuple[str, ...]], right_aligned: frozenset[int] = frozenset()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: tuple[str, ...]) -> str:
        cells = (
            cell.rjust(w) if i in right_aligned else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    return [line(rows[0]), "  ".join("-" * w for w in widths), *(line(row) for row in rows[1:])]


def _action_text(decision: Decision) -> str:
    return f"transition to {decision.target_storage_class}" if decision.action == "transition" else decision.action


def repository_preview_table(preview: RepositoryPreview, now: datetime) -> str:
    title = f"repository {preview.repository_name}" if preview.repository_name else "images"
    lines = [f"Lifecycle preview of {title} as of {iso8601(now)}"]
    if preview.decisions:
        rows = [("IMAGE", "TAGS", "PUSHED", "SIZE", "ACTION", "RULE")]
        for decision in preview.decisions:
            rows.append(
                (
                    decision.image.digest[:19],
                    ",".join(decision.image.tags) or "<untagged>",
                    iso8601(decision.image.pushed_at),
                    human_bytes(decision.image.size_bytes),
                    _action_text(decision),
                    str(decision.rule_priority),
                )
            )
        lines.extend(_table(rows, right_aligned=frozenset({3, 5})))
    kept = len(preview.images) - len(preview.decisions)
    expiring = f"{preview.count_for('expire')} expire ({human_bytes(preview.bytes_for('expire'))})"
    transitioning = (
        f"{preview.count_for('transition')} transition to archive ({human_bytes(preview.bytes_for('transition'))})"
    )
    lines.append(f"{len(preview.images)} images: {expiring}, {transitioning}, {kept} kept")
    return "\n".join(lines)


def registry_preview_table(previews: Sequence[RepositoryPreview], now: datetime) -> str:
    rows = [("REPOSITORY", "IMAGES", "EXPIRE", "EXPIRE SIZE", "TRANSITION", "TRANSITION SIZE")]
    for preview in previews:
        rows.append(
            (
                preview.repository_name or "<unnamed>",
                str(len(preview.images)),
                str(preview.count_for("expire")),
                human_bytes(preview.bytes_for("expire")),
                str(preview.count_for("transition")),
                human_bytes(preview.bytes_for("transition")),
            )
        )
    totals = _totals(previews)
    rows.append(
        (
            "TOTAL",
            str(totals["evaluatedImageCount"]),
            str(totals["expiringImageCount"]),
            human_bytes(totals["expiringBytes"]),
            str(totals["transitioningImageCount"]),
            human_bytes(totals["transitioningBytes"]),
        )
    )
    lines = [f"Lifecycle preview of {len(previews)} repositories as of {iso8601(now)}"]
    lines.extend(_table(rows, right_aligned=frozenset({1, 2, 3, 4, 5})))
    lines.append(f"{totals['affectedRepositoryCount']} of {len(previews)} repositories affected")
    return "\n".join(lines)
