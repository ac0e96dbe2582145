"""What was alerted, per image and vulnerability: the record both alert paths read and write, so that neither
alerts what the other already sent (a scan alert and Inspector's finding events for the same push arrive in no
guaranteed order), a duplicate delivery alerts nothing, and a notice such as "image not scanned" goes once.

The order of an alert is claim -> publish -> record:
- claim: a conditional write per entry that succeeds only when the entry is not already in that state (nor
  decided by a later event) and nobody else holds it - a lease, so that two paths running at the same moment do
  not both alert it. What is not claimed is left out of the alert.
- publish: a failed publish releases the claims and raises (the event is retried; nothing is recorded).
- record: the entries take their new state. A failed record is counted and logged, never raised: the alert went out,
  so the event must not be retried into a false "could not be alerted". The price, documented: a redelivery of that
  same event after the lease (LEASE_SECONDS) may alert those entries a second time.
A ledger that cannot be read at all (the claim call fails) is counted and logged, and the alert goes out unguarded:
a possible duplicate is better than a lost alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import FatalAwsError, GovernanceError
from ecr_governance.findings.normalize import ScannedImage
from ecr_governance.notice import Notice, NoticePublisher

logger = Logger(service=SERVICE_NAME, child=True)

# Longer than either function's timeout: a claim outlives the invocation that holds it only when it crashed.
LEASE_SECONDS = 1200


class EntryState(StrEnum):
    ACTIVE = "ACTIVE"  # the vulnerability was alerted as found in the image
    CLOSED = "CLOSED"  # it was reported resolved
    NOTIFIED = "NOTIFIED"  # a notice (image not scanned) was sent


@dataclass(frozen=True)
class LedgerEntry:
    image: str  # account:region:repository@digest (ScannedImage.key): the same digest elsewhere is another image
    subject: str  # vulnerability#<ID>, not-scanned#<REASON> or signing-failed#<SIGNING PROFILE ARN>
    state: EntryState
    at: str  # ISO-8601 time of what decided it: an older event never overrides a newer state


def image_key(image: ScannedImage) -> str:
    return image.key


def vulnerability_entry(image: ScannedImage, finding_id: str, state: EntryState, at: str) -> LedgerEntry:
    return LedgerEntry(image_key(image), f"vulnerability#{finding_id.upper()}", state, at)


def notice_entry(image: ScannedImage, reason: str, at: str) -> LedgerEntry:
    return LedgerEntry(image_key(image), f"not-scanned#{reason}", EntryState.NOTIFIED, at)


def signing_failed_entry(image: ScannedImage, signing_profile_arn: str, at: str) -> LedgerEntry:
    """A FAILED signing alerted: its own entry, so that the image's findings alerted before never suppress it and
    a rescan within the alert memory does not repeat it."""
    return LedgerEntry(image_key(image), f"signing-failed#{signing_profile_arn}", EntryState.NOTIFIED, at)


class AlertLedger(Protocol):
    """The alert ledger (a DynamoDB table with a TTL; tests use an in-memory fake)."""

    def claim(self, entries: Sequence[LedgerEntry], owner: str) -> list[LedgerEntry]:
        """The entries now held by `owner`: each is not already in its state, not decided by a later event and
        not held by another owner. Raises a GovernanceError when the ledger cannot be written at all."""
        ...

    def confirm(self, entries: Sequence[LedgerEntry]) -> None:
        """Record each entry in its state (the alert was published); ends its claim."""
        ...

    def release(self, entries: Sequence[LedgerEntry], owner: str) -> None:
        """End `owner`'s claims without recording (the publication failed)."""
        ...


class UnrecordedAlerts:
    """The ledger of a run without a table (a local invoke): every entry is claimed, nothing is recorded."""

    def claim(self, entries: Sequence[LedgerEntry], owner: str) -> list[LedgerEntry]:
        return list(entries)

    def confirm(self, entries: Sequence[LedgerEntry]) -> None:
        return None

    def release(self, entries: Sequence[LedgerEntry], owner: str) -> None:
        return None


@dataclass
class Claim:
    entries: list[LedgerEntry] = field(default_factory=list)
    unguarded: bool = False  # the ledger could not be read: everything is alerted, duplicates possible


@dataclass
class LedgerFailures:
    """How often the ledger failed while handling one event or batch (the handler's AlertLedgerFailures metric)."""

    count: int = 0


class GuardedPublisher:
    """Claim -> publish -> record (see the module's doc), with the ledger's failures logged and counted."""

    def __init__(self, ledger: AlertLedger, publisher: NoticePublisher):
        self._ledger = ledger
        self._publisher = publisher

    def claim(self, entries: Sequence[LedgerEntry], owner: str, tally: LedgerFailures) -> Claim:
        if not entries:
            return Claim()
        try:
            return Claim(self._ledger.claim(entries, owner))
        except FatalAwsError:
            raise
        except GovernanceError as error:
            tally.count += 1
            logger.error(
                "alert ledger not readable: alerting without it (a duplicate alert is possible)",
                extra={"reason": str(error), "entries": len(entries)},
            )
            return Claim(list(entries), unguarded=True)

    def publish(self, notice: Notice, claim: Claim, owner: str, tally: LedgerFailures) -> None:
        try:
            self._publisher.publish(notice)
        except GovernanceError as error:
            logger.error(
                "alert publish failed: its claims are released and the event is retried",
                extra={"reason": str(error), "error_code": getattr(error, "code", ""), "subject": notice.subject},
            )
            self._release(claim, owner, tally)
            raise
        if not claim.unguarded:
            self._record(claim, tally)

    def _record(self, claim: Claim, tally: LedgerFailures) -> None:
        try:
            self._ledger.confirm(claim.entries)
        except GovernanceError as error:  # the alert went out: never a false "could not be alerted"
            tally.count += 1
            logger.error(
                "alert published but not recorded: a redelivery of this event may alert it again",
                extra={"reason": str(error), "entries": len(claim.entries)},
            )

    def _release(self, claim: Claim, owner: str, tally: LedgerFailures) -> None:
        if claim.unguarded or not claim.entries:
            return
        try:
            self._ledger.release(claim.entries, owner)
        except GovernanceError as error:  # the claims lapse after LEASE_SECONDS
            tally.count += 1
            logger.error("alert claims not released: they lapse after the lease", extra={"reason": str(error)})
