"""The writes of enforcement: only what a plan found different, none in audit mode or on a dry run; one decision
per repository and aspect, each logged as one structured line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.model import (
    REGISTRY,
    Action,
    Aspect,
    Decision,
    EnforcementPlan,
    EnforcementReport,
    RepositoryAssessment,
    Status,
)
from ecr_governance.enforce.parallel import bounded_map
from ecr_governance.enforce.ports import EnforcementRegistry
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import Failure, GovernanceError, RepositoryNotFound

logger = Logger(service=SERVICE_NAME, child=True)
# No safe write exists: encryption is fixed at creation; a signing rule needs a Signer profile and
# PutSigningConfiguration replaces every rule.
DETECT_ONLY = frozenset({Aspect.ENCRYPTION, Aspect.SIGNING})


class Applier:
    def __init__(self, registry: EnforcementRegistry, settings: EnforceSettings):
        self._registry = registry
        self._settings = settings

    def apply_repositories(self, assessments: Sequence[RepositoryAssessment], writes_enabled: bool) -> list[Decision]:
        """Each repository's decisions (its writes done when enabled), `ReconcileConcurrency` at a time."""
        per_repository = bounded_map(
            lambda a: self._apply_repository(a, writes_enabled), list(assessments), self._settings.reconcile_concurrency
        )
        for assessment, decisions in zip(assessments, per_repository, strict=True):
            _log_partial_remediation(assessment.repository.name, decisions)
        return [decision for decisions in per_repository for decision in decisions]

    def _apply_repository(self, assessment: RepositoryAssessment, writes_enabled: bool) -> list[Decision]:
        name = assessment.repository.name
        if assessment.failure:
            unread = Decision(name, "repository", "unknown", "not read", None, Action.NONE)
            return [unread.failed_with(assessment.failure)]
        decisions = [
            Decision(name, str(aspect), str(Status.EXEMPT), "unchanged", None, Action.EXEMPT, str(assessment.exemption))
            for aspect in assessment.exempted
        ]
        gone = False
        for check in assessment.checks:
            decision = Decision(
                name, str(check.aspect), str(check.status), check.before, check.after, Action.NONE, check.detail
            )
            if check.status is not Status.VIOLATION:
                decisions.append(decision)
            elif check.aspect in DETECT_ONLY:
                decisions.append(replace(decision, action=Action.DETECTED))
            elif gone:
                decisions.append(replace(decision, action=Action.REPOSITORY_GONE))
            elif not writes_enabled:
                decisions.append(replace(decision, action=Action.WOULD_REMEDIATE))
            else:
                try:
                    self._write(assessment, check.aspect)
                    decisions.append(replace(decision, action=Action.REMEDIATED))
                except RepositoryNotFound:
                    gone = True
                    decisions.append(replace(decision, action=Action.REPOSITORY_GONE))
                except GovernanceError as error:
                    decisions.append(decision.failed_with(Failure.of(error)))
        return decisions

    def _write(self, assessment: RepositoryAssessment, aspect: Aspect) -> None:
        repository = assessment.repository
        if aspect is Aspect.TAG_MUTABILITY:
            self._registry.put_tag_mutability(
                repository.name, str(self._settings.tag_mutability), self._settings.remediation_exclusion_filters
            )
        elif aspect is Aspect.REPOSITORY_SCAN_ON_PUSH:
            self._registry.put_repository_scan_on_push(repository.name)
        elif aspect is Aspect.LIFECYCLE_POLICY:
            settings = self._settings
            cache = assessment.pull_through_cache
            policy = settings.registry.cache_lifecycle_policy if cache else settings.standard_lifecycle_policy
            self._registry.put_lifecycle_policy(repository.name, policy)
        else:  # encryption and signing are detect only: their violations are reported, never written
            raise ValueError(f"no per-repository write for {aspect}")


def report_of(plan: EnforcementPlan, decisions: Sequence[Decision]) -> EnforcementReport:
    """The run's report: gone repositories, then every decision, sorted by repository (registry last) and logged."""
    report = EnforcementReport(continuation=plan.continuation)
    for name in plan.missing_repositories:
        report.decisions.append(Decision(name, "repository", "missing", "deleted", None, Action.REPOSITORY_GONE))
    report.decisions.extend(decisions)
    report.decisions.sort(key=lambda d: (d.repository == REGISTRY, d.repository))
    for decision in report.decisions:
        _log_decision(decision)
    return report


def _log_partial_remediation(repository: str, decisions: Sequence[Decision]) -> None:
    failed = [d.aspect for d in decisions if d.action is Action.FAILED]
    applied = [d.aspect for d in decisions if d.action is Action.REMEDIATED]
    if failed:
        logger.error(
            "repository left partially remediated",
            extra={"repository": repository, "remediated": applied, "failed": failed},
        )


def _log_decision(decision: Decision) -> None:
    fields: dict[str, Any] = {
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
