"""The reads of enforcement and the pure checks over them: a repository's exemption, then each aspect's check.

Nothing here writes. An AWS error on one repository is that repository's recorded failure (never the end of the
run); only a FatalAwsError (no credentials, no endpoint) ends it, since no other call could succeed either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.model import Aspect, Check, RegistryContext, RepositoryAssessment
from ecr_governance.enforce.parallel import bounded_map
from ecr_governance.enforce.ports import EnforcementRegistry, ExemptionTagSource
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.enforce.standard import (
    check_encryption,
    check_lifecycle_policy,
    check_repository_scan_on_push,
    check_signing,
    check_tag_mutability,
)
from ecr_governance.errors import Failure, FatalAwsError, GovernanceError, RepositoryNotFound
from ecr_governance.exemptions import ExemptAspect, Exemption, exemption_by_name, exemption_by_tags, tags_can_change
from ecr_governance.pull_through_cache import is_pull_through_cache
from ecr_governance.repositories import Repository
from ecr_governance.signing import must_be_signed

logger = Logger(service=SERVICE_NAME, child=True)


class Assessor:
    def __init__(
        self, registry: EnforcementRegistry, settings: EnforceSettings, tag_source: ExemptionTagSource | None = None
    ):
        self._registry = registry
        self._settings = settings
        self._tag_source = tag_source

    # ---- registry-wide reads -------------------------------------------------------------------------------
    def list_repositories(self) -> list[Repository]:
        """Every repository, sorted by name (a full reconcile handles them in this order)."""
        return sorted(self._registry.list_repositories(), key=lambda r: r.name)

    def bulk_tag_values(self) -> Mapping[str, str] | None:
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

    # ---- repositories --------------------------------------------------------------------------------------
    def assess(
        self,
        repositories: Sequence[Repository],
        context: RegistryContext,
        tag_values: Mapping[str, str] | None = None,
    ) -> list[RepositoryAssessment]:
        """Each repository read and checked, `ReconcileConcurrency` at a time, in the order given."""
        return bounded_map(
            lambda r: self._assess_repository(r, context, tag_values),
            repositories,
            self._settings.reconcile_concurrency,
        )

    def assess_named(
        self, names: Iterable[str], context: RegistryContext
    ) -> tuple[list[RepositoryAssessment], list[str]]:
        """(the named repositories' assessments sorted by name, the names that no longer exist)."""
        missing: list[str] = []
        found: list[Repository] = []
        assessments: list[RepositoryAssessment] = []
        for name in dict.fromkeys(names):
            try:
                found.append(self._registry.get_repository(name))
            except RepositoryNotFound:
                missing.append(name)
            except FatalAwsError:
                raise
            except GovernanceError as error:
                unread = Repository(name=name, arn="", tag_mutability="unknown")
                assessments.append(RepositoryAssessment(unread, failure=Failure.of(error)))
        for assessment in self.assess(found, context):
            if assessment.gone:
                missing.append(assessment.repository.name)
            else:
                assessments.append(assessment)
        return sorted(assessments, key=lambda a: a.repository.name), missing

    def is_scan_exempt(self, repository: Repository) -> bool:
        """Whether a repository (not the event's) is exempt from scan on push; unreadable tags count as exempt."""
        try:
            return self._exemption(repository, None).covers(ExemptAspect.SCAN_ON_PUSH)
        except GovernanceError:
            return True

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
        self, repository: Repository, context: RegistryContext, tag_values: Mapping[str, str] | None
    ) -> RepositoryAssessment:
        try:
            return self._read_repository(repository, context, tag_values)
        except FatalAwsError:
            raise
        except GovernanceError as error:
            return RepositoryAssessment(repository, failure=Failure.of(error))

    def _read_repository(
        self, repository: Repository, context: RegistryContext, tag_values: Mapping[str, str] | None
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
        cache = context.cache_prefixes is not None and is_pull_through_cache(repository.name, context.cache_prefixes)
        checks, exempted = [], []
        for aspect in self._applicable(repository, context):
            if aspect.exempt_aspect is not None and exemption.covers(aspect.exempt_aspect):
                exempted.append(aspect)
            else:
                checks.extend(self._check(aspect, repository, context, cache))
        return RepositoryAssessment(repository, exemption, tuple(checks), None, tuple(exempted), cache)

    def _applicable(self, repository: Repository, context: RegistryContext) -> list[Aspect]:
        """The aspects of the standard that apply to this repository, given what could be read of the registry."""
        registry = self._settings.registry
        aspects = [Aspect.TAG_MUTABILITY, Aspect.REGISTRY_SCANNING]
        if context.cache_prefixes is not None:  # unknown cache rules: no lifecycle class can be decided
            aspects.append(Aspect.LIFECYCLE_POLICY)
        if registry.requires_kms:
            aspects.append(Aspect.ENCRYPTION)
        signed = must_be_signed(repository.name, registry.signed_repository_patterns)
        if signed and context.signing_rules is not None:
            aspects.append(Aspect.SIGNING)
        return aspects

    def _check(self, aspect: Aspect, repository: Repository, context: RegistryContext, cache: bool) -> list[Check]:
        """The aspect's check (reads the lifecycle policy); registry scanning's own is the repository-level flag,
        which depends on the scan type: none when registry scanning could not be read."""
        if aspect is Aspect.TAG_MUTABILITY:
            return [check_tag_mutability(repository, self._settings)]
        if aspect is Aspect.REGISTRY_SCANNING:
            flag = check_repository_scan_on_push(repository, context.scanning) if context.scanning else None
            return [flag] if flag else []
        if aspect is Aspect.LIFECYCLE_POLICY:
            policy_text = self._registry.get_lifecycle_policy_text(repository.name)
            return [check_lifecycle_policy(policy_text, self._settings, cache)]
        if aspect is Aspect.ENCRYPTION:
            return [check_encryption(repository, self._settings.registry)]
        return [check_signing(repository, context.signing_rules or ())]
