"""Which principals pull like a scanner, and whether their pulls count as use: a pure decision over CloudTrail's
BatchGetImage events (the `ecr-governance scanners` investigation).

A third-party scanner that pulls every image makes every image look recently pulled (`lastRecordedPullTime`), so
`sinceImagePulled` rules and the sweep's idle threshold never fire - unless the scanner is a pull-time update
exclusion. The CloudTrail records (decoded event documents, as the PullEvents port reads them) are grouped by the
principal that pulled: an assumed-role session is its role (sessionContext.sessionIssuer.arn), an IAM user or any
other identity is its own ARN, and a call an AWS service made (userIdentity.type AWSService, or `invokedBy` set) is
no candidate: it is listed apart. A principal is scanner-like when it pulled at least `min_repositories`
repositories and at least `min_share` of the repositories pulled in the window. Its verdict:

- EXCLUDED: a pull-time update exclusion already (whatever it pulled);
- NOT_EXCLUDED: scanner-like or named in SCANNER_ROLE_ARNS, and not excluded - its pulls keep images alive;
- WORKLOAD: anything else (a workload pulling what it runs).

Only a role or user ARN can be registered (ECR's PrincipalArn); the registration offered lists those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any, Protocol

from ecr_governance.enforce.registry_settings import PRINCIPAL_ARN_PATTERN

ECR_EVENT_SOURCE = "ecr.amazonaws.com"
PULL_EVENT_NAME = "BatchGetImage"
SERVICE_IDENTITY = "AWSService"
DEFAULT_MIN_REPOSITORIES = 10
DEFAULT_MIN_SHARE = Fraction(1, 2)


@dataclass(frozen=True)
class PullSample:
    """What the PullEvents port read: the decoded CloudTrail event documents, how many events it read (decoded or
    not), whether it stopped at its cap with more left, and how many it could not decode."""

    records: tuple[Mapping[str, Any], ...]
    events_read: int
    capped: bool = False
    undecodable: int = 0


class PullEvents(Protocol):
    """CloudTrail's BatchGetImage events since a moment, newest first, at most `max_events` of them."""

    def image_pulls(self, since: datetime, max_events: int) -> PullSample: ...


class Verdict(StrEnum):
    EXCLUDED = "EXCLUDED"
    NOT_EXCLUDED = "NOT_EXCLUDED"
    WORKLOAD = "WORKLOAD"


VERDICT_ORDER = (Verdict.NOT_EXCLUDED, Verdict.EXCLUDED, Verdict.WORKLOAD)  # what needs a person first


@dataclass(frozen=True)
class Thresholds:
    min_repositories: int = DEFAULT_MIN_REPOSITORIES
    min_share: Fraction = DEFAULT_MIN_SHARE  # exact: 0.3 of 10 repositories is 3, not 3.0000000000000004

    def scanner_like(self, repositories: int, repositories_pulled: int) -> bool:
        return repositories >= self.min_repositories and repositories >= self.min_share * repositories_pulled


@dataclass(frozen=True)
class Pull:
    """One BatchGetImage call: who (a role, user or other ARN; or the AWS service), which repository and images."""

    principal: str
    identity_type: str
    repository_name: str
    images: tuple[str, ...] = ()
    service: bool = False


@dataclass(frozen=True)
class PrincipalRow:
    principal_arn: str
    identity_type: str
    repositories: int
    images: int
    pulls: int
    excluded: bool
    named: bool
    scanner_like: bool
    verdict: Verdict

    @property
    def registrable(self) -> bool:
        """A role or user ARN, which RegisterPullTimeUpdateExclusion takes (and which is safe to print in a command)."""
        return PRINCIPAL_ARN_PATTERN.fullmatch(self.principal_arn) is not None


@dataclass(frozen=True)
class ServiceRow:
    service: str
    repositories: int
    pulls: int


@dataclass(frozen=True)
class PullerAudit:
    principals: tuple[PrincipalRow, ...]
    services: tuple[ServiceRow, ...]
    repositories_pulled: int
    thresholds: Thresholds
    skipped: int = 0  # records that were not ECR BatchGetImage calls with a repository (other sources, malformed)
    named: tuple[str, ...] = field(default=())

    @property
    def not_excluded(self) -> tuple[PrincipalRow, ...]:
        return tuple(row for row in self.principals if row.verdict is Verdict.NOT_EXCLUDED)

    @property
    def to_register(self) -> tuple[str, ...]:
        """The NOT_EXCLUDED principals ECR can register, in the order of the rows."""
        return tuple(row.principal_arn for row in self.not_excluded if row.registrable)

    @property
    def scanner_role_arns(self) -> tuple[str, ...]:
        """SCANNER_ROLE_ARNS with the principals to register added (named ones first, as they are)."""
        return tuple(dict.fromkeys([*self.named, *self.to_register]))


