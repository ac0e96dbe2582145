"""What the sweep needs from AWS, as ports (typing.Protocol): the adapters in aws/ and the tests' fakes serve them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ecr_governance.images import ImageRecord, ManifestRead
from ecr_governance.organization.membership import Target
from ecr_governance.repositories import Repository
from ecr_governance.sweep.deletion import BatchDeleteResult
from ecr_governance.sweep.messages import SendResult
from ecr_governance.sweep.plan import InUse


class RepositoryDirectory(Protocol):
    """Which repositories there are and how they are tagged (exemptions): the planner and the worker ask."""

    def list_repositories(self) -> Iterator[Repository]: ...

    def get_repository(self, name: str) -> Repository: ...

    def list_tags(self, repository: Repository) -> dict[str, str]: ...


class SweepRegistry(Protocol):
    """What the worker needs from ECR to read a repository and delete from it."""

    def describe_images(self, repository_name: str, include_archived: bool = False) -> Iterable[ImageRecord]: ...

    def get_manifests(self, repository_name: str, digests: Iterable[str]) -> ManifestRead: ...

    def describe_images_by_digest(self, repository_name: str, digests: Sequence[str]) -> list[ImageRecord]:
        """The images as they are now; raises ImageNotFound when any of them is gone (as ECR does)."""
        ...

    def batch_delete_images(self, repository_name: str, digests: Sequence[str]) -> BatchDeleteResult: ...

    def pull_through_cache_prefixes(self) -> tuple[str, ...]:
        """The repository prefix of every pull-through cache rule of the registry."""
        ...


class RegistryCoverage(Protocol):
    """Whether Amazon Inspector scans the registry's images (without it there is no in-use data): the planner asks."""

    def covers_registry(self, account_id: str) -> bool: ...


class InUseSource(RegistryCoverage, Protocol):
    """Which images run (Amazon Inspector's coverage of ECR images: lastInUseAt / inUseCount)."""

    def images_in_use(self, repository_name: str, since: datetime) -> InUse: ...


class MessageQueue(Protocol):
    def send_messages(self, bodies: Sequence[str], delay_seconds: int = 0) -> SendResult: ...


@dataclass(frozen=True)
class SweepAdapters:
    """What one account-region's sweep reads and deletes through."""

    registry: SweepRegistry
    directory: RepositoryDirectory
    in_use: InUseSource | None = None


# An organization hub's reach: the adapters of a member account-region (raises MemberUnreachable).
Reach = Callable[[Target], SweepAdapters]
