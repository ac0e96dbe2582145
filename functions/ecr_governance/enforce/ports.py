"""What enforcement needs from outside, as `typing.Protocol` ports: the ECR adapter, the Resource Groups Tagging API
adapter and the Lambda adapter serve them; the tests' in-memory fakes satisfy the same signatures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from ecr_governance.enforce.registry_model import CreationTemplate, RegistryPolicy
from ecr_governance.enforce.scanning import RegistryScanning
from ecr_governance.repositories import Repository
from ecr_governance.signing import SigningRule


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

    # The registry settings ECR added in 2025-26 (RegistryApi=aws only: emulators do not serve them).
    def pull_through_cache_prefixes(self) -> tuple[str, ...]: ...

    def signing_rules(self) -> tuple[SigningRule, ...]: ...

    def list_creation_templates(self) -> list[CreationTemplate]: ...

    def create_creation_template(self, template: CreationTemplate) -> None: ...

    def update_creation_template(self, template: CreationTemplate) -> None: ...

    def pull_time_update_exclusions(self) -> tuple[str, ...]: ...

    def register_pull_time_update_exclusion(self, principal_arn: str) -> None: ...

    def get_registry_policy(self) -> RegistryPolicy | None: ...


class ExemptionTagSource(Protocol):
    """Every repository's value of one tag key in a few bulk reads (the Resource Groups Tagging API serves it)."""

    def repository_tag_values(self, tag_key: str) -> dict[str, str]:
        """Repository name -> value, for repositories carrying the key; raises AccessDenied when not allowed."""
        ...


class InvocationQueue(Protocol):
    """Where a reconcile that ran out of time queues its own next piece (Lambda's asynchronous invocation)."""

    def invoke_async(self, function_name: str, payload: dict[str, Any]) -> None: ...
