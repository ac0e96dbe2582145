"""Enforcement: read each repository once, decide with the pure checks, apply only what differs.

`Enforcer.assess` performs the reads and returns a printable plan; `Enforcer.apply` performs the writes (none in
audit mode or on a dry run) and returns a report with one decision per repository and aspect.

- An AWS error on one repository - reading it or writing it - is that repository's `failed` decision, never the end
  of the run. Only listing the registry can end a full reconcile.
- Repositories are read and written with bounded parallelism (`ReconcileConcurrency`; boto3 clients are thread-safe);
  results and logs come out sorted by repository.
- A full reconcile that nears its time budget stops at a repository boundary and returns a `ReconcileProgress` to
  continue from in a fresh invocation; registry scanning is planned and written once, by the last piece.
- Registry scanning is read again right before it is written and the plan merged into what is there then (no lost
  update), then read back and the change logged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.model import (
    REGISTRY,
    START,
    Action,
    Aspect,
    Decision,
    EnforcementPlan,
    EnforcementReport,
    ReconcileProgress,
    RegistryScanning,
    RepositoryAssessment,
    Status,
)
from ecr_governance.enforce.scanning import (
    RepositoryCoverage,
    ScanningPlan,
    describe_scanning,
    is_scanned_on_push,
    merge_into,
    plan_event_coverage,
    plan_full_coverage,
    scan_on_push_filters,
)
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.enforce.standard import check_lifecycle_policy, check_repository_scan_on_push, check_tag_mutability
from ecr_governance.errors import Failure, FatalAwsError, GovernanceError, RepositoryNotFound
from ecr_governance.exemptions import ExemptAspect, Exemption, exemption_by_name, exemption_by_tags, tags_can_change
from ecr_governance.repositories import Repository

logger = Logger(service=SERVICE_NAME, child=True)
T = TypeVar("T")
R = TypeVar("R")


class EnforcementRegistry(Protocol):
    """What enforcement needs from ECR (the ECR adapter serves it; tests use an in-memory fake)."""

    def list_repositories(self) -> Iterator[Repository]: ...

    def get_repository(self, name: str) -> Repository: ...

    def list_tags(self, repository: Repository) -> dict[str, str]: ...

    def get_lifecycle_policy_text(self, repository_name: str) -> str | None: ...

    def get_registry_scanning(self) -> RegistryScanning: ...

    def put_tag_mutability(self, repository_name: str, mutability: str, exclusion_filters: tuple[str, ...]) -> None: ...

    def put_repository_scan_on_push(self, repository_name: str) -> None: ...

    def put_registry_scanning(self, scanning: RegistryScanning) -> None: ...

    def put_lifecycle_policy(self, repository_name: str, policy: dict[str, Any]) -> None: ...


class ExemptionTagSource(Protocol):
    """Every repository's value of one tag key in a few bulk reads (the Resource Groups Tagging API serves it)."""

    def repository_tag_values(self, tag_key: str) -> dict[str, str]:
        """Repository name -> value, for repositories carrying the key; raises AccessDenied when not allowed."""
        ...


