"""One typed record per finding, whichever scanner produced it, and the image it was found in.

DescribeImageScanFindings answers `findings` for basic scanning (name, uri, severity, and `attributes` such as
package_name, package_version, CVSS3_SCORE) and `enhancedFindings` for enhanced scanning (Amazon Inspector: score,
packageVulnerabilityDetails with the vulnerable packages and their fixedInVersion, fixAvailable, exploitAvailable).
Both become a `Finding`. Normalizing never fails: AWS owns these documents, and a field that is missing or of an
unexpected type becomes "unknown" rather than costing the whole alert.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ecr_governance.text import MAX_LINK_CHARACTERS, advisory_link, bounded, well_formed


class Severity(StrEnum):
    """ECR's and Inspector's severities, most severe first (UNTRIAGED: Inspector has not rated it yet)."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFORMATIONAL = "INFORMATIONAL"
    UNTRIAGED = "UNTRIAGED"
    UNDEFINED = "UNDEFINED"

    @property
    def rank(self) -> int:
        """Higher is more severe."""
        return len(SEVERITIES) - SEVERITIES.index(self)

    def at_least(self, threshold: Severity) -> bool:
        return self.rank >= threshold.rank


SEVERITIES: tuple[Severity, ...] = tuple(Severity)
# CVSS v3 qualitative bands (lower bound of each), to rank a finding Inspector has not rated yet by its score.
SCORE_BANDS = ((9.0, Severity.CRITICAL), (7.0, Severity.HIGH), (4.0, Severity.MEDIUM), (0.1, Severity.LOW))


def severity_of(value: Any) -> Severity:
    """A scanner's severity label; anything unknown is UNDEFINED."""
    if isinstance(value, str):
        try:
            return Severity(value.strip().upper())
        except ValueError:
            pass
    return Severity.UNDEFINED


# Scan statuses under which DescribeImageScanFindings carries findings: COMPLETE (basic, and an enhanced scan that
# finished) and ACTIVE (an image under continuous enhanced scanning).
READABLE_SCAN_STATUSES = frozenset({"COMPLETE", "ACTIVE"})


@dataclass(frozen=True, slots=True)
class Finding:
    id: str  # CVE-2024-1234, GHSA-..., ALAS-...
    severity: Severity
    score: float | None  # Inspector's score, or a basic finding's CVSS3 (else CVSS2) base score
    package_name: str
    package_version: str
    fixed_in_version: str  # "" when no fixed version is known
    fix_available: bool | None  # None: the scanner does not say (basic scanning never does)
    exploit_available: bool | None  # None: the scanner does not say (basic scanning never does)
    link: str
    description: str = ""

    @property
    def fixable(self) -> bool:
        return bool(self.fix_available)

    @property
    def effective_severity(self) -> Severity:
        """What the threshold and the order compare: the severity, or for an UNTRIAGED finding with a score the
        severity its score's CVSS band gives (an untriaged 9.8 ranks with the critical ones, not below INFO)."""
        if self.severity is not Severity.UNTRIAGED or self.score is None:
            return self.severity
        return next((severity for floor, severity in SCORE_BANDS if self.score >= floor), Severity.INFORMATIONAL)


# AWS Organizations' limit on an account's name: what an alert shows of it.
ACCOUNT_NAME_CHARACTERS = 50


@dataclass(frozen=True)
class ScannedImage:
    """The image an alert is about."""

    repository_name: str
    digest: str
    tags: tuple[str, ...] = ()
    registry_id: str = ""  # the account
    region: str = ""
    partition: str = "aws"
    # The account's name in AWS Organizations when an organization hub alerts a member's image (outside text: every
    # writer escapes it); "" for the function's own account, whose alerts name it by id as they always did.
    account_name: str = ""

    @property
    def repository_arn(self) -> str:
        return f"arn:{self.partition}:ecr:{self.region}:{self.registry_id}:repository/{self.repository_name}"

    @property
    def key(self) -> str:
        """`account:region:repository@digest`: what tells two images apart across an organization - cross-account
        replication puts the same repository@digest in several accounts and regions, and each is its own image."""
        return f"{self.registry_id}:{self.region}:{self.repository_name}@{self.digest}"


@dataclass
class ImageScan:
    """What DescribeImageScanFindings says of an image's latest scan. `findings` is read page by page as it is
    iterated (every page, until the last), so a caller that needs only the counts reads one page."""

    status: str
    scan_kind: str = "basic"  # basic | enhanced: which list DescribeImageScanFindings answered with
    status_description: str = ""
    completed_at: datetime | None = None
    severity_counts: Mapping[Severity, int] = field(default_factory=dict)
    findings: Iterator[Finding] = field(default_factory=lambda: iter(()))

    @property
    def readable(self) -> bool:
        return self.status in READABLE_SCAN_STATUSES


# ---- normalizing ----------------------------------------------------------------------------------------------
# Bounds on what a scanner's document may hand on (AWS's own limits are lower; a forged event's are not).
MAX_FIELD_CHARACTERS = 512
MAX_ID_CHARACTERS = 128  # a finding id is also part of the alert ledger's key
MAX_DESCRIPTION_CHARACTERS = 2048
MAX_PACKAGES = 50


