"""Enforcement: read each repository once, decide with the pure checks in standard.py, apply only what differs.

`Enforcer.assess` performs the reads and returns a printable plan; `Enforcer.apply` performs the writes (none in
audit mode or on a dry run) and returns a report with one decision per repository and aspect. An AWS error on one
repository - while reading it or writing it - is that repository's `failed` decision, never the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.model import (
    REGISTRY,
    Action,
    Aspect,
    Decision,
    EnforcementPlan,
    EnforcementReport,
    Failure,
    RegistryScanning,
    Repository,
    RepositoryAssessment,
    Status,
)
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.enforce.standard import (
    check_lifecycle_policy,
    check_registry_scanning,
    check_repository_scan_on_push,
    check_tag_mutability,
    is_scanned_on_push,
    plan_scanning_coverage,
)
from ecr_governance.errors import CredentialsMissing, GovernanceError, RepositoryNotFound
from ecr_governance.exemptions import ExemptAspect, exemption_by_name, exemption_by_tags, tags_can_change

logger = Logger(service=SERVICE_NAME, child=True)


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


NOT_COVERABLE_DETAIL = (
    "ECR's scanning limits (2 rules, 100 filters each) are reached and no broader filter spares the repositories "
    "exempt from scan on push: group them under their own prefix, or add a rule yourself"
)


class Enforcer:
    def __init__(self, registry: EnforcementRegistry, settings: EnforceSettings):
        self._registry = registry
        self._settings = settings

    # ---- reads + pure decisions --------------------------------------------------------------------------
    def assess(self, repository_names: Iterable[str] | None = None) -> EnforcementPlan:
        """Assess the named repositories, or every repository of the registry when None (full reconcile).

        Only listing the registry can end a full reconcile (there is nothing to go on without it); every other
        read that fails is recorded against its repository, or against registry scanning, and the run goes on.
        """
        scanning: RegistryScanning | None
        try:
            scanning = self._registry.get_registry_scanning()
            scanning_failure = None
        except CredentialsMissing:
            raise  # no call can succeed: not a registry-scanning problem
        except GovernanceError as error:
            scanning, scanning_failure = None, Failure.of(error)
        missing: list[str] = []
        assessments: list[RepositoryAssessment] = []
        if repository_names is None:
            repositories = list(self._registry.list_repositories())
        else:
            repositories = []
            for name in dict.fromkeys(repository_names):
                try:
                    repositories.append(self._registry.get_repository(name))
                except RepositoryNotFound:
                    missing.append(name)
                except CredentialsMissing:
                    raise
                except GovernanceError as error:
                    unread = Repository(name=name, arn="", tag_mutability="unknown")
                    assessments.append(RepositoryAssessment(unread, failure=Failure.of(error)))
        for repository in repositories:
            try:
                assessments.append(self._assess_repository(repository, scanning))
            except RepositoryNotFound:
                missing.append(repository.name)
            except CredentialsMissing:
                raise
            except GovernanceError as error:
                assessments.append(RepositoryAssessment(repository, failure=Failure.of(error)))
        if scanning is None:
            return EnforcementPlan(
                assessments=tuple(assessments),
                registry_scanning=None,
                missing_repositories=tuple(missing),
                scanning_failure=scanning_failure,
            )
        # New broad filters must not start scanning a repository exempt from it (nor one we could not read); only a
        # full reconcile knows them all.
        must_not_cover = None
        if repository_names is None:
            must_not_cover = frozenset(
                a.repository.name
                for a in assessments
                if (a.exemption.covers(ExemptAspect.SCAN_ON_PUSH) or a.failure)
                and not is_scanned_on_push(a.repository.name, scanning)
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

    def _assess_repository(self, repository: Repository, scanning: RegistryScanning | None) -> RepositoryAssessment:
        exemptions = self._settings.exemptions
        exemption = exemption_by_name(repository.name, exemptions)
        if tags_can_change(exemption):
            exemption |= exemption_by_tags(self._registry.list_tags(repository), exemptions)
        if exemption.unrecognized:
            logger.warning(
                "exemption tag names no aspect",
                extra={"repository": repository.name, "words": list(exemption.unrecognized), "tag": exemptions.tag_key},
            )
        checks = []
        if not exemption.covers(ExemptAspect.TAG_MUTABILITY):
            checks.append(check_tag_mutability(repository, self._settings))
        # Scanning is unknown when the registry's configuration could not be read.
        if scanning is not None and not exemption.covers(ExemptAspect.SCAN_ON_PUSH):
            checks.append(check_registry_scanning(repository.name, scanning))
            repository_scan = check_repository_scan_on_push(repository, scanning)
            if repository_scan:
                checks.append(repository_scan)
        if not exemption.covers(ExemptAspect.LIFECYCLE):
            policy_text = self._registry.get_lifecycle_policy_text(repository.name)
            checks.append(check_lifecycle_policy(policy_text, self._settings))
        return RepositoryAssessment(repository, exemption, tuple(checks))

    # ---- writes ------------------------------------------------------------------------------------------
    def apply(self, plan: EnforcementPlan, dry_run: bool = False) -> EnforcementReport:
        writes_enabled = self._settings.writes_enabled and not dry_run
        report = EnforcementReport()
        for name in plan.missing_repositories:
            report.decisions.append(Decision(name, "repository", "missing", "deleted", None, Action.REPOSITORY_GONE))
        for assessment in plan.assessments:
            report.decisions.extend(self._apply_repository(assessment, writes_enabled))
        report.decisions.extend(self._apply_registry_scanning(plan, report, writes_enabled))
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
            if check.status is not Status.VIOLATION or check.aspect is Aspect.REGISTRY_SCANNING:
                # Registry scanning is applied once for the whole registry after the per-repository writes.
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
        if plan.registry_scanning is None:
            unread = Decision(REGISTRY, str(Aspect.REGISTRY_SCANNING), "unknown", "not read", None, Action.NONE)
            return [unread.failed_with(plan.scanning_failure or Failure("registry scanning could not be read"))]
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
            describe_scanning(plan.registry_scanning),
            describe_scanning(plan.scanning_after) if plan.scanning_after else None,
            Action.NONE,
        )
        failure: Failure | None = None
        if plan.scanning_after is None:
            outcome = Action.NOT_REMEDIABLE
        elif not writes_enabled:
            outcome = Action.WOULD_REMEDIATE
        else:
            try:
                self._registry.put_registry_scanning(plan.scanning_after)
                outcome = Action.REMEDIATED
            except GovernanceError as error:
                outcome, failure = Action.FAILED, Failure.of(error)
        not_coverable = set(plan.scanning_not_coverable)
        for index in pending:
            decision = report.decisions[index]
            if decision.repository in not_coverable:
                report.decisions[index] = replace(decision, action=Action.NOT_REMEDIABLE, detail=NOT_COVERABLE_DETAIL)
            elif failure is not None:
                report.decisions[index] = decision.failed_with(failure)
            else:
                report.decisions[index] = replace(decision, action=outcome)
        if failure is not None:
            return [registry_decision.failed_with(failure)]
        return [replace(registry_decision, action=outcome)]


def describe_scanning(scanning: RegistryScanning) -> str:
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
        fields.update(error_code=decision.error_code, transient=decision.transient)
        logger.error("enforcement decision", extra=fields)
    elif decision.action is Action.NONE and decision.status == Status.COMPLIANT:
        logger.debug("enforcement decision", extra=fields)  # daily reconciles would otherwise log every repository
    else:
        logger.info("enforcement decision", extra=fields)
