"""Scan findings to one alert: read every finding of the scanned image, decide (policy.py), publish one Notice.

`ScanFindingsAlerter.report` reads and decides (the CLI prints it); `alert` adds what a scan event needs: nothing
to read when the event says the scan found nothing, a logged no-op when the image is gone, the optional Security
Hub import (basic scanning only) and the publication. A failed publication raises: the invocation is retried and,
failing that, lands in the function's failure queue - an alert is never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import GovernanceError, ImageNotFound, RepositoryNotFound
from ecr_governance.findings.asff import FailedImport, security_hub_findings
from ecr_governance.findings.events import ScanEvent, ScanKind
from ecr_governance.findings.normalize import READABLE_SCAN_STATUSES, ImageScan, ScannedImage
from ecr_governance.findings.policy import AlertDecision, FindingsReport, Suppression, decide, parse_suppressions
from ecr_governance.findings.render import alert_notice
from ecr_governance.findings.settings import FindingsSettings
from ecr_governance.images import iso8601
from ecr_governance.notice import Notice, NoticePublisher

logger = Logger(service=SERVICE_NAME, child=True)


class ScanFindingsSource(Protocol):
    """What alerting needs from ECR (the ECR adapter serves it; tests use an in-memory fake)."""

    def image_scan(self, repository_name: str, image_digest: str) -> ImageScan:
        """The image's latest scan; its findings are read page by page, every page. Raises ImageNotFound or
        RepositoryNotFound when the image or its repository is gone (or was never scanned)."""
        ...


class SuppressionsSource(Protocol):
    def suppressions_document(self) -> str:
        """The suppressions document (JSON text); raises a GovernanceError when it cannot be read."""
        ...


class FindingsImporter(Protocol):
    def import_findings(self, findings: Sequence[Mapping[str, Any]]) -> list[FailedImport]:
        """Import ASFF findings (Security Hub); returns the ones refused."""
        ...


class LoggedAlerts:
    """The publisher of a run without an alerts topic (a local invoke): logs the alert that would have been sent."""

    def publish(self, notice: Notice) -> None:
        logger.info(
            "alert not sent: no alerts topic configured (ALERTS_TOPIC_ARN); it would read",
            extra={"subject": notice.subject, "text": notice.text},
        )


class AlertStatus(StrEnum):
    ALERTED = "alerted"
    NOTHING_TO_ALERT = "nothing_to_alert"  # no finding at or above the threshold once suppressions applied
    IMAGE_GONE = "image_gone"  # deleted (or its repository) before its findings were read
    SCAN_NOT_READABLE = "scan_not_readable"  # DescribeImageScanFindings reports no completed scan


@dataclass(frozen=True)
class AlertOutcome:
    """What one scan event led to (JSON-serializable: Powertools Idempotency stores it for duplicate deliveries)."""

    status: AlertStatus
    repository: str
    digest: str
    findings_total: int = 0
    findings_alerted: int = 0
    findings_suppressed: int = 0
    expired_suppressions: int = 0
    highest_severity: str | None = None
    subject: str = ""
    security_hub_imported: int = 0
    security_hub_failed: int = 0
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}


def empty_decision(settings: FindingsSettings) -> AlertDecision:
    return AlertDecision(settings.severity_threshold, settings.only_fixable, alerted=(), counts={})


class ScanFindingsAlerter:
    def __init__(
        self,
        source: ScanFindingsSource,
        publisher: NoticePublisher,
        settings: FindingsSettings,
        suppressions: SuppressionsSource | None = None,
        importer: FindingsImporter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._source = source
        self._publisher = publisher
        self._settings = settings
        self._suppressions = suppressions
        self._importer = importer
        self._clock = clock

    def suppressions(self) -> tuple[Suppression, ...]:
        if self._suppressions is None:
            return ()
        source = f"suppressions parameter {self._settings.suppressions_parameter_name}"
        return parse_suppressions(self._suppressions.suppressions_document(), source)

    def report(self, image: ScannedImage, scan_kind: str = "", completed_at: str = "") -> FindingsReport:
        """Read every finding of the image's latest scan and decide; ImageNotFound / RepositoryNotFound when gone.
        The scan kind and completion time default to what DescribeImageScanFindings says (an event's are exact)."""
        scan = self._source.image_scan(image.repository_name, image.digest)
        completed = completed_at or (iso8601(scan.completed_at) if scan.completed_at else "")
        scan_kind = scan_kind or scan.scan_kind
        if not scan.readable:
            return FindingsReport(image, scan_kind, completed, empty_decision(self._settings), scan.status)
        suppressions = self.suppressions()  # read before the findings: a broken document fails before any page
        decision = decide(
            scan.findings,
            image.repository_name,
            self._settings.severity_threshold,
            self._settings.only_fixable,
            suppressions,
            self._clock().date(),
        )
        return FindingsReport(image, scan_kind, completed, decision, scan.status)

    def alert(self, event: ScanEvent) -> AlertOutcome:
        """One alert for a completed scan, or the reason there is none."""
        image = event.image
        if event.finding_count == 0:
            logger.info("scan found nothing: no alert", extra={"scan_status": event.scan_status})
            return AlertOutcome(AlertStatus.NOTHING_TO_ALERT, image.repository_name, image.digest)
        try:
            report = self.report(image, str(event.kind), event.completed_at)
        except (ImageNotFound, RepositoryNotFound) as error:
            logger.info(
                "image gone before its findings were read: nothing to alert",
                extra={"error_code": error.code, "reason": str(error)},
            )
            return AlertOutcome(AlertStatus.IMAGE_GONE, image.repository_name, image.digest, detail=error.code)
        decision = report.decision
        counted = {
            "findings_total": decision.total_findings,
            "findings_alerted": len(decision.alerted),
            "findings_suppressed": decision.suppressed_count,
            "expired_suppressions": len(decision.expired),
        }
        if report.scan_status not in READABLE_SCAN_STATUSES:
            logger.info("scan findings not readable: no alert", extra={"scan_status": report.scan_status})
            return AlertOutcome(
                AlertStatus.SCAN_NOT_READABLE, image.repository_name, image.digest, detail=report.scan_status
            )
        if not decision.should_alert:
            logger.info(
                "nothing at or above the threshold: no alert", extra={**counted, "threshold": decision.threshold}
            )
            return AlertOutcome(AlertStatus.NOTHING_TO_ALERT, image.repository_name, image.digest, **counted)
        imported, failed = self._import(report, event)
        notice = alert_notice(report)
        try:
            self._publisher.publish(notice)
        except GovernanceError as error:
            logger.error(
                "alert publish failed: the invocation fails so that it is retried",
                extra={"reason": str(error), "error_code": getattr(error, "code", ""), "subject": notice.subject},
            )
            raise
        logger.info("alert published", extra={**counted, "subject": notice.subject})
        return AlertOutcome(
            AlertStatus.ALERTED,
            image.repository_name,
            image.digest,
            highest_severity=str(decision.highest_severity),
            subject=notice.subject,
            security_hub_imported=imported,
            security_hub_failed=failed,
            **counted,
        )

    def _import(self, report: FindingsReport, event: ScanEvent) -> tuple[int, int]:
        """Basic-scan findings to Security Hub, before the alert: if the import call fails the invocation is retried
        with nothing published yet; findings Security Hub refuses are logged and counted, not retried."""
        if self._importer is None or event.kind is not ScanKind.BASIC:
            return 0, 0
        documents = security_hub_findings(report)
        failures = self._importer.import_findings(documents)
        for failure in failures:
            logger.error(
                "Security Hub refused a finding",
                extra={"finding_id": failure.finding_id, "error_code": failure.code, "reason": failure.message},
            )
        return len(documents) - len(failures), len(failures)