def _text(value: Any, limit: int = MAX_FIELD_CHARACTERS) -> str:
    """A scanner's string, well-formed (no lone surrogate) and bounded; anything else is empty. Escaping for a
    medium happens where it is written (ecr_governance.text)."""
    return bounded(well_formed(value).strip(), limit) if isinstance(value, str) else ""


def _link(candidates: list[Any]) -> str:
    """The first link that may be printed as one (ecr_governance.text.advisory_link), else the first given (it is
    shown as text)."""
    links = [link for link in (_text(candidate, MAX_LINK_CHARACTERS) for candidate in candidates) if link]
    return next((link for link in links if advisory_link(link)), links[0] if links else "")


def _score(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        score = float(value)
    elif isinstance(value, str):
        try:
            score = float(value)
        except ValueError:
            return None
    else:
        return None
    return score if math.isfinite(score) and 0 <= score <= 10 else None


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _yes_no(value: Any) -> bool | None:
    """Inspector's YES / NO / PARTIAL (PARTIAL: some of the packages have a fix)."""
    text = _text(value).upper()
    if text in ("YES", "PARTIAL"):
        return True
    if text == "NO":
        return False
    return None


def finding_from_basic(raw: Mapping[str, Any]) -> Finding:
    """A basic-scanning finding (`imageScanFindings.findings[]`)."""
    attributes = {_text(item.get("key")): _text(item.get("value")) for item in _mappings(raw.get("attributes"))}
    score = _score(attributes.get("CVSS3_SCORE"))
    if score is None:
        score = _score(attributes.get("CVSS2_SCORE"))
    return Finding(
        id=_text(raw.get("name"), MAX_ID_CHARACTERS) or "(unnamed)",
        severity=severity_of(raw.get("severity")),
        score=score,
        package_name=attributes.get("package_name", ""),
        package_version=attributes.get("package_version", ""),
        fixed_in_version="",
        fix_available=None,
        exploit_available=None,
        link=_link([raw.get("uri")]),
        description=_text(raw.get("description"), MAX_DESCRIPTION_CHARACTERS),
    )


TOTAL_COUNT = "TOTAL"  # Inspector adds the total to its severity counts
NO_FIXED_VERSION = "NotAvailable"  # what Inspector writes in fixedInVersion when there is none


def finding_from_enhanced(raw: Mapping[str, Any]) -> Finding:
    """An enhanced-scanning finding (`imageScanFindings.enhancedFindings[]`, from Amazon Inspector)."""
    details = raw.get("packageVulnerabilityDetails")
    details = details if isinstance(details, Mapping) else {}
    packages = _mappings(details.get("vulnerablePackages"))[:MAX_PACKAGES]
    first = packages[0] if packages else {}
    fixed_in = _text(first.get("fixedInVersion"))
    if fixed_in == NO_FIXED_VERSION:
        fixed_in = ""
    version = _text(first.get("version"))
    release = _text(first.get("release"))
    if version and release:
        version = f"{version}-{release}"
    names = list(dict.fromkeys(name for name in (_text(p.get("name")) for p in packages) if name))
    remediation = raw.get("remediation")
    recommendation = remediation.get("recommendation") if isinstance(remediation, Mapping) else None
    reference_urls = details.get("referenceUrls")
    links = [
        details.get("sourceUrl"),
        *(reference_urls[:MAX_PACKAGES] if isinstance(reference_urls, list) else ()),
        recommendation.get("url") if isinstance(recommendation, Mapping) else None,
    ]
    score = _score(raw.get("score"))  # DescribeImageScanFindings says `score`, an Inspector2 Finding event
    if score is None:  # `inspectorScore`
        score = _score(raw.get("inspectorScore"))
    if score is None:
        scores = [_score(entry.get("baseScore")) for entry in _mappings(details.get("cvss"))]
        score = max((s for s in scores if s is not None), default=None)
    fix_available = _yes_no(raw.get("fixAvailable"))
    if fix_available is None and packages:
        fix_available = bool(fixed_in)
    return Finding(
        id=_text(details.get("vulnerabilityId"), MAX_ID_CHARACTERS)
        or _text(raw.get("title"), MAX_ID_CHARACTERS)
        or "(unnamed)",
        severity=severity_of(raw.get("severity")),
        score=score,
        package_name=bounded(", ".join(names), MAX_FIELD_CHARACTERS),
        package_version=version,
        fixed_in_version=fixed_in,
        fix_available=fix_available,
        exploit_available=_yes_no(raw.get("exploitAvailable")),
        link=_link(links),
        description=_text(raw.get("description"), MAX_DESCRIPTION_CHARACTERS) or _text(raw.get("title")),
    )


def severity_counts(raw: Any) -> dict[Severity, int]:
    """`findingSeverityCounts` of a DescribeImageScanFindings answer, by severity (only the present ones; an
    Inspector `TOTAL` is not a severity)."""
    if not isinstance(raw, Mapping):
        return {}
    counts: dict[Severity, int] = {}
    for name, count in raw.items():
        if name == TOTAL_COUNT:
            continue
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            severity = severity_of(name)
            counts[severity] = counts.get(severity, 0) + count
    return counts
