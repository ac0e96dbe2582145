"""Basic-scan findings kept in step in Security Hub (optional): after the alert, never before it, and never failing
it. The alerted findings are imported (ASFF, asff.py); the ones this function imported earlier for the image that a
rescan no longer reports - or all of them, once the image is deleted - are archived. A refused or failed import is
logged and counted (the handler's SecurityHubImportFailures metric, alarmed on the operations topic)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import GovernanceError
from ecr_governance.findings.asff import GENERATOR_PREFIX, archived, product_arn, security_hub_findings
from ecr_governance.findings.normalize import ScannedImage
from ecr_governance.findings.ocsf import image_resource_uid
from ecr_governance.findings.policy import FindingsReport
from ecr_governance.findings.ports import FindingsImporter
from ecr_governance.images import iso8601

logger = Logger(service=SERVICE_NAME, child=True)


@dataclass(frozen=True)
class ImportResult:
    imported: int = 0
    archived: int = 0
    failed: int = 0  # findings not imported or not archived, whatever the reason


class SecurityHubSync:
    def __init__(self, importer: FindingsImporter, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._importer = importer
        self._clock = clock

    def sync(self, report: FindingsReport) -> ImportResult:
        """Import the report's alerted findings; archive the image's earlier ones it no longer reports."""
        documents = security_hub_findings(report)
        failed = self._import(documents, "import")
        current = {document["Id"] for document in documents}
        archived_count, archive_failed = self._archive(report.image, keep=current)
        return ImportResult(len(documents) - failed, archived_count, failed + archive_failed)

    def archive_image(self, image: ScannedImage) -> ImportResult:
        """Archive every finding imported for an image that is gone."""
        archived_count, failed = self._archive(image, keep=set())
        return ImportResult(archived=archived_count, failed=failed)

    def _archive(self, image: ScannedImage, keep: set[str]) -> tuple[int, int]:
        product, resource = product_arn(image), image_resource_uid(image)
        try:
            active = self._importer.active_findings(product, resource, GENERATOR_PREFIX)
        except GovernanceError as error:
            logger.error("Security Hub findings not read: none archived", extra={"reason": str(error)})
            return 0, 1
        # Checked again before acting: only this image's ACTIVE findings that this function imported are archived,
        # whatever a filter let through (the emulator ignores GetFindings' filters).
        stale = [
            finding for finding in active if finding.get("Id") not in keep and _imported_for(finding, product, resource)
        ]
        if not stale:
            return 0, 0
        failed = self._import(archived(stale, iso8601(self._clock())), "archive")
        return len(stale) - failed, failed

    def _import(self, documents: list[dict[str, Any]], action: str) -> int:
        """How many of `documents` did not get in; each failure is an ERROR line."""
        if not documents:
            return 0
        try:
            refused = self._importer.import_findings(documents)
        except GovernanceError as error:  # Security Hub off in the region, no permission, ...: the alert went out
            logger.error(
                "Security Hub import failed: the alert was sent without it",
                extra={"action": action, "findings": len(documents), "reason": str(error)},
            )
            return len(documents)
        _log_refused(refused, action)
        return len(refused)


def _imported_for(finding: dict[str, Any], product: str, resource: str) -> bool:
    resources = finding.get("Resources") or [{}]
    return (
        finding.get("ProductArn") == product
        and finding.get("RecordState") == "ACTIVE"
        and str(finding.get("GeneratorId", "")).startswith(GENERATOR_PREFIX)
        and resources[0].get("Id") == resource
    )


def _log_refused(refused: Iterable[Any], action: str) -> None:
    for failure in refused:
        logger.error(
            "Security Hub refused a finding",
            extra={"action": action, "finding_id": failure.finding_id, "error_code": failure.code},
        )