class InvocationQueue(Protocol):
    """Where a reconcile that ran out of time queues its own next piece (Lambda's asynchronous invocation)."""

    def invoke_async(self, function_name: str, payload: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class ReconcileScope:
    """What one invocation covers: named repositories (an event), or a full reconcile (or its next piece)."""

    repository_names: tuple[str, ...] | None = None
    progress: ReconcileProgress | None = None  # a continued full reconcile
    should_stop: Callable[[], bool] = field(default=lambda: False)  # time budget of the invocation


def _scan_exempt(assessment: RepositoryAssessment) -> bool:
    return assessment.exemption.covers(ExemptAspect.SCAN_ON_PUSH)


NOT_COVERABLE_DETAIL = (
    "ECR's scanning limits (2 rules, 100 filters each) are reached and no broader filter spares the repositories "
    "exempt from scan on push: group them under their own prefix, or add a rule yourself"
)


class Enforcer:
    def __init__(
        self,
        registry: EnforcementRegistry,
        settings: EnforceSettings,
        tag_source: ExemptionTagSource | None = None,
    ):
        self._registry = registry
        self._settings = settings
        self._tag_source = tag_source

    # ---- the use cases ------------------------------------------------------------------------------------
    def assess(self, repository_names: Iterable[str] | None = None) -> EnforcementPlan:
        """Reads and pure decisions, no write: the named repositories, or every repository of the registry."""
        if repository_names is not None:
            scanning, scanning_failure = self._read_registry_scanning()
            return self._assess_named(tuple(dict.fromkeys(repository_names)), scanning, scanning_failure)
        walk = _FullWalk(self, ReconcileScope())
        for chunk in walk.chunks():
            walk.assessments.extend(chunk)
        return walk.plan()

    def reconcile(self, scope: ReconcileScope, dry_run: bool = False) -> EnforcementReport:
        """Assess and apply in one pass, as the function does: for a full reconcile, chunk by chunk (read, then
        write), stopping at a repository boundary when `scope.should_stop()` says the time is running out."""
        if scope.repository_names is not None:
            return self.apply(self.assess(scope.repository_names), dry_run)
        writes_enabled = self._settings.writes_enabled and not dry_run
        walk = _FullWalk(self, scope)
        decisions: list[Decision] = []
        for chunk in walk.chunks():
            walk.assessments.extend(chunk)
            decisions.extend(self._apply_repositories(chunk, writes_enabled))
        return self._finish(walk.plan(), decisions, writes_enabled)

    def _read_registry_scanning(self) -> tuple[RegistryScanning | None, Failure | None]:
        try:
            return self._registry.get_registry_scanning(), None
        except FatalAwsError:
            raise  # no call can succeed: not a registry-scanning problem
        except GovernanceError as error:
            return None, Failure.of(error)

    def _assess_named(
        self, names: Sequence[str], scanning: RegistryScanning | None, scanning_failure: Failure | None
    ) -> EnforcementPlan:
        missing: list[str] = []
        found: list[Repository] = []
        assessments: list[RepositoryAssessment] = []
        for name in names:
            try:
                found.append(self._registry.get_repository(name))
            except RepositoryNotFound:
                missing.append(name)
            except FatalAwsError:
                raise
            except GovernanceError as error:
                unread = Repository(name=name, arn="", tag_mutability="unknown")
                assessments.append(RepositoryAssessment(unread, failure=Failure.of(error)))
        for assessment in self._map(lambda r: self._assess_repository(r, scanning, None), found):
            if assessment.failure and assessment.failure.repository_gone:
                missing.append(assessment.repository.name)
            else:
                assessments.append(assessment)
        assessments.sort(key=lambda a: a.repository.name)
        scanning_plan = None
        if scanning is not None:
            scanning_plan = self._plan_event_scanning(scanning, assessments)
        return EnforcementPlan(
            assessments=tuple(assessments),
            registry_scanning=scanning,
            scanning=scanning_plan,
            coverage=tuple(_coverage(a) for a in assessments),
            missing_repositories=tuple(missing),
            scanning_failure=scanning_failure,
        )

    def _plan_event_scanning(
        self, scanning: RegistryScanning, assessments: Sequence[RepositoryAssessment]
    ) -> ScanningPlan:
        """The named repositories' coverage, added one narrow filter at a time (the daily reconcile folds them);
        the registry is listed only when a filter must be added, to spare repositories exempt from scanning."""
        needing = [
            a.repository.name
            for a in assessments
            if _coverage(a).must_scan and not is_scanned_on_push(a.repository.name, scanning)
        ]
        planned_on = scan_on_push_filters(scanning)
        if not needing:
            return ScanningPlan(scanning, planned_on)
        registry = {repository.name: repository for repository in self._registry.list_repositories()}
        names = sorted(registry)

        def is_scan_exempt(name: str) -> bool:
            return self._is_scan_exempt(registry[name])

        working, not_coverable = scanning, []
        for name in needing:
            step = plan_event_coverage(working, name, names, is_scan_exempt)
            if step.writes:
                working = _with_filters(working, step.filters_after)
            else:
                not_coverable.extend(step.not_coverable)
        filters_after = scan_on_push_filters(working) if working != scanning else None
        return ScanningPlan(scanning, planned_on, filters_after, tuple(needing), tuple(not_coverable))

    def _is_scan_exempt(self, repository: Repository) -> bool:
        """Whether a repository (not the event's) is exempt from scan on push; unreadable tags count as exempt."""
        try:
            return self._exemption(repository, None).covers(ExemptAspect.SCAN_ON_PUSH)
        except GovernanceError:
            return True

    def _bulk_tag_values(self) -> Mapping[str, str] | None:
        """The exemption tag of every repository in a few bulk reads, or None to read tags one repository at a time
        (no tag source, or GetResources denied)."""
        if self._tag_source is None:
            return None
        try:
            return self._tag_source.repository_tag_values(self._settings.exemptions.tag_key)
        except FatalAwsError:
            raise
        except GovernanceError as error:
            logger.warning(
                "bulk tag read failed: reading tags one repository at a time",
                extra={"reason": str(error), "error_code": getattr(error, "code", "")},
            )
            self._tag_source = None  # one WARNING per execution environment, not one per run
            return None

    def _exemption(self, repository: Repository, tag_values: Mapping[str, str] | None) -> Exemption:
        exemptions = self._settings.exemptions
        exemption = exemption_by_name(repository.name, exemptions)
        if tags_can_change(exemption):
            if tag_values is not None:
                value = tag_values.get(repository.name)
                tags = {} if value is None else {exemptions.tag_key: value}
            else:
                tags = self._registry.list_tags(repository)
            exemption |= exemption_by_tags(tags, exemptions)
        return exemption

    def _assess_repository(
        self, repository: Repository, scanning: RegistryScanning | None, tag_values: Mapping[str, str] | None
    ) -> RepositoryAssessment:
        try:
            return self._read_repository(repository, scanning, tag_values)
        except FatalAwsError:
            raise
        except GovernanceError as error:
            return RepositoryAssessment(repository, failure=Failure.of(error))

    def _read_repository(
        self, repository: Repository, scanning: RegistryScanning | None, tag_values: Mapping[str, str] | None
    ) -> RepositoryAssessment:
        exemption = self._exemption(repository, tag_values)
        if exemption.unrecognized:
            logger.warning(
                "exemption tag names no aspect",
                extra={
                    "repository": repository.name,
                    "words": list(exemption.unrecognized),
                    "tag": self._settings.exemptions.tag_key,
                },
            )
        checks = []
        if not exemption.covers(ExemptAspect.TAG_MUTABILITY):
            checks.append(check_tag_mutability(repository, self._settings))
        # The repository-level flag depends on the scan type: unknown when registry scanning could not be read.
        if scanning is not None and not exemption.covers(ExemptAspect.SCAN_ON_PUSH):
            repository_scan = check_repository_scan_on_push(repository, scanning)
            if repository_scan:
                checks.append(repository_scan)
        if not exemption.covers(ExemptAspect.LIFECYCLE):
            policy_text = self._registry.get_lifecycle_policy_text(repository.name)
            checks.append(check_lifecycle_policy(policy_text, self._settings))
        return RepositoryAssessment(repository, exemption, tuple(checks))

    def _map(self, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`work` over `items` with bounded parallelism, results in the order of `items`."""
        if self._settings.reconcile_concurrency <= 1 or len(items) <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._settings.reconcile_concurrency, len(items))) as pool:
            return list(pool.map(work, items))

    # ---- writes ------------------------------------------------------------------------------------------
    def apply(self, plan: EnforcementPlan, dry_run: bool = False) -> EnforcementReport:
        """The writes of a plan (none in audit mode or on a dry run), one decision per repository and aspect."""
        writes_enabled = self._settings.writes_enabled and not dry_run
        return self._finish(plan, self._apply_repositories(plan.assessments, writes_enabled), writes_enabled)

    def _apply_repositories(self, assessments: Sequence[RepositoryAssessment], writes_enabled: bool) -> list[Decision]:
        per_repository = self._map(lambda a: self._apply_repository(a, writes_enabled), list(assessments))
        for assessment, decisions in zip(assessments, per_repository, strict=True):
            _log_partial_remediation(assessment.repository.name, decisions)
        return [decision for decisions in per_repository for decision in decisions]

    def _finish(self, plan: EnforcementPlan, decisions: list[Decision], writes_enabled: bool) -> EnforcementReport:
        """Registry scanning (once, by the last piece of a run), then every decision sorted by repository and logged."""
        report = EnforcementReport(continuation=plan.continuation)
        for name in plan.missing_repositories:
            report.decisions.append(Decision(name, "repository", "missing", "deleted", None, Action.REPOSITORY_GONE))
        report.decisions.extend(decisions)
        report.decisions.extend(self._apply_registry_scanning(plan, writes_enabled))
        report.decisions.sort(key=lambda d: (d.repository == REGISTRY, d.repository))
        for decision in report.decisions:
            _log_decision(decision)
        return report

    def _apply_repository(self, assessment: RepositoryAssessment, writes_enabled: bool) -> list[Decision]:
        name = assessment.repository.name
        if assessment.failure:
            unread = Decision(name, "repository", "unknown", "not read", None, Action.NONE)
            return [unread.failed_with(assessment.failure)]
        decisions = [
            Decision(name, str(aspect), "exempt", "unchanged", None, Action.EXEMPT, str(assessment.exemption))
            for aspect in Aspect
            if aspect is not Aspect.REPOSITORY_SCAN_ON_PUSH and assessment.exemption.covers(aspect.exempt_aspect)
        ]
        gone = False
        for check in assessment.checks:
            decision = Decision(
                name, str(check.aspect), str(check.status), check.before, check.after, Action.NONE, check.detail
            )
            if check.status is not Status.VIOLATION:
                decisions.append(decision)
            elif gone:
                decisions.append(replace(decision, action=Action.REPOSITORY_GONE))
            elif not writes_enabled:
                decisions.append(replace(decision, action=Action.WOULD_REMEDIATE))
            else:
                try:
                    self._write(assessment.repository, check.aspect)
                    decisions.append(replace(decision, action=Action.REMEDIATED))
                except RepositoryNotFound:
                    gone = True
                    decisions.append(replace(decision, action=Action.REPOSITORY_GONE))
                except GovernanceError as error:
                    decisions.append(decision.failed_with(Failure.of(error)))
        return decisions

    def _write(self, repository: Repository, aspect: Aspect) -> None:
        if aspect is Aspect.TAG_MUTABILITY:
            self._registry.put_tag_mutability(
                repository.name, str(self._settings.tag_mutability), self._settings.remediation_exclusion_filters
            )
        elif aspect is Aspect.REPOSITORY_SCAN_ON_PUSH:
            self._registry.put_repository_scan_on_push(repository.name)
        elif aspect is Aspect.LIFECYCLE_POLICY:
            self._registry.put_lifecycle_policy(repository.name, self._settings.standard_lifecycle_policy)
        else:  # pragma: no cover - the registry-level aspect never reaches here
            raise ValueError(f"no per-repository write for {aspect}")

    def _apply_registry_scanning(self, plan: EnforcementPlan, writes_enabled: bool) -> list[Decision]:
        """Resolve the repositories' scan-on-push coverage with (at most) one registry-level write."""
        if plan.registry_scanning is None:
            unread = Decision(REGISTRY, str(Aspect.REGISTRY_SCANNING), "unknown", "not read", None, Action.NONE)
            failure = plan.scanning_failure or Failure(code="Unreadable", message="registry scanning could not be read")
            return [unread.failed_with(failure)]
        scanning_plan = plan.scanning
        if scanning_plan is None:  # a piece of a continued reconcile: the last piece plans the whole registry
            return []
        outcome, failure, after = Action.NONE, None, None
        if scanning_plan.writes:
            if not writes_enabled:
                outcome = Action.WOULD_REMEDIATE
            else:
                try:
                    outcome, after = self._write_registry_scanning(scanning_plan)
                except GovernanceError as error:
                    outcome, failure = Action.FAILED, Failure.of(error)
        decisions = self._coverage_decisions(plan, scanning_plan, outcome, failure, after)
        if scanning_plan.writes:
            target = after or _with_filters(scanning_plan.current, scanning_plan.filters_after)
            registry = Decision(
                REGISTRY,
                str(Aspect.REGISTRY_SCANNING),
                str(Status.VIOLATION),
                describe_scanning(scanning_plan.current),
                describe_scanning(target),
                outcome,
            )
            decisions.append(registry.failed_with(failure) if failure else registry)
        return decisions

    def _write_registry_scanning(self, scanning_plan: ScanningPlan) -> tuple[Action, RegistryScanning | None]:
        """Read what is there now, merge the plan into it, write, read back and log what changed."""
        fresh = self._registry.get_registry_scanning()
        merged = merge_into(fresh, scanning_plan)
        if merged is None:
            covered = all(is_scanned_on_push(name, fresh) for name in scanning_plan.uncovered)
            return (Action.REMEDIATED if covered else Action.NOT_REMEDIABLE), fresh
        self._registry.put_registry_scanning(merged)
        read_back = self._registry.get_registry_scanning()
        logger.info(
            "registry scanning changed",
            extra={
                "planned_on": describe_scanning(scanning_plan.current),
                "before": describe_scanning(fresh),
                "written": describe_scanning(merged),
                "read_back": describe_scanning(read_back),
                "merged_into_a_concurrent_change": fresh != scanning_plan.current,
            },
        )
        if read_back != merged:
            logger.warning(
                "registry scanning changed again right after our write",
                extra={"written": describe_scanning(merged), "read_back": describe_scanning(read_back)},
            )
        return Action.REMEDIATED, read_back

    def _coverage_decisions(
        self,
        plan: EnforcementPlan,
        scanning_plan: ScanningPlan,
        outcome: Action,
        failure: Failure | None,
        after: RegistryScanning | None,
    ) -> list[Decision]:
        """One registry_scanning decision per repository of this plan that must be scanned."""
        current = scanning_plan.current
        not_coverable = set(scanning_plan.not_coverable)
        uncovered = set(scanning_plan.uncovered)
        decisions = []
        for fact in plan.coverage:
            if not fact.must_scan:
                continue
            if fact.name not in uncovered:
                decisions.append(
                    Decision(
                        fact.name,
                        str(Aspect.REGISTRY_SCANNING),
                        str(Status.COMPLIANT),
                        f"{current.scan_type} covered",
                        None,
                        Action.NONE,
                    )
                )
                continue
            decision = Decision(
                fact.name,
                str(Aspect.REGISTRY_SCANNING),
                str(Status.VIOLATION),
                f"{current.scan_type} not covered",
                f"{current.scan_type} SCAN_ON_PUSH",
                Action.NONE,
                "no registry scanning rule matches the repository",
            )
            if fact.name in not_coverable or (after is not None and not is_scanned_on_push(fact.name, after)):
                decisions.append(replace(decision, action=Action.NOT_REMEDIABLE, detail=NOT_COVERABLE_DETAIL))
            elif failure is not None:
                decisions.append(decision.failed_with(failure))
            else:
                decisions.append(replace(decision, action=outcome))
        return decisions


class _FullWalk:
    """One invocation's walk over the registry in sorted chunks: where it starts (a previous piece's progress), what
    it has assessed, and where it stopped when the time budget ran out."""

    def __init__(self, enforcer: Enforcer, scope: ReconcileScope):
        self._enforcer = enforcer
        self._scope = scope
        self.scanning, self.scanning_failure = enforcer._read_registry_scanning()
        self.repositories = sorted(enforcer._registry.list_repositories(), key=lambda r: r.name)
        self.tag_values = enforcer._bulk_tag_values()
        self.progress = scope.progress or START
        self.assessments: list[RepositoryAssessment] = []
        self.continuation: ReconcileProgress | None = None

    def chunks(self) -> Iterator[list[RepositoryAssessment]]:
        pending = [r for r in self.repositories if r.name > self.progress.after]
        size = max(1, self._enforcer._settings.reconcile_concurrency * 4)
        for start in range(0, len(pending), size):
            if start and self._scope.should_stop():
                self.continuation = self.progress.extended(pending[start - 1].name, self.assessments)
                logger.info(
                    "reconcile continues in a new invocation",
                    extra={
                        "stopped_after": self.continuation.after,
                        "handled": start,
                        "remaining": len(pending) - start,
                    },
                )
                return
            chunk = pending[start : start + size]
            yield self._enforcer._map(
                lambda r: self._enforcer._assess_repository(r, self.scanning, self.tag_values), chunk
            )

    def plan(self) -> EnforcementPlan:
        found = [a for a in self.assessments if not _gone(a)]
        scanning_plan = None
        if self.continuation is None and self.scanning is not None:
            facts = _earlier_coverage(self.repositories, self.progress) + [_coverage(a) for a in found]
            scanning_plan = plan_full_coverage(self.scanning, facts)
        return EnforcementPlan(
            assessments=tuple(found),
            registry_scanning=self.scanning,
            scanning=scanning_plan,
            coverage=tuple(_coverage(a) for a in found),
            missing_repositories=tuple(a.repository.name for a in self.assessments if _gone(a)),
            scanning_failure=self.scanning_failure,
            continuation=self.continuation,
            progress_before=self._scope.progress,
        )


def _with_filters(scanning: RegistryScanning, filters: tuple[str, ...] | None) -> RegistryScanning:
    """`scanning` with its SCAN_ON_PUSH rule holding `filters` (what a plan would write onto an unchanged registry)."""
    merged = merge_into(scanning, ScanningPlan(scanning, scan_on_push_filters(scanning), filters))
    return merged or scanning


def _coverage(assessment: RepositoryAssessment) -> RepositoryCoverage:
    exempt = _scan_exempt(assessment)
    return RepositoryCoverage(
        assessment.repository.name, must_scan=not (exempt or assessment.failure), protected=exempt
    )


def _earlier_coverage(repositories: Sequence[Repository], progress: ReconcileProgress) -> list[RepositoryCoverage]:
    """What earlier pieces of the reconcile learnt, for the repositories they handled."""
    if not progress.after:
        return []
    exempt, unread = set(progress.scan_exempt), set(progress.unread)
    handled = [r.name for r in repositories if r.name <= progress.after]
    return [
        RepositoryCoverage(name, must_scan=name not in exempt | unread, protected=name in exempt) for name in handled
    ]


def _gone(assessment: RepositoryAssessment) -> bool:
    return bool(assessment.failure and assessment.failure.repository_gone)


def _log_partial_remediation(repository: str, decisions: Sequence[Decision]) -> None:
    failed = [d.aspect for d in decisions if d.action is Action.FAILED]
    applied = [d.aspect for d in decisions if d.action is Action.REMEDIATED]
    if failed:
        logger.error(
            "repository left partially remediated",
            extra={"repository": repository, "remediated": applied, "failed": failed},
        )


def _log_decision(decision: Decision) -> None:
    fields = {
        "repository": decision.repository,
        "violation": decision.aspect if decision.status == Status.VIOLATION else None,
        "aspect": decision.aspect,
        "status": decision.status,
        "before": decision.before,
        "after": decision.after,
        "action": str(decision.action),
        "detail": decision.detail,
    }
    if decision.action is Action.FAILED:
        fields.update(error_code=decision.error_code, transient=decision.transient)
        logger.error("enforcement decision", extra=fields)
    elif decision.action is Action.NONE and decision.status == Status.COMPLIANT:
        logger.debug("enforcement decision", extra=fields)  # daily reconciles would otherwise log every repository
    else:
        logger.info("enforcement decision", extra=fields)
