"""What alerting needs from outside, as ports (typing.Protocol): the adapters in ecr_governance.aws serve them, the
tests' in-memory fakes do too (a conformance test checks both against these signatures)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.findings.asff import FailedImport
from ecr_governance.findings.normalize import ImageScan
from ecr_governance.notice import Notice

logger = Logger(service=SERVICE_NAME, child=True)


class ScanFindingsSource(Protocol):
    """What alerting needs from ECR (the ECR adapter serves it; tests use an in-memory fake)."""

    def image_scan(self, repository_name: str, image_digest: str) -> ImageScan:
        """The image's latest scan; its findings are read page by page, every page. Raises ImageNotFound or
        RepositoryNotFound when the image or its repository is gone, ScanNotFound when it has no scan."""
        ...


class ImageExistence(Protocol):
    def image_exists(self, repository_name: str, image_digest: str) -> bool:
        """Whether the image is still in the repository (any status); False when it or its repository is gone."""
        ...


class SuppressionsSource(Protocol):
    def suppressions_document(self) -> str:
        """The suppressions document (JSON text); raises a GovernanceError when it cannot be read."""
        ...


class FindingsImporter(Protocol):
    def import_findings(self, findings: Sequence[Mapping[str, Any]]) -> list[FailedImport]:
        """Import ASFF findings (Security Hub); returns the ones refused."""
        ...

    def active_findings(self, product_arn: str, resource_id: str, generator_prefix: str) -> list[dict[str, Any]]:
        """The ACTIVE findings this product imported for the resource, whose generator has the prefix."""
        ...


class LoggedAlerts:
    """The publisher of a run without an alerts topic (a local invoke): logs the alert that would have been sent."""

    def publish(self, notice: Notice) -> None:
        logger.info(
            "alert not sent: no alerts topic configured (ALERTS_TOPIC_ARN); it would read",
            extra={"subject": notice.subject, "text": notice.text},
        )
