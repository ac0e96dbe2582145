"""Registry scanning for a run: plan the coverage (an event's repositories, or the whole registry) and apply it with
at most one PutRegistryScanningConfiguration, re-read right before it is written and merged into what is there then
(no lost update), then read back and the change logged. The coverage arithmetic itself is pure (scanning.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.model import (
    REGISTRY,
    Action,
    Aspect,
    Decision,
    EnforcementPlan,
    ReconcileProgress,
    RepositoryAssessment,
    Status,
)
from ecr_governance.enforce.ports import EnforcementRegistry
from ecr_governance.enforce.scanning import (
    RegistryScanning,
    RepositoryCoverage,
    ScanningPlan,
    describe_scanning,
    is_scanned_on_push,
    merge_into,
    plan_event_coverage,
    plan_full_coverage,
    scan_on_push_filters,
)
from ecr_governance.errors import Failure, GovernanceError, ManagedByOrganization
from ecr_governance.repositories import Repository

logger = Logger(service=SERVICE_NAME, child=True)

NOT_COVERABLE_DETAIL = (
    "ECR's scanning limits (2 rules, 100 filters each) are reached and no broader filter spares the repositories "
    "exempt from scan on push: group them under their own prefix, or add a rule yourself"
)
MANAGED_DETAIL = "registry scanning is managed by an organization policy (BlockedByOrganizationPolicyException)"
UNREADABLE = Failure(code="Unreadable", message="registry scanning could not be read")


# ---- planning (pure but for the registry listing an event plan may need) ----------------------------------------
def plan_event_scanning(
    scanning: RegistryScanning,
    assessments: Sequence[RepositoryAssessment],
    list_registry: Callable[[], Sequence[Repository]],
    is_scan_exempt: Callable[[Repository], bool],
) -> ScanningPlan:
    """The named repositories' coverage, added one narrow filter at a time (the daily reconcile folds them);
    the registry is listed only when a filter must be added, to spare repositories exempt from scanning."""
    needing = [
        a.repository.name
        for a in assessments
        if a.coverage.must_scan and not is_scanned_on_push(a.repository.name, scanning)
    ]
    planned_on = scan_on_push_filters(scanning)
    if not needing:
        return ScanningPlan(scanning, planned_on)
    registry = {repository.name: repository for repository in list_registry()}
    names = sorted(registry)
    working = scanning
    not_coverable: list[str] = []
    for name in needing:
        step = plan_event_coverage(working, name, names, lambda other: is_scan_exempt(registry[other]))
        if step.writes:
            working = with_filters(working, step.filters_after)
        else:
            not_coverable.extend(step.not_coverable)
    filters_after = scan_on_push_filters(working) if working != scanning else None
    return ScanningPlan(scanning, planned_on, filters_after, tuple(needing), tuple(not_coverable))


def plan_reconcile_scanning(
    scanning: RegistryScanning,
    repositories: Sequence[Repository],
    progress: ReconcileProgress,
    assessments: Sequence[RepositoryAssessment],
) -> ScanningPlan:
    """The whole registry's coverage, by the last piece of a reconcile: what earlier pieces learnt and this one's."""
    facts = earlier_coverage(repositories, progress) + [a.coverage for a in assessments]
    return plan_full_coverage(scanning, facts)


def earlier_coverage(repositories: Sequence[Repository], progress: ReconcileProgress) -> list[RepositoryCoverage]:
    """What earlier pieces of the reconcile learnt, for the repositories they handled."""
    if not progress.after:
        return []
    exempt, unread = set(progress.scan_exempt), set(progress.unread)
    handled = [r.name for r in repositories if r.name <= progress.after]
    return [
        RepositoryCoverage(name, must_scan=name not in exempt | unread, protected=name in exempt) for name in handled
    ]


def with_filters(scanning: RegistryScanning, filters: tuple[str, ...] | None) -> RegistryScanning:
    """`scanning` with its SCAN_ON_PUSH rule holding `filters` (what a plan would write onto an unchanged registry)."""
    merged = merge_into(scanning, ScanningPlan(scanning, scan_on_push_filters(scanning), filters))
    return merged or scanning


def coverage_decisions(
    plan: EnforcementPlan,
    scanning_plan: ScanningPlan,
    outcome: Action,
    failure: Failure | None,
    after: RegistryScanning | None,
) -> list[Decision]:
    """One registry_scanning decision per repository of this plan that must be scanned."""
    scan_type = scanning_plan.current.scan_type
    not_coverable = set(scanning_plan.not_coverable)
    uncovered = set(scanning_plan.uncovered)
    decisions = []
    for fact in plan.coverage:
        if not fact.must_scan:
            continue
        aspect = str(Aspect.REGISTRY_SCANNING)
        if fact.name not in uncovered:
            decisions.append(
                Decision(fact.name, aspect, str(Status.COMPLIANT), f"{scan_type} covered", None, Action.NONE)
            )
            continue
        decision = Decision(
            fact.name,
            aspect,
            str(Status.VIOLATION),
            f"{scan_type} not covered",
            f"{scan_type} SCAN_ON_PUSH",
            Action.NONE,
            "no registry scanning rule matches the repository",
        )
        if outcome is Action.MANAGED:
            decisions.append(replace(decision, action=outcome, detail=MANAGED_DETAIL))
        elif fact.name in not_coverable or (after is not None and not is_scanned_on_push(fact.name, after)):
            decisions.append(replace(decision, action=Action.NOT_REMEDIABLE, detail=NOT_COVERABLE_DETAIL))
        elif failure is not None:
            decisions.append(decision.failed_with(failure))
        else:
            decisions.append(replace(decision, action=outcome))
    return decisions


# ---- applying ---------------------------------------------------------------------------------------------------
class RegistryScanningWriter:
    def __init__(self, registry: EnforcementRegistry):
        self._registry = registry

    def apply(self, plan: EnforcementPlan, writes_enabled: bool) -> list[Decision]:
        """Resolve the repositories' scan-on-push coverage with (at most) one registry-level write."""
        if plan.registry_scanning is None:
            unread = Decision(REGISTRY, str(Aspect.REGISTRY_SCANNING), "unknown", "not read", None, Action.NONE)
            return [unread.failed_with(plan.scanning_failure or UNREADABLE)]
        scanning_plan = plan.scanning
        if scanning_plan is None:  # a piece of a continued reconcile: the last piece plans the whole registry
            return []
        outcome, failure, after = Action.NONE, None, None
        if scanning_plan.writes:
            if not writes_enabled:
                outcome = Action.WOULD_REMEDIATE
            else:
                try:
                    outcome, after = self._write(scanning_plan)
                except ManagedByOrganization:
                    outcome = Action.MANAGED
                except GovernanceError as error:
                    outcome, failure = Action.FAILED, Failure.of(error)
        decisions = coverage_decisions(plan, scanning_plan, outcome, failure, after)
        if scanning_plan.writes:
            target = after or with_filters(scanning_plan.current, scanning_plan.filters_after)
            registry = Decision(
                REGISTRY,
                str(Aspect.REGISTRY_SCANNING),
                str(Status.VIOLATION),
                describe_scanning(scanning_plan.current),
                describe_scanning(target),
                outcome,
                MANAGED_DETAIL if outcome is Action.MANAGED else "",
            )
            decisions.append(registry.failed_with(failure) if failure else registry)
        return decisions

    def _write(self, scanning_plan: ScanningPlan) -> tuple[Action, RegistryScanning | None]:
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
