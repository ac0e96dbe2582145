"""Enforcement's data: what was read of a repository and the registry, what the checks found, what was decided."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ecr_governance.enforce.scanning import RegistryScanning, RepositoryCoverage, ScanningPlan
from ecr_governance.errors import Failure
from ecr_governance.exemptions import NO_EXEMPTION, ExemptAspect, Exemption
from ecr_governance.repositories import Repository
from ecr_governance.signing import SigningRule

REGISTRY = "(registry)"  # the repository column of the registry-level scanning decision


class Aspect(StrEnum):
    # Each repository's.
    TAG_MUTABILITY = "tag_mutability"
    REGISTRY_SCANNING = "registry_scanning"  # its coverage by the registry's rules (plus one registry decision)
    REPOSITORY_SCAN_ON_PUSH = "repository_scan_on_push"
    LIFECYCLE_POLICY = "lifecycle_policy"  # the standard class, or the cache class for pull-through cache ones
    ENCRYPTION = "encryption"
    SIGNING = "signing"
    # The registry's (decisions on the REGISTRY row).
    CREATION_TEMPLATE = "creation_template"
    PULL_THROUGH_CACHE = "pull_through_cache"  # a decision only when its rules could not be read
    PULL_TIME_EXCLUSIONS = "pull_time_exclusions"
    REGISTRY_POLICY = "registry_policy"

    @property
    def exempt_aspect(self) -> ExemptAspect | None:
        """The exemption that leaves a repository out of this check (None: a registry-level aspect)."""
        return EXEMPT_ASPECT_OF.get(self)


EXEMPT_ASPECT_OF = {
    Aspect.TAG_MUTABILITY: ExemptAspect.TAG_MUTABILITY,
    Aspect.REGISTRY_SCANNING: ExemptAspect.SCAN_ON_PUSH,
    Aspect.REPOSITORY_SCAN_ON_PUSH: ExemptAspect.SCAN_ON_PUSH,
    Aspect.LIFECYCLE_POLICY: ExemptAspect.LIFECYCLE,
    Aspect.ENCRYPTION: ExemptAspect.ENCRYPTION,
    Aspect.SIGNING: ExemptAspect.SIGNING,
}


class Status(StrEnum):
    COMPLIANT = "compliant"
    VIOLATION = "violation"
    CUSTOM = "custom"  # a custom lifecycle policy: kept and reported, never overwritten
    EXEMPT = "exempt"
    UNKNOWN = "unknown"  # could not be read


@dataclass(frozen=True)
class Check:
    aspect: Aspect
    status: Status
    before: str
    after: str | None = None  # the desired value when status is VIOLATION
    detail: str = ""


class Action(StrEnum):
    NONE = "unchanged"  # compliant, or a custom policy kept: nothing to do
    EXEMPT = "exempt"
    REMEDIATED = "remediated"
    WOULD_REMEDIATE = "would_remediate"  # audit mode or dry run
    REPOSITORY_GONE = "repository_gone"  # deleted between the event and its handling
    FAILED = "failed"  # an AWS call on this repository failed (error code in the decision)
    NOT_REMEDIABLE = "not_remediable"  # ECR limits prevent it (reported, e.g. scanning rules full)
    DETECTED = "detected"  # a violation no safe write exists for (encryption, signing, registry policy): reported
    MANAGED = "managed_by_organization"  # an organization policy owns the setting: reported, never retried


@dataclass(frozen=True)
class Decision:
    repository: str
    aspect: str
    status: str
    before: str
    after: str | None
    action: Action
    detail: str = ""
    error_code: str = ""  # AWS's error code when action is FAILED
    transient: bool = False

    def failed_with(self, failure: Failure) -> Decision:
        return Decision(
            self.repository,
            self.aspect,
            self.status,
            self.before,
            self.after,
            Action.FAILED,
            failure.message,
            failure.code,
            failure.transient,
        )

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "repository": self.repository,
            "aspect": self.aspect,
            "status": self.status,
            "before": self.before,
            "after": self.after,
            "action": str(self.action),
            "detail": self.detail,
        }
        if self.action is Action.FAILED:
            document["error_code"] = self.error_code
            document["transient"] = self.transient
        return document


@dataclass(frozen=True)
class RepositoryAssessment:
    repository: Repository
    exemption: Exemption = NO_EXEMPTION
    checks: tuple[Check, ...] = ()
    failure: Failure | None = None  # the repository could not be read: nothing is decided for it this run
    exempted: tuple[Aspect, ...] = ()  # the aspects that apply to it and it is exempt from (each reported)
    pull_through_cache: bool = False  # created for a pull-through cache rule: the cache lifecycle class

    @property
    def gone(self) -> bool:
        """Deleted between being listed (or named by an event) and being read: a no-op, not a failure."""
        return bool(self.failure and self.failure.repository_gone)

    @property
    def coverage(self) -> RepositoryCoverage:
        """The repository as the scanning coverage planner sees it: a target unless exempt or unread."""
        exempt = self.exemption.covers(ExemptAspect.SCAN_ON_PUSH)
        return RepositoryCoverage(self.repository.name, must_scan=not (exempt or self.failure), protected=exempt)


@dataclass(frozen=True)
class ReconcileProgress:
    """Where a full reconcile stopped, and what the last piece needs to plan registry scanning for the whole run."""

    after: str  # the last repository handled (names are handled in sorted order)
    scan_exempt: tuple[str, ...] = ()  # repositories handled so far that are exempt from scan on push
    unread: tuple[str, ...] = ()  # repositories handled so far that could not be read
    piece: int = 1  # how many pieces have run

    def extended(self, after: str, assessments: Sequence[RepositoryAssessment]) -> ReconcileProgress:
        return ReconcileProgress(
            after=after,
            scan_exempt=(
                *self.scan_exempt,
                *(a.repository.name for a in assessments if a.exemption.covers(ExemptAspect.SCAN_ON_PUSH)),
            ),
            unread=(*self.unread, *(a.repository.name for a in assessments if a.failure)),
            piece=self.piece + 1,
        )


START = ReconcileProgress(after="", piece=0)


@dataclass(frozen=True)
class RegistryCheck:
    """A registry-level aspect's check, the write that would remedy it (none: report only), or why it is unread."""

    check: Check
    write: Any = None  # a RegistryWrite (registry_model.py) when a safe write exists
    failure: Failure | None = None
    limit_reached: bool = False  # no write because an ECR limit is reached (not_remediable, not just detected)


