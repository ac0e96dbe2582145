"""A scan event to one alert (or the reason there is none); an image deleted to its Security Hub findings archived.

For a scan event, in this order:
1. a scan the event says did not complete (FAILED, UNSUPPORTED_IMAGE, ...): an "image not scanned" notice, once per
   image and reason;
2. in a repository SignedRepositoryPatterns names, the image's signing statuses (signing_status.py): a FAILED one
   is alerted even when nothing else is;
3. counts that show nothing at or above the threshold, nothing they cannot settle and no failed signing: nothing to
   read;
4. every finding read and decided (reader.py); an image gone meanwhile is a logged no-op, an image without a scan
   (ScanNotFound) or a scan the API does not report complete is an "image not scanned" notice;
5. the alerted findings and failed signings claimed in the alert ledger (ledger.py): what was already alerted for
   this image - by an earlier scan or by Inspector's finding events - is left out and counted;
6. publish, then record; a failed publish raises (the invocation is retried, then waits in the failures queue);
7. Security Hub (basic scanning, optional): import and archive, after the alert and never failing it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any, TypedDict

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import ImageNotFound, RepositoryNotFound, ScanNotFound
from ecr_governance.findings.events import ImageDeletedEvent, ScanEvent, ScanKind
from ecr_governance.findings.ledger import (
    EntryState,
    GuardedPublisher,
    LedgerEntry,
    LedgerFailures,
    notice_entry,
    signing_failed_entry,
    vulnerability_entry,
)
from ecr_governance.findings.normalize import READABLE_SCAN_STATUSES, Finding
from ecr_governance.findings.policy import FindingsReport
from ecr_governance.findings.ports import ImageExistence
from ecr_governance.findings.reader import FindingsReader
from ecr_governance.findings.render import alert_notice
from ecr_governance.findings.render_notice import SCAN_NOT_FOUND, not_scanned_notice
from ecr_governance.findings.security_hub import ImportResult, SecurityHubSync
from ecr_governance.findings.signing_status import SigningReport, SigningStatusReader
from ecr_governance.signing import ImageSigningStatus

logger = Logger(service=SERVICE_NAME, child=True)


class AlertStatus(StrEnum):
    ALERTED = "alerted"
    NOTHING_TO_ALERT = "nothing_to_alert"  # no finding at or above the threshold once suppressions applied
    ALREADY_ALERTED = "already_alerted"  # every finding (and failed signing) to alert was alerted before
    IMAGE_GONE = "image_gone"  # deleted (or its repository) before its findings were read
    NOT_SCANNED = "not_scanned"  # no findings to read: the notice was sent (or had been, for this reason)
    IMAGE_DELETED = "image_deleted"  # its Security Hub findings archived (or it is still there under another tag)


@dataclass(frozen=True)
class AlertOutcome:
    """What one event led to (JSON-serializable: Powertools Idempotency stores it for duplicate deliveries)."""

    status: AlertStatus
    repository: str
    digest: str
    findings_total: int = 0
    findings_alerted: int = 0
    findings_suppressed: int = 0
    expired_suppressions: int = 0
    previously_alerted: int = 0
    suppression_problems: int = 0
    highest_severity: str | None = None
    subject: str = ""
    security_hub_imported: int = 0
    security_hub_archived: int = 0
    security_hub_failed: int = 0
    ledger_failures: int = 0
    signing_failures_alerted: int = 0  # FAILED signing statuses this alert reported
    signing_unread: int = 0  # 1: the image's signing status could not be read (the alert says so)
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}


class FindingCounts(TypedDict):
    findings_total: int
    findings_alerted: int
    findings_suppressed: int
    expired_suppressions: int
    previously_alerted: int
    suppression_problems: int


class SecurityHubCounts(TypedDict):
    security_hub_imported: int
    security_hub_archived: int
    security_hub_failed: int


def _counted(report: FindingsReport) -> FindingCounts:
    decision = report.decision
    return {
        "findings_total": decision.total_findings,
        "findings_alerted": len(decision.alerted),
        "findings_suppressed": decision.suppressed_count,
        "expired_suppressions": len(decision.expired),
        "previously_alerted": decision.previously_alerted,
        "suppression_problems": len(decision.suppression_problems),
    }


def _security_hub_counts(result: ImportResult) -> SecurityHubCounts:
    return {
        "security_hub_imported": result.imported,
        "security_hub_archived": result.archived,
        "security_hub_failed": result.failed,
    }


def _fresh(
    report: FindingsReport,
    claimed: list[LedgerEntry],
    findings: dict[LedgerEntry, Finding],
    signings: dict[LedgerEntry, ImageSigningStatus],
) -> FindingsReport:
    """The report with only what the ledger let this event claim; the rest counted as alerted before."""
    decision = report.decision
    claimed_ids = {findings[entry].id.upper() for entry in claimed if entry in findings}
    fresh = tuple(finding for finding in decision.alerted if finding.id.upper() in claimed_ids)
    fresh_signings = [signings[entry] for entry in claimed if entry in signings]
    return replace(
        report,
        decision=replace(decision, alerted=fresh, previously_alerted=len(decision.alerted) - len(fresh)),
        signing=report.signing.alerting_only(fresh_signings) if report.signing else None,
    )


class ScanAlerter:
    def __init__(
        self,
        reader: FindingsReader,
        guard: GuardedPublisher,
        security_hub: SecurityHubSync | None = None,
        images: ImageExistence | None = None,
        signing: SigningStatusReader | None = None,
    ):
        self._reader = reader
        self._guard = guard
        self._security_hub = security_hub
        self._images = images
        self._signing = signing  # None: no repository must be signed (SignedRepositoryPatterns empty)

    def handle(self, event: ScanEvent | ImageDeletedEvent) -> AlertOutcome:
        tally = LedgerFailures()
        if isinstance(event, ImageDeletedEvent):
            outcome = self._image_deleted(event)
        elif not event.completed:
            outcome = self._not_scanned(event, event.scan_status, True, tally)
        else:
            outcome = self._completed(event, tally)
        return replace(outcome, ledger_failures=tally.count)

    def _completed(self, event: ScanEvent, tally: LedgerFailures) -> AlertOutcome:
        signing = self._signing.read(event.image) if self._signing else None
        if event.worth_reading(self._reader.rules.threshold) or (signing and signing.failed):
            outcome = self._scan(event, signing, tally)
        else:
            logger.info("the event's counts show nothing to alert: nothing read", extra={"scan_status": "COMPLETE"})
            outcome = AlertOutcome(AlertStatus.NOTHING_TO_ALERT, event.image.repository_name, event.image.digest)
        return replace(outcome, signing_unread=int(bool(signing and signing.unread)))

    def _scan(self, event: ScanEvent, signing: SigningReport | None, tally: LedgerFailures) -> AlertOutcome:
        image = event.image
        try:
            report = replace(self._reader.report(image, str(event.kind), event.completed_at), signing=signing)
        except ScanNotFound:
            return self._not_scanned(event, SCAN_NOT_FOUND, False, tally)
        except (ImageNotFound, RepositoryNotFound) as error:
            logger.info(
                "image gone before its findings were read: nothing to alert",
                extra={"error_code": error.code, "reason": str(error)},
            )
            return AlertOutcome(AlertStatus.IMAGE_GONE, image.repository_name, image.digest, detail=error.code)
        if report.scan_status not in READABLE_SCAN_STATUSES:
            return self._not_scanned(event, report.scan_status, False, tally)
        outcome = self._alert(report, event, tally)
        if self._security_hub is None or event.kind is not ScanKind.BASIC:
            return outcome
        return replace(outcome, **_security_hub_counts(self._security_hub.sync(report)))

    def _alert(self, report: FindingsReport, event: ScanEvent, tally: LedgerFailures) -> AlertOutcome:
        image = report.image
        if not report.worth_alerting:
            logger.info("nothing at or above the threshold: no alert", extra=_counted(report))
            return AlertOutcome(AlertStatus.NOTHING_TO_ALERT, image.repository_name, image.digest, **_counted(report))
        owner = f"scan:{event.event_id or event.key}"
        findings = {
            vulnerability_entry(image, finding.id, EntryState.ACTIVE, event.completed_at): finding
            for finding in report.decision.alerted
        }
        signings = {
            signing_failed_entry(image, status.signing_profile_arn, event.completed_at): status
            for status in report.failed_signings
        }
        claim = self._guard.claim([*findings, *signings], owner, tally)
        report = _fresh(report, claim.entries, findings, signings)
        if not report.worth_alerting:
            logger.info("everything to alert was alerted before: no alert", extra=_counted(report))
            return AlertOutcome(AlertStatus.ALREADY_ALERTED, image.repository_name, image.digest, **_counted(report))
        notice = alert_notice(report)
        self._guard.publish(notice, claim, owner, tally)
        logger.info(
            "alert published",
            extra={**_counted(report), "subject": notice.subject, "signing_failed": len(report.failed_signings)},
        )
        highest = report.decision.highest_severity
        return AlertOutcome(
            AlertStatus.ALERTED,
            image.repository_name,
            image.digest,
            highest_severity=str(highest) if highest else None,
            subject=notice.subject,
            signing_failures_alerted=len(report.failed_signings),
            **_counted(report),
        )

    def _not_scanned(self, event: ScanEvent, reason: str, from_event: bool, tally: LedgerFailures) -> AlertOutcome:
        image = event.image
        owner = f"scan:{event.event_id or event.key}"
        claim = self._guard.claim([notice_entry(image, reason, event.completed_at)], owner, tally)
        outcome = AlertOutcome(AlertStatus.NOT_SCANNED, image.repository_name, image.digest, detail=reason)
        if not claim.entries:
            logger.info("image not scanned: notice already sent for this reason", extra={"reason": reason})
            return outcome
        notice = not_scanned_notice(image, reason, from_event, str(event.kind), event.completed_at)
        self._guard.publish(notice, claim, owner, tally)
        logger.warning("image not scanned: notice sent", extra={"reason": reason, "subject": notice.subject})
        return replace(outcome, subject=notice.subject)

    def _image_deleted(self, event: ImageDeletedEvent) -> AlertOutcome:
        image = event.image
        outcome = AlertOutcome(AlertStatus.IMAGE_DELETED, image.repository_name, image.digest)
        if self._security_hub is None or self._images is None:
            return replace(outcome, detail="Security Hub import is off")
        if self._images.image_exists(image.repository_name, image.digest):
            logger.info("image still exists (a tag was deleted): its findings stay", extra={"tags": image.tags})
            return replace(outcome, detail="image still exists")
        return replace(outcome, **_security_hub_counts(self._security_hub.archive_image(image)))