# ---- CloudTrail records -> pulls ----------------------------------------------------------------------------------
def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _principal(identity: Mapping[str, Any]) -> tuple[str, str, bool]:
    """(the principal, its identity type, whether an AWS service made the call)."""
    identity_type = _text(identity.get("type")) or "Unknown"
    invoked_by = _text(identity.get("invokedBy"))
    if identity_type == SERVICE_IDENTITY or invoked_by:
        return invoked_by or SERVICE_IDENTITY, identity_type, True
    issuer = _mapping(_mapping(identity.get("sessionContext")).get("sessionIssuer"))
    issuer_arn = _text(issuer.get("arn")) if identity_type == "AssumedRole" else ""
    return issuer_arn or _text(identity.get("arn")) or _text(identity.get("principalId")), identity_type, False


def _images(parameters: Mapping[str, Any]) -> tuple[str, ...]:
    ids = parameters.get("imageIds")
    found = []
    for image in ids if isinstance(ids, list) else ():
        image = _mapping(image)
        reference = _text(image.get("imageDigest")) or _text(image.get("imageTag"))
        if reference:
            found.append(reference)
    return tuple(found)


def pull_of(record: Mapping[str, Any]) -> Pull | None:
    """The pull a CloudTrail event document records; None for another source or event, a refused call, or one
    naming no repository or no principal."""
    if record.get("eventSource") != ECR_EVENT_SOURCE or record.get("eventName") != PULL_EVENT_NAME:
        return None
    if record.get("errorCode"):  # refused (AccessDenied, ImageNotFound...): nothing was pulled
        return None
    parameters = _mapping(record.get("requestParameters"))
    repository = _text(parameters.get("repositoryName"))
    principal, identity_type, service = _principal(_mapping(record.get("userIdentity")))
    if not repository or not principal:
        return None
    return Pull(principal, identity_type, repository, _images(parameters), service)


# ---- the decision -------------------------------------------------------------------------------------------------
@dataclass
class _Tally:
    identity_type: str
    repositories: set[str] = field(default_factory=set)
    images: set[tuple[str, str]] = field(default_factory=set)
    pulls: int = 0

    def add(self, pull: Pull) -> None:
        self.repositories.add(pull.repository_name)
        self.images.update((pull.repository_name, image) for image in pull.images)
        self.pulls += 1


def _verdict(excluded: bool, named: bool, scanner_like: bool) -> Verdict:
    if excluded:
        return Verdict.EXCLUDED
    return Verdict.NOT_EXCLUDED if scanner_like or named else Verdict.WORKLOAD


def assess_pullers(
    records: Iterable[Mapping[str, Any]],
    exclusions: Sequence[str],
    named: Sequence[str],
    thresholds: Thresholds = Thresholds(),  # noqa: B008 - frozen, so one shared default is safe
) -> PullerAudit:
    """Every principal that pulled, with its verdict; rows by verdict (NOT_EXCLUDED first), then most repositories."""
    principals: dict[str, _Tally] = {}
    services: dict[str, _Tally] = {}
    skipped = 0
    for record in records:
        pull = pull_of(record)
        if pull is None:
            skipped += 1
            continue
        tallies = services if pull.service else principals
        tallies.setdefault(pull.principal, _Tally(pull.identity_type)).add(pull)
    pulled = set().union(*(t.repositories for t in (*principals.values(), *services.values())))
    excluded, named_set = set(exclusions), set(named)
    rows = []
    for arn, tally in principals.items():
        scanner_like = thresholds.scanner_like(len(tally.repositories), len(pulled))
        verdict = _verdict(arn in excluded, arn in named_set, scanner_like)
        rows.append(
            PrincipalRow(
                arn,
                tally.identity_type,
                len(tally.repositories),
                len(tally.images),
                tally.pulls,
                arn in excluded,
                arn in named_set,
                scanner_like,
                verdict,
            )
        )
    rows.sort(key=lambda row: (VERDICT_ORDER.index(row.verdict), -row.repositories, row.principal_arn))
    service_rows = sorted(
        (ServiceRow(name, len(t.repositories), t.pulls) for name, t in services.items()), key=lambda s: s.service
    )
    return PullerAudit(tuple(rows), tuple(service_rows), len(pulled), thresholds, skipped, tuple(dict.fromkeys(named)))


def investigate(
    source: PullEvents,
    since: datetime,
    max_events: int,
    *,
    exclusions: Sequence[str],
    named: Sequence[str],
    thresholds: Thresholds,
) -> tuple[PullSample, PullerAudit]:
    """Read the window's pulls through the port, then decide (the sample says whether it was capped)."""
    sample = source.image_pulls(since, max_events)
    return sample, assess_pullers(sample.records, exclusions, named, thresholds)
