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


@dataclass(frozen=True)
class ScannedImage:
    """The image an alert is about."""

    repository_name: str
    digest: str
    tags: tuple[str, ...] = ()
    registry_id: str = ""  # the account
    region: str = ""
    partition: str = "aws"

    @property
    def repository_arn(self) -> str:
        return f"arn:{self.partition}:ecr:{self.region}:{self.registry_id}:repository/{self.repository_name}"


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
def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


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
        id=_text(raw.get("name")) or "(unnamed)",
        severity=severity_of(raw.get("severity")),
        score=score,
        package_name=attributes.get("package_name", ""),
        package_version=attributes.get("package_version", ""),
        fixed_in_version="",
        fix_available=None,
        exploit_available=None,
        link=_text(raw.get("uri")),
        description=_text(raw.get("description")),
    )


TOTAL_COUNT = "TOTAL"  # Inspector adds the total to its severity counts
NO_FIXED_VERSION = "NotAvailable"  # what Inspector writes in fixedInVersion when there is none


def finding_from_enhanced(raw: Mapping[str, Any]) -> Finding:
    """An enhanced-scanning finding (`imageScanFindings.enhancedFindings[]`, from Amazon Inspector)."""
    details = raw.get("packageVulnerabilityDetails")
    details = details if isinstance(details, Mapping) else {}
    packages = _mappings(details.get("vulnerablePackages"))
    first = packages[0] if packages else {}
    fixed_in = _text(first.get("fixedInVersion"))
    if fixed_in == NO_FIXED_VERSION:
        fixed_in = ""
    version = _text(first.get("version"))
    release = _text(first.get("release"))
    if version and release:
        version = f"{version}-{release}"
    names = list(dict.fromkeys(name for name in (_text(p.get("name")) for p in packages) if name))
    reference_urls = details.get("referenceUrls")
    first_reference = reference_urls[0] if isinstance(reference_urls, list) and reference_urls else None
    remediation = raw.get("remediation")
    recommendation = remediation.get("recommendation") if isinstance(remediation, Mapping) else None
    recommendation_url = recommendation.get("url") if isinstance(recommendation, Mapping) else None
    score = _score(raw.get("score"))
    if score is None:
        scores = [_score(entry.get("baseScore")) for entry in _mappings(details.get("cvss"))]
        score = max((s for s in scores if s is not None), default=None)
    fix_available = _yes_no(raw.get("fixAvailable"))
    if fix_available is None and packages:
        fix_available = bool(fixed_in)
    return Finding(
        id=_text(details.get("vulnerabilityId")) or _text(raw.get("title")) or "(unnamed)",
        severity=severity_of(raw.get("severity")),
        score=score,
        package_name=", ".join(names),
        package_version=version,
        fixed_in_version=fixed_in,
        fix_available=fix_available,
        exploit_available=_yes_no(raw.get("exploitAvailable")),
        link=_text(details.get("sourceUrl")) or _text(first_reference) or _text(recommendation_url),
        description=_text(raw.get("description")) or _text(raw.get("title")),
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
