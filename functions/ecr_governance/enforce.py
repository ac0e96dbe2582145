"""Enforcement: read each repository once, decide with the pure checks in standard.py, apply only what differs.

`Enforcer.assess` performs the reads and returns a printable plan; `Enforcer.apply` performs the writes (none in
audit mode or on a dry run) and returns a report with one decision per repository and aspect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import GovernanceError, RepositoryNotFound
from ecr_governance.registry import EcrRegistry, RegistryScanning, Repository
from ecr_governance.settings import Settings
from ecr_governance.standard import (
    Aspect,
    Check,
    Status,
    check_lifecycle_policy,
    check_registry_scanning,
    check_repository_scan_on_push,
    check_tag_mutability,
    exemption_by_name,
    exemption_by_tags,
    is_scanned_on_push,
    plan_scanning_coverage,
)

logger = Logger(service=SERVICE_NAME, child=True)

# The ECR actions enforcement calls, by the adapter methods it uses; template.yaml grants exactly these.
ENFORCE_IAM_ACTIONS = frozenset(
    {
        "ecr:DescribeRepositories",
        "ecr:GetLifecyclePolicy",
        "ecr:ListTagsForResource",
        "ecr:GetRegistryScanningConfiguration",
        "ecr:PutImageTagMutability",
        "ecr:PutImageScanningConfiguration",
        "ecr:PutRegistryScanningConfiguration",
        "ecr:PutLifecyclePolicy",
    }
)
REGISTRY = "(registry)"


class Action(StrEnum):
    NONE = "none"  # compliant, or a custom policy kept
    EXEMPT = "exempt"
    REMEDIATED = "remediated"
    WOULD_REMEDIATE = "would_remediate"  # audit mode or dry run
    REPOSITORY_GONE = "repository_gone"  # deleted between the event and its handling
    FAILED = "failed"
    NOT_REMEDIABLE = "not_remediable"  # ECR limits prevent it (reported, e.g. scanning rules full)


@dataclass(frozen=True)
class Decision:
    repository: str
    aspect: str
    status: str
    before: str
    after: str | None
    action: Action
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "aspect": self.aspect,
            "status": self.status,
            "before": self.before,
            "after": self.after,
            "action": str(self.action),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class RepositoryAssessment:
    repository: Repository
    exempt_reason: str | None = None
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True)
class EnforcementPlan:
    assessments: tuple[RepositoryAssessment, ...]
    registry_scanning: RegistryScanning
    scanning_after: RegistryScanning | None = None
    scanning_not_coverable: tuple[str, ...] = ()
    missing_repositories: tuple[str, ...] = ()  # asked for by an event, gone by the time we looked


@dataclass
class EnforcementReport:
    decisions: list[Decision] = field(default_factory=list)

    @property
    def repositories(self) -> list[str]:
        return sorted({d.repository for d in self.decisions if d.repository != REGISTRY})

    def count(self, action: Action) -> int:
        """Decisions per repository setting; the registry-level scanning write is counted through the
        repositories it covers, not once more for itself."""
        return sum(1 for d in self.decisions if d.action is action and d.repository != REGISTRY)

    def summary(self) -> dict[str, int]:
        actions = Counter(str(d.action) for d in self.decisions if d.repository != REGISTRY)
        repositories = {d.repository for d in self.decisions if d.repository != REGISTRY}
        non_compliant = {
            d.repository
            for d in self.decisions
            if d.status == Status.VIOLATION and d.action is not Action.REMEDIATED and d.repository != REGISTRY
        }
        exempt = {d.repository for d in self.decisions if d.action is Action.EXEMPT}
        return {
            "repositories": len(repositories),
            "exempt": len(exempt),
            "non_compliant_after": len(non_compliant - exempt),
            **{action: actions.get(action, 0) for action in map(str, Action)},
        }


class Enforcer:
    def __init__(self, registry: EcrRegistry, settings: Settings):
        self._registry = registry
        self._settings = settings

    # ---- reads + pure decisions --------------------------------------------------------------------------
    def assess(self, repository_names: Iterable[str] | None = None) -> EnforcementPlan:
        """Assess the named repositories, or every repository of the registry when None (full reconcile)."""
        scanning = self._registry.get_registry_scanning()
        missing: list[str] = []
        if repository_names is None:
            repositories = list(self._registry.list_repositories())
        else:
            repositories = []
            for name in dict.fromkeys(repository_names):
                try:
                    repositories.append(self._registry.get_repository(name))
                except RepositoryNotFound:
                    missing.append(name)
        assessments = []
        for repository in repositories:
            try:
                assessments.append(self._assess_repository(repository, scanning))
            except RepositoryNotFound:
                missing.append(repository.name)
        # New broad filters must not start scanning an exempt repository; only a full reconcile knows them all.
        must_not_cover = None
        if repository_names is None:
            must_not_cover = frozenset(
                a.repository.name
                for a in assessments
                if a.exempt_reason and not is_scanned_on_push(a.repository.name, scanning)
            )
        uncovered = [
            a.repository.name
            for a in assessments
            if any(c.aspect is Aspect.REGISTRY_SCANNING and c.status is Status.VIOLATION for c in a.checks)
        ]
        coverage = plan_scanning_coverage(scanning, uncovered, must_not_cover)
        return EnforcementPlan(
            assessments=tuple(assessments),
            registry_scanning=scanning,
            scanning_after=coverage.after,
            scanning_not_coverable=coverage.not_coverable,
            missing_repositories=tuple(missing),
        )

    def _assess_repository(self, repository: Repository, scanning: RegistryScanning) -> RepositoryAssessment:
        exempt_reason = exemption_by_name(repository.name, self._settings)
        if exempt_reason is None:
            exempt_reason = exemption_by_tags(self._registry.list_tags(repository), self._settings)
        if exempt_reason:
            return RepositoryAssessment(repository, exempt_reason)
        checks = [check_tag_mutability(repository, self._settings), check_registry_scanning(repository.name, scanning)]
        repository_scan = check_repository_scan_on_push(repository, scanning)
        if repository_scan:
            checks.append(repository_scan)
        checks.append(check_lifecycle_policy(self._registry.get_lifecycle_policy_text(repository.name), self._settings))
        return RepositoryAssessment(repository, None, tuple(checks))

    # ---- writes ------------------------------------------------------------------------------------------
    def apply(self, plan: EnforcementPlan, dry_run: bool = False) -> EnforcementReport:
        writes_enabled = self._settings.writes_enabled and not dry_run
        report = EnforcementReport()
        for name in plan.missing_repositories:
            report.decisions.append(Decision(name, "repository", "missing", "deleted", None, Action.REPOSITORY_GONE))
        for assessment in plan.assessments:
            report.decisions.extend(self._apply_repository(assessment, plan, writes_enabled))
        report.decisions.extend(self._apply_registry_scanning(plan, report, writes_enabled))
        for decision in report.decisions:
            _log_decision(decision)
        return report

    def _apply_repository(
        self, assessment: RepositoryAssessment, plan: EnforcementPlan, writes_enabled: bool
    ) -> list[Decision]:
        name = assessment.repository.name
        if assessment.exempt_reason:
            return [Decision(name, "all", "exempt", "unchanged", None, Action.EXEMPT, assessment.exempt_reason)]
        decisions: list[Decision] = []
        gone = False
        for check in assessment.checks:
            decision = Decision(
                name, str(check.aspect), str(check.status), check.before, check.after, Action.NONE, check.detail
            )
            if check.status is not Status.VIOLATION:
                decisions.append(decision)
                continue
            if check.aspect is Aspect.REGISTRY_SCANNING:
                # Applied once for the whole registry after the per-repository writes; resolved there.
                decisions.append(decision)
                continue
            if gone:
                decisions.append(replace(decision, action=Action.REPOSITORY_GONE))
                continue
            if not writes_enabled:
                decisions.append(replace(decision, action=Action.WOULD_REMEDIATE))
                continue
            try:
                self._write(assessment.repository, check.aspect)
                decisions.append(replace(decision, action=Action.REMEDIATED))
            except RepositoryNotFound:
                gone = True
                decisions.append(replace(decision, action=Action.REPOSITORY_GONE))
            except GovernanceError as error:
                decisions.append(replace(decision, action=Action.FAILED, detail=str(error)))
        failed = [d.aspect for d in decisions if d.action is Action.FAILED]
        if failed:
            applied = [d.aspect for d in decisions if d.action is Action.REMEDIATED]
            logger.error(
                "repository left partially remediated",
                extra={"repository": name, "remediated": applied, "failed": failed},
            )
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

    def _apply_registry_scanning(
        self, plan: EnforcementPlan, report: EnforcementReport, writes_enabled: bool
    ) -> list[Decision]:
        """Resolve every repository's registry-scanning violation with (at most) one registry-level write."""
        pending = [
            i
            for i, d in enumerate(report.decisions)
            if d.aspect == Aspect.REGISTRY_SCANNING and d.status == Status.VIOLATION
        ]
        if not pending:
            return []
        registry_decision = Decision(
            REGISTRY,
            str(Aspect.REGISTRY_SCANNING),
            str(Status.VIOLATION),
            _describe_scanning(plan.registry_scanning),
            _describe_scanning(plan.scanning_after) if plan.scanning_after else None,
            Action.NONE,
        )
        if plan.scanning_after is None:
            outcome = Action.NOT_REMEDIABLE
        elif not writes_enabled:
            outcome = Action.WOULD_REMEDIATE
        else:
            try:
                self._registry.put_registry_scanning(plan.scanning_after)
                outcome = Action.REMEDIATED
            except GovernanceError as error:
                outcome = Action.FAILED
                registry_decision = replace(registry_decision, detail=str(error))
        not_coverable = set(plan.scanning_not_coverable)
        for index in pending:
            decision = report.decisions[index]
            action = Action.NOT_REMEDIABLE if decision.repository in not_coverable else outcome
            detail = decision.detail
            if action is Action.NOT_REMEDIABLE:
                detail = (
                    "ECR's scanning limits (2 rules, 100 filters each) are reached and no broader filter spares the "
                    "exempt repositories: group exempt repositories under their own prefix, or add a rule yourself"
                )
            report.decisions[index] = replace(decision, action=action, detail=detail)
        return [replace(registry_decision, action=outcome)]


def _describe_scanning(scanning: RegistryScanning) -> str:
    rules = "; ".join(f"{rule.scan_frequency}: {','.join(rule.filters)}" for rule in scanning.rules)
    return f"{scanning.scan_type} [{rules}]" if rules else f"{scanning.scan_type} [no rules]"


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
        logger.error("enforcement decision", extra=fields)
    elif decision.action is Action.NONE and decision.status == Status.COMPLIANT:
        logger.debug("enforcement decision", extra=fields)  # daily reconciles would otherwise log every repository
    else:
        logger.info("enforcement decision", extra=fields)
