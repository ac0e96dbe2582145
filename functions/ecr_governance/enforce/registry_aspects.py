"""The registry-level reads and writes of a run: what every repository's checks need (scanning, cache rules,
signing rules), the registry-wide aspects (creation templates, pull-time update exclusions, the registry policy),
and the safe writes of those.

An aspect whose read fails is one `failed` registry decision; an aspect left out (ExemptRegistryAspects) one
`exempt` decision; with RegistryApi=core the settings emulators do not serve are not read at all. Each write is
re-validated right before it is made: a ROOT template someone created meanwhile is theirs, one that stopped being
ours is not updated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import cast

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.enforce.creation_templates import ROOT, check_creation_templates, is_ours
from ecr_governance.enforce.model import REGISTRY, Action, Aspect, Decision, RegistryCheck, RegistryContext, Status
from ecr_governance.enforce.ports import EnforcementRegistry
from ecr_governance.enforce.registry_checks import (
    check_pull_time_exclusions,
    check_registry_policy,
    exempt_check,
    unread_check,
)
from ecr_governance.enforce.registry_model import (
    CreateTemplate,
    CreationTemplate,
    RegisterExclusion,
    RegistryWrite,
    UpdateTemplate,
)
from ecr_governance.enforce.registry_settings import RegistryAspect
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import Failure, FatalAwsError, GovernanceError

logger = Logger(service=SERVICE_NAME, child=True)


def attempt[T](read: Callable[[], T]) -> tuple[T | None, Failure | None]:
    """A read's value, or the failure that kept it unread (a decision); no credentials or endpoint ends the run."""
    try:
        return read(), None
    except FatalAwsError:
        raise
    except GovernanceError as error:
        return None, Failure.of(error)


class RegistryReader:
    def __init__(self, registry: EnforcementRegistry, settings: EnforceSettings):
        self._registry = registry
        self._settings = settings

    def context(self) -> RegistryContext:
        """Registry scanning, pull-through cache prefixes and (when repositories must be signed) signing rules."""
        scanning, scanning_failure = attempt(self._registry.get_registry_scanning)
        cache_prefixes: tuple[str, ...] | None = ()
        signing_rules = None
        unread: list[RegistryCheck] = []
        if self._settings.reads_newer_registry_settings:
            cache_prefixes, failure = attempt(self._registry.pull_through_cache_prefixes)
            unread.extend([unread_check(Aspect.PULL_THROUGH_CACHE, failure)] if failure else [])
            if self._settings.registry.signed_repository_patterns:
                signing_rules, failure = attempt(self._registry.signing_rules)
                unread.extend([unread_check(Aspect.SIGNING, failure)] if failure else [])
        return RegistryContext(scanning, scanning_failure, cache_prefixes, signing_rules, tuple(unread))

    def checks(self) -> list[RegistryCheck]:
        """The registry-wide aspects, each read once and checked (a full run's last piece asks)."""
        registry, settings = self._registry, self._settings
        checks = []
        if settings.reads_newer_registry_settings:
            checks += self._checked(
                RegistryAspect.CREATION_TEMPLATE,
                Aspect.CREATION_TEMPLATE,
                registry.list_creation_templates,
                lambda templates: check_creation_templates(templates, settings),
            )
            checks += self._checked(
                RegistryAspect.PULL_TIME_EXCLUSIONS,
                Aspect.PULL_TIME_EXCLUSIONS,
                registry.pull_time_update_exclusions,
                lambda exclusions: check_pull_time_exclusions(exclusions, settings.registry.scanner_role_arns),
            )
        checks += self._checked(
            RegistryAspect.REGISTRY_POLICY, Aspect.REGISTRY_POLICY, registry.get_registry_policy, check_registry_policy
        )
        return checks

    def _checked[T](
        self,
        exemption: RegistryAspect,
        aspect: Aspect,
        read: Callable[[], T],
        check: Callable[[T], list[RegistryCheck]],
    ) -> list[RegistryCheck]:
        if self._settings.registry.covers(exemption):
            return [exempt_check(aspect)]
        value, failure = attempt(read)
        return [unread_check(aspect, failure)] if failure else check(cast(T, value))


class RegistryAspectsWriter:
    def __init__(self, registry: EnforcementRegistry):
        self._registry = registry

    def apply(self, checks: Sequence[RegistryCheck], writes_enabled: bool) -> list[Decision]:
        """One REGISTRY decision per check; a violation's safe write made when writes are enabled."""
        return [self._decide(registry_check, writes_enabled) for registry_check in checks]

    def _decide(self, registry_check: RegistryCheck, writes_enabled: bool) -> Decision:
        check = registry_check.check
        decision = Decision(REGISTRY, str(check.aspect), str(check.status), check.before, check.after, Action.NONE)
        decision = replace(decision, detail=check.detail)
        if registry_check.failure is not None:
            return decision.failed_with(registry_check.failure)
        if check.status is Status.EXEMPT:
            return replace(decision, action=Action.EXEMPT)
        if check.status is not Status.VIOLATION:
            return decision
        if registry_check.write is None:
            return replace(decision, action=Action.NOT_REMEDIABLE if registry_check.limit_reached else Action.DETECTED)
        if not writes_enabled:
            return replace(decision, action=Action.WOULD_REMEDIATE)
        try:
            return replace(decision, action=self._write(registry_check.write))
        except GovernanceError as error:
            return decision.failed_with(Failure.of(error))

    def _write(self, write: RegistryWrite) -> Action:
        """Make one safe write, re-validated against the registry as it is now; the decision's action."""
        match write:
            case RegisterExclusion(principal_arn=principal_arn):
                self._registry.register_pull_time_update_exclusion(principal_arn)
            case CreateTemplate(template=template):
                if self._root() is not None:  # someone created one meanwhile: theirs
                    return _left_alone(template.prefix)
                self._registry.create_creation_template(template)
            case UpdateTemplate(template=template):
                root = self._root()
                if root is None or not is_ours(root):  # deleted, or taken over, meanwhile
                    return _left_alone(template.prefix)
                self._registry.update_creation_template(template)
        return Action.REMEDIATED

    def _root(self) -> CreationTemplate | None:
        return next((t for t in self._registry.list_creation_templates() if t.prefix == ROOT), None)


def _left_alone(prefix: str) -> Action:
    logger.warning("creation template changed since it was read: left as it is", extra={"prefix": prefix})
    return Action.NONE
