"""Enforcement's use cases: assess (reads, a printable plan, no write), apply (the writes of a plan, none in audit
mode or on a dry run) and reconcile (both, as the function does, chunk by chunk for a full reconcile).

- An AWS error on one repository - reading it or writing it - is that repository's `failed` decision, never the end
  of the run. Only listing the registry can end a full reconcile.
- Repositories are read and written with bounded parallelism (`ReconcileConcurrency`); results and logs come out
  sorted by repository.
- A full reconcile that nears its time budget stops at a repository boundary and returns a `ReconcileProgress` to
  continue from in a fresh invocation (reconcile.py); registry scanning is planned and written once, by the last
  piece (registry_scanning.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ecr_governance.enforce.apply import Applier, report_of
from ecr_governance.enforce.assess import Assessor
from ecr_governance.enforce.model import Decision, EnforcementPlan, EnforcementReport
from ecr_governance.enforce.ports import EnforcementRegistry, ExemptionTagSource
from ecr_governance.enforce.reconcile import FullWalk, ReconcileScope
from ecr_governance.enforce.registry_aspects import RegistryAspectsWriter, RegistryReader
from ecr_governance.enforce.registry_scanning import RegistryScanningWriter, plan_event_scanning
from ecr_governance.enforce.settings import EnforceSettings


class Enforcer:
    def __init__(
        self,
        registry: EnforcementRegistry,
        settings: EnforceSettings,
        tag_source: ExemptionTagSource | None = None,
    ):
        self._settings = settings
        self._assessor = Assessor(registry, settings, tag_source)
        self._reader = RegistryReader(registry, settings)
        self._applier = Applier(registry, settings)
        self._scanning = RegistryScanningWriter(registry)
        self._registry_aspects = RegistryAspectsWriter(registry)

    def assess(self, repository_names: Iterable[str] | None = None) -> EnforcementPlan:
        """Reads and pure decisions, no write: the named repositories, or every repository of the registry."""
        if repository_names is not None:
            return self._assess_named(repository_names)
        walk = self._walk(ReconcileScope())
        for _ in walk.chunks():
            pass  # the walk records every chunk's assessments
        return walk.plan()

    def reconcile(self, scope: ReconcileScope, dry_run: bool = False) -> EnforcementReport:
        """Assess and apply in one pass, as the function does: for a full reconcile, chunk by chunk (read, then
        write), stopping at a repository boundary when `scope.should_stop()` says the time is running out."""
        if scope.repository_names is not None:
            return self.apply(self.assess(scope.repository_names), dry_run)
        writes_enabled = self._writes_enabled(dry_run)
        walk = self._walk(scope)
        decisions: list[Decision] = []
        for chunk in walk.chunks():
            decisions.extend(self._applier.apply_repositories(chunk, writes_enabled))
        return self._finish(walk.plan(), decisions, writes_enabled)

    def apply(self, plan: EnforcementPlan, dry_run: bool = False) -> EnforcementReport:
        """The writes of a plan (none in audit mode or on a dry run), one decision per repository and aspect."""
        writes_enabled = self._writes_enabled(dry_run)
        return self._finish(plan, self._applier.apply_repositories(plan.assessments, writes_enabled), writes_enabled)

    def _writes_enabled(self, dry_run: bool) -> bool:
        return self._settings.writes_enabled and not dry_run

    def _walk(self, scope: ReconcileScope) -> FullWalk:
        return FullWalk(self._assessor, self._reader, scope, self._settings.reconcile_concurrency)

    def _assess_named(self, names: Iterable[str]) -> EnforcementPlan:
        """An event's repositories; the registry-wide aspects are left to the daily reconcile."""
        context = self._reader.context()
        assessments, missing = self._assessor.assess_named(names, context)
        scanning, scanning_plan = context.scanning, None
        if scanning is not None:
            scanning_plan = plan_event_scanning(
                scanning, assessments, self._assessor.list_repositories, self._assessor.is_scan_exempt
            )
        return EnforcementPlan(
            assessments=tuple(assessments),
            registry_scanning=scanning,
            scanning=scanning_plan,
            coverage=tuple(a.coverage for a in assessments),
            missing_repositories=tuple(missing),
            scanning_failure=context.scanning_failure,
            registry_checks=context.unread,
        )

    def _finish(self, plan: EnforcementPlan, decisions: Sequence[Decision], writes_enabled: bool) -> EnforcementReport:
        """Registry scanning and the registry's aspects (once, by the last piece of a run), then every decision
        sorted by repository and logged."""
        registry = self._registry_aspects.apply(plan.registry_checks, writes_enabled)
        return report_of(plan, [*decisions, *self._scanning.apply(plan, writes_enabled), *registry])
