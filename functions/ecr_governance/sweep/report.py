"""What a sweep did: the outcome of every candidate, and the counts a run adds up.

Deletions are counted twice on purpose, for two readers: the report counts what this worker's delete calls did (its
log line, the CLI), and the run's ledger counts each delete call's confirmed deletions once (the summary) - so a
message retried, delivered twice or run by two workers at once never adds a deletion twice or loses one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from ecr_governance.errors import Failure
from ecr_governance.images import iso8601
from ecr_governance.sweep.plan import CANDIDATE, KeepReason, SweepPlan
from ecr_governance.sweep.settings import SweepMode

# How many failed images a log line or a report names (the counts cover all of them).
FAILURES_SHOWN = 20
STORAGE_CLASSES = ("standard", "archive")


class Outcome(StrEnum):
    DELETED = "deleted"
    WOULD_DELETE = "would delete"  # dry run
    TAGGED_SINCE_PLAN = "tagged since plan"  # a re-read right before its delete call found a tag: kept
    NO_LONGER_ELIGIBLE = "no longer eligible"  # ... a pull, a status, a use that keeps it
    PROTECTED = "protected"  # an image that stays (a new tagged index, a re-pushed subject) reaches it: kept
    PARENT_NOT_DELETED = "parent not deleted"  # an image it is reachable from was not deleted: kept
    MANIFEST_UNREAD = "manifest unread"  # a manifest read since the plan failed: nothing more deleted this run
    KEPT_BY_ECR = "kept by ECR"  # ImageReferencedByManifestList: an index still references it
    ALREADY_GONE = "already gone"  # deleted by someone else between the plan and the delete
    FAILED = "failed"  # any other failure: kept, with ECR's code and reason
    CONTINUED = "continued"  # left to the repository's next part (this worker ran short of time)
    DEFERRED = "deferred"  # left for the next run (could not be handed on)


class CandidateOutcome(NamedTuple):
    digest: str
    outcome: Outcome
    size_bytes: int
    storage_class: str = "standard"
    detail: str = ""
    code: str = ""


# The counters one report adds to its run (DynamoDB attributes, the summary, the metrics).
KEPT_COUNTERS = {reason: "kept_" + reason.name.lower() for reason in KeepReason}
OUTCOME_COUNTERS = {outcome: outcome.name.lower() for outcome in Outcome}
RECLAIMED_COUNTERS = {storage: f"bytes_reclaimed_{storage}" for storage in STORAGE_CLASSES}
# What only the ledger's confirmed delete calls add to a run (never a message's own report).
DELETION_COUNTERS = (OUTCOME_COUNTERS[Outcome.DELETED], *RECLAIMED_COUNTERS.values())
COUNTERS = (
    "targets",  # an organization run's account-regions
    "targets_failed",
    "repositories_exempt",  # exempt from lifecycle when a target's repositories were listed
    "repositories_unreadable",
    "repositories",
    "repositories_gone",
    "repositories_failed",
    "repositories_exempt_now",
    "parts",
    "examined",
    *KEPT_COUNTERS.values(),
    "candidates",
    "candidate_bytes",
    *OUTCOME_COUNTERS.values(),
    *RECLAIMED_COUNTERS.values(),
    "bytes_reclaimable",
)
UNIT_COUNTERS = tuple(name for name in COUNTERS if name not in DELETION_COUNTERS)


@dataclass
class SweepReport:
    """One repository message's sweep (its first part with the plan's figures; later parts add outcomes only)."""

    repository: str
    mode: SweepMode
    plan: SweepPlan | None = None
    part: int = 0
    account: str = ""  # a member account-region (an organization hub)
    region: str = ""
    outcomes: dict[str, CandidateOutcome] = field(default_factory=dict)
    failure: Failure | None = None
    gone: bool = False
    exempt_now: str = ""  # exempt since the run was planned: not swept (why)
    in_use_available: bool | None = None  # None: not asked (nothing to delete)
    delete_calls: int = 0
    continued: bool = False

    def record(  # noqa: PLR0917 - one candidate's outcome, its fields in CandidateOutcome's order
        self,
        digest: str,
        outcome: Outcome,
        size_bytes: int,
        storage_class: str = "standard",
        detail: str = "",
        code: str = "",
    ) -> None:
        self.outcomes[digest] = CandidateOutcome(digest, outcome, size_bytes, storage_class, detail, code)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes.values() if o.outcome is outcome)

    def bytes_of(self, outcome: Outcome, storage_class: str | None = None) -> int:
        return sum(
            o.size_bytes
            for o in self.outcomes.values()
            if o.outcome is outcome and storage_class in (None, o.storage_class)
        )

    @property
    def failed_images(self) -> list[CandidateOutcome]:
        return [o for o in self.outcomes.values() if o.outcome is Outcome.FAILED]

    @property
    def has_failures(self) -> bool:
        return self.failure is not None or bool(self.failed_images)

    @property
    def bytes(self) -> int:
        """Bytes reclaimed (deleted), or in a dry run the bytes a delete would reclaim."""
        return self.bytes_of(Outcome.DELETED) + self.bytes_of(Outcome.WOULD_DELETE)

    def counts(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        counts["parts" if self.part else "repositories"] = 1
        counts["repositories_gone"] = int(self.gone)
        counts["repositories_failed"] = int(self.failure is not None)
        counts["repositories_exempt_now"] = int(bool(self.exempt_now))
        if self.plan is not None and not self.part:  # a later part re-plans: its figures would count twice
            counts["examined"] = len(self.plan.decisions)
            for reason, number in self.plan.kept_counts().items():
                counts[KEPT_COUNTERS[KeepReason(reason)]] = number
            counts["candidates"] = len(self.plan.candidates)
            counts["candidate_bytes"] = self.plan.candidate_bytes
        for outcome in self.outcomes.values():
            counts[OUTCOME_COUNTERS[outcome.outcome]] += 1
        for storage, counter in RECLAIMED_COUNTERS.items():
            counts[counter] = self.bytes_of(Outcome.DELETED, storage)
        counts["bytes_reclaimable"] = self.bytes_of(Outcome.WOULD_DELETE)
        return {name: counts[name] for name in COUNTERS}

    def _plan_fields(self) -> dict[str, Any]:
        """What the plan examined, kept (by reason) and made a candidate, and the manifests it could not read."""
        if self.plan is None:
            return {}
        fields: dict[str, Any] = {
            "examined": len(self.plan.decisions),
            "kept": dict(sorted(self.plan.kept_counts().items())),
            "candidates": len(self.plan.candidates),
        }
        if self.plan.unread:
            fields["manifests_unread"] = dict(list(self.plan.unread.items())[:FAILURES_SHOWN])
        return fields

    def log_fields(self) -> dict[str, Any]:
        """The report as one structured log line: what was examined and kept (by reason), what went, what failed."""
        fields: dict[str, Any] = {"repository": self.repository, "mode": str(self.mode)}
        if self.account:
            fields.update(account=self.account, region=self.region)
        if self.part:
            fields["part"] = self.part
        fields.update(self._plan_fields())
        fields.update(
            deleted=self.count(Outcome.DELETED),
            would_delete=self.count(Outcome.WOULD_DELETE),
            failed=len(self.failed_images),
            bytes=self.bytes,
            delete_calls=self.delete_calls,
            outcomes={str(o): n for o in Outcome if (n := self.count(o))},
        )
        if self.in_use_available is not None:
            fields["in_use_data"] = self.in_use_available
        if self.continued:
            fields["continued"] = True
        if self.failed_images:
            fields["failures"] = [
                {"digest": o.digest, "code": o.code, "reason": o.detail} for o in self.failed_images[:FAILURES_SHOWN]
            ]
        if self.failure is not None:
            fields.update(error_code=self.failure.code, error=self.failure.message)
        if self.gone:
            fields["repository_gone"] = True
        if self.exempt_now:
            fields["exempt_now"] = self.exempt_now
        return fields

    def image_rows(self) -> list[dict[str, Any]]:
        """Every image with its decision and reason, and for a candidate what became of it (the CLI's JSON)."""
        if self.plan is None:
            return [
                {"imageDigest": o.digest, "decision": CANDIDATE, **_outcome_fields(o)} for o in self.outcomes.values()
            ]
        rows = []
        for decision in self.plan.decisions:
            image = decision.image
            row: dict[str, Any] = {
                "imageDigest": image.digest,
                "imageTags": list(image.tags),
                "imagePushedAt": _iso(image.pushed_at),
                "lastRecordedPullTime": _iso(image.last_pulled_at),
                "imageStatus": image.status,
                "imageSizeInBytes": image.size_bytes,
                "decision": "delete" if decision.reason == CANDIDATE else "keep",
                "reason": decision.reason,
            }
            if decision.via:
                row["keptWith"] = decision.via
            outcome = self.outcomes.get(image.digest)
            if outcome is not None:
                row.update(_outcome_fields(outcome))
            rows.append(row)
        return rows


def _outcome_fields(outcome: CandidateOutcome) -> dict[str, Any]:
    fields: dict[str, Any] = {"outcome": str(outcome.outcome), "sizeBytes": outcome.size_bytes}
    if outcome.detail:
        fields["detail"] = outcome.detail
    if outcome.code:
        fields["failureCode"] = outcome.code
    return fields


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso8601(moment)