@dataclass(frozen=True)
class RegistryContext:
    """What every repository's checks need from the registry, read once an invocation."""

    scanning: RegistryScanning | None  # None: unreadable (scanning_failure says why)
    scanning_failure: Failure | None = None
    cache_prefixes: tuple[str, ...] | None = ()  # None: unreadable, so no lifecycle class can be decided
    signing_rules: tuple[SigningRule, ...] | None = ()  # None: unreadable or not read
    unread: tuple[RegistryCheck, ...] = ()  # the reads above that failed, as registry decisions


@dataclass(frozen=True)
class EnforcementPlan:
    assessments: tuple[RepositoryAssessment, ...]
    registry_scanning: RegistryScanning | None  # None: it could not be read (scanning_failure says why)
    scanning: ScanningPlan | None = None  # None: not planned in this invocation (unreadable, or not the last piece)
    coverage: tuple[RepositoryCoverage, ...] = ()  # the repositories of this plan, as the coverage planner sees them
    missing_repositories: tuple[str, ...] = ()  # asked for by an event, gone by the time we looked
    scanning_failure: Failure | None = None
    continuation: ReconcileProgress | None = None  # set when a full reconcile must continue in a new invocation
    progress_before: ReconcileProgress | None = None  # where this piece started (a continued reconcile)
    registry_checks: tuple[RegistryCheck, ...] = ()  # the registry-level aspects (a full run's last piece)


@dataclass
class EnforcementReport:
    decisions: list[Decision] = field(default_factory=list)
    continuation: ReconcileProgress | None = None

    def _repository_decisions(self) -> list[Decision]:
        return [d for d in self.decisions if d.repository != REGISTRY]

    def _registry_decisions(self) -> list[Decision]:
        return [d for d in self.decisions if d.repository == REGISTRY]

    @property
    def repositories(self) -> list[str]:
        return sorted({d.repository for d in self._repository_decisions()})

    def count(self, action: Action) -> int:
        """Decisions per repository setting and registry setting; the registry-level scanning write is counted
        through the repositories it covers, not once more for itself."""
        return sum(
            1
            for d in self.decisions
            if d.action is action and not (d.repository == REGISTRY and d.aspect == Aspect.REGISTRY_SCANNING)
        )

    @property
    def transient_failures(self) -> int:
        """Failed decisions (registry-level included) caused by throttling or server errors that outlived retries."""
        return sum(1 for d in self.decisions if d.action is Action.FAILED and d.transient)

    def summary(self) -> dict[str, int]:
        decisions = self._repository_decisions()
        actions = Counter(str(d.action) for d in decisions)
        non_compliant = {d.repository for d in decisions if _leaves_non_compliant(d)}
        exempt = {d.repository for d in decisions if d.action is Action.EXEMPT}
        return {
            "repositories": len({d.repository for d in decisions}),
            "exempt_repositories": len(exempt),  # exempt from at least one aspect
            "non_compliant_after": len(non_compliant),
            **{action: actions.get(action, 0) for action in map(str, Action)},
            "registry_failed": sum(1 for d in self._registry_decisions() if d.action is Action.FAILED),
            "registry_non_compliant": sum(1 for d in self._registry_decisions() if _leaves_non_compliant(d)),
            "transient_failures": self.transient_failures,
        }


def _leaves_non_compliant(decision: Decision) -> bool:
    """A violation left as it is (an organization-managed setting is the organization's), or a failed decision."""
    unresolved = decision.action not in (Action.REMEDIATED, Action.MANAGED)
    return (decision.status == Status.VIOLATION and unresolved) or decision.action is Action.FAILED
