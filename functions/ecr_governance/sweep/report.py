"""What a sweep did: the outcome of every candidate, and the counts a run adds up."""

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


class Outcome(StrEnum):
    DELETED = "deleted"
    WOULD_DELETE = "would delete"  # dry run
    TAGGED_SINCE_PLAN = "tagged since plan"  # the re-check found a tag: kept
    NO_LONGER_ELIGIBLE = "no longer eligible"  # the re-check found a pull (or a status) that keeps it
    PROTECTED = "protected"  # an image that stayed reaches it: kept
    KEPT_BY_ECR = "kept by ECR"  # ImageReferencedByManifestList: an index still references it
    ALREADY_GONE = "already gone"  # deleted by someone else between the plan and the delete
    FAILED = "failed"  # any other failure: kept, with ECR's code and reason
    CONTINUED = "continued"  # handed to a continuation message (another invocation deletes it)
    DEFERRED = "deferred"  # left for the next run (could not be handed on)


# The outcomes after which the image is still in the registry and keeps what it reaches.
STAYED = frozenset(
    {Outcome.TAGGED_SINCE_PLAN, Outcome.NO_LONGER_ELIGIBLE, Outcome.KEPT_BY_ECR, Outcome.FAILED, Outcome.DEFERRED}
)


class CandidateOutcome(NamedTuple):
    digest: str
    outcome: Outcome
    size_bytes: int
    detail: str = ""
    code: str = ""


# The counters one report adds to its run (DynamoDB attributes, the summary, the metrics).
KEPT_COUNTERS = {reason: "kept_" + reason.name.lower() for reason in KeepReason}
OUTCOME_COUNTERS = {outcome: outcome.name.lower() for outcome in Outcome}
COUNTERS = (
    "repositories",
    "repositories_gone",
    "repositories_failed",
    "parts",
    "examined",
    *KEPT_COUNTERS.values(),
    "candidates",
    "candidate_bytes",
    *OUTCOME_COUNTERS.values(),
    "bytes_reclaimed",
    "bytes_reclaimable",
)


@dataclass
class SweepReport:
    """One repository message's sweep (with its plan), or one continuation part's (without)."""

    repository: str
    mode: SweepMode
    plan: SweepPlan | None = None
    part_id: str = ""
    outcomes: dict[str, CandidateOutcome] = field(default_factory=dict)
    failure: Failure | None = None
    gone: bool = False
    continuation_parts: int = 0
    completed_run: RunTotals | None = None  # set on the report whose result completed its run
    notification_failed: bool = False

    def record(self, digest: str, outcome: Outcome, size_bytes: int, detail: str = "", code: str = "") -> None:
        self.outcomes[digest] = CandidateOutcome(digest, outcome, size_bytes, detail, code)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes.values() if o.outcome is outcome)

    def bytes_of(self, outcome: Outcome) -> int:
        return sum(o.size_bytes for o in self.outcomes.values() if o.outcome is outcome)

    @property
    def is_part(self) -> bool:
        return bool(self.part_id)

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
        if self.is_part:
            counts["parts"] = 1
        else:
            counts["repositories"] = 1
        counts["repositories_gone"] = int(self.gone)
        counts["repositories_failed"] = int(self.failure is not None)
        if self.plan is not None:
            counts["examined"] = len(self.plan.decisions)
            for reason, number in self.plan.kept_counts().items():
                counts[KEPT_COUNTERS[KeepReason(reason)]] = number
            counts["candidates"] = len(self.plan.candidates)
            counts["candidate_bytes"] = self.plan.candidate_bytes
        for outcome in self.outcomes.values():
            counts[OUTCOME_COUNTERS[outcome.outcome]] += 1
        counts["bytes_reclaimed"] = self.bytes_of(Outcome.DELETED)
        counts["bytes_reclaimable"] = self.bytes_of(Outcome.WOULD_DELETE)
        return {name: counts[name] for name in COUNTERS}

    def log_fields(self) -> dict[str, Any]:
        """The report as one structured log line: what was examined and kept (by reason), what went, what failed."""
        fields: dict[str, Any] = {"repository": self.repository, "mode": str(self.mode)}
        if self.part_id:
            fields["part"] = self.part_id
        if self.plan is not None:
            fields["examined"] = len(self.plan.decisions)
            fields["kept"] = dict(sorted(self.plan.kept_counts().items()))
            fields["candidates"] = len(self.plan.candidates)
        fields.update(
            deleted=self.count(Outcome.DELETED),
            would_delete=self.count(Outcome.WOULD_DELETE),
            failed=len(self.failed_images),
            bytes=self.bytes,
            outcomes={str(o): n for o in Outcome if (n := self.count(o))},
        )
        if self.continuation_parts:
            fields["continuation_parts"] = self.continuation_parts
        if self.failed_images:
            fields["failures"] = [
                {"digest": o.digest, "code": o.code, "reason": o.detail} for o in self.failed_images[:FAILURES_SHOWN]
            ]
        if self.failure is not None:
            fields.update(error_code=self.failure.code, error=self.failure.message)
        if self.gone:
            fields["repository_gone"] = True
        return fields

    def image_rows(self) -> list[dict[str, Any]]:
        """Every image with its decision and reason, and for a candidate what became of it (the CLI's JSON)."""
        rows = []
        if self.plan is None:
            for outcome in self.outcomes.values():
                rows.append({"imageDigest": outcome.digest, "decision": CANDIDATE, **_outcome_fields(outcome)})
            return rows
        for decision in self.plan.decisions:
            image = decision.image
            row: dict[str, Any] = {
                "imageDigest": image.digest,
                "imageTags": list(image.tags),
                "imagePushedAt": _iso(image.pushed_at),
                "lastRecordedPullTime": _iso(image.last_pulled_at),
                "imageStatus": image.status,
                "imageSizeInBytes": image.size_bytes,
                "decision": "delete" if decision.is_candidate else "keep",
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


# ---- runs -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunStart:
    run_id: str
    mode: SweepMode
    started_at: datetime
    expected: int  # repository messages sent; continuation parts add to it as they are sent
    exempt: int = 0


@dataclass(frozen=True)
class RunTotals:
    run_id: str
    mode: str
    started_at: str
    expected: int
    reported: int
    counts: dict[str, int]
    exempt: int = 0
