"""ECR managed signing (2025): the registry's signing rules, which repositories they sign, and an image's signing
statuses. Pure data and decisions; the ECR adapter reads GetSigningConfiguration and DescribeImageSigningStatus.

A rule without repository filters signs every repository; with filters (WILDCARD_MATCH), a repository any filter
matches as a whole name. An image gets one status per signing profile whose rule matched it: IN_PROGRESS, COMPLETE
or FAILED (with failureCode and failureReason). Signatures are OCI referrers of the image, which the sweep keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ecr_governance.config import SettingDoc
from ecr_governance.wildcard import repository_pattern_matches, signing_filter_matches

FAILED = "FAILED"
IN_PROGRESS = "IN_PROGRESS"

# Said once: enforcement checks that a signing rule covers these repositories, the scan alert reads their images'
# signing statuses.
SIGNED_REPOSITORY_PATTERNS = SettingDoc(
    "SIGNED_REPOSITORY_PATTERNS",
    "SignedRepositoryPatterns",
    "",
    "Comma-separated repository name patterns (`*` matches any characters) whose images a managed signing rule must "
    "sign; reported when none does (detect only). A completed scan of an image there also reads its signing status: "
    "a FAILED signing is alerted with the scan's alert, even without findings.",
)


@dataclass(frozen=True)
class SigningRule:
    signing_profile_arn: str
    filters: tuple[str, ...] = ()  # WILDCARD_MATCH filters; none: every repository


@dataclass(frozen=True)
class ImageSigningStatus:
    signing_profile_arn: str
    status: str  # IN_PROGRESS | COMPLETE | FAILED
    failure_code: str = ""
    failure_reason: str = ""


def signing_rule_for(repository_name: str, rules: Iterable[SigningRule]) -> SigningRule | None:
    """The first rule that signs this repository's images on push, or None."""
    for rule in rules:
        if not rule.filters or any(signing_filter_matches(f, repository_name) for f in rule.filters):
            return rule
    return None


def must_be_signed(repository_name: str, patterns: Iterable[str]) -> bool:
    """Whether SignedRepositoryPatterns names the repository."""
    return any(repository_pattern_matches(pattern, repository_name) for pattern in patterns)


def failed_signings(statuses: Iterable[ImageSigningStatus]) -> list[ImageSigningStatus]:
    """The statuses to alert on (through the findings alert path): signing that FAILED."""
    return [status for status in statuses if status.status == FAILED]


class SigningStatusSource(Protocol):
    """Where an image's signing statuses come from (EcrRegistry serves it, with ecr:DescribeImageSigningStatus)."""

    def image_signing_statuses(self, repository_name: str, digest: str) -> Sequence[ImageSigningStatus]: ...
