"""An image's managed-signing statuses, for its scan alert (issue 15).

AWS publishes no event for a signing result, so the scan alert reads it: a completed scan comes after the push, when
signing has normally finished. For a repository SignedRepositoryPatterns names, the image's statuses are read
(DescribeImageSigningStatus, one per signing profile): a FAILED signing is alerted - with the findings, or alone when
there are none above the threshold; IN_PROGRESS and COMPLETE are only reported in an alert there is anyway. A status
that cannot be read (access denied, throttled after the retries, an endpoint without the API) never stops the
findings alert: the alert says so, and a WARNING line and the SigningStatusUnread metric record it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import GovernanceError
from ecr_governance.findings.normalize import ScannedImage
from ecr_governance.signing import IN_PROGRESS, ImageSigningStatus, SigningStatusSource, failed_signings, must_be_signed

logger = Logger(service=SERVICE_NAME, child=True)


@dataclass(frozen=True)
class SigningReport:
    """What the alert says about the image's signing."""

    statuses: tuple[ImageSigningStatus, ...] = ()
    unread: str = ""  # why the statuses could not be read ("" once read)
    previously_alerted: int = 0  # FAILED statuses left out: already alerted for this image

    @property
    def failed(self) -> tuple[ImageSigningStatus, ...]:
        return tuple(failed_signings(self.statuses))

    @property
    def in_progress(self) -> tuple[ImageSigningStatus, ...]:
        return tuple(status for status in self.statuses if status.status == IN_PROGRESS)

    def alerting_only(self, fresh_failures: Sequence[ImageSigningStatus]) -> SigningReport:
        """The report once the ledger said which failures are new: the others are left out and counted."""
        kept = tuple(status for status in self.statuses if status not in self.failed or status in fresh_failures)
        return SigningReport(kept, self.unread, len(self.failed) - len(fresh_failures))


class SigningStatusReader:
    """Reads the signing statuses of images in the repositories SignedRepositoryPatterns names (None elsewhere).

    `unavailable` says why the endpoint cannot be asked (RegistryApi=core: an emulator without ECR's newer APIs);
    those images' reports say their status could not be read."""

    def __init__(self, source: SigningStatusSource, patterns: Sequence[str], unavailable: str):
        self._source = source
        self._patterns = tuple(patterns)
        self._unavailable = unavailable

    def read(self, image: ScannedImage) -> SigningReport | None:
        if not must_be_signed(image.repository_name, self._patterns):
            return None
        if self._unavailable:
            return _unread(self._unavailable)
        try:
            statuses = self._source.image_signing_statuses(image.repository_name, image.digest)
        except GovernanceError as error:  # a fatal one fails the findings read right after, on its own
            return _unread(str(error))
        return SigningReport(tuple(statuses))


def _unread(reason: str) -> SigningReport:
    logger.warning("signing status not read: the alert says so", extra={"reason": reason})
    return SigningReport(unread=reason)
