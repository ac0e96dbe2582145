"""What is worth an alert (pure): the severity threshold, the only-fixable option and the suppressions.

Suppressions are a JSON document (an SSM parameter):

    {"suppressions": [
      {"id": "CVE-2023-4911", "repositories": ["team-a/*"], "expires": "2026-12-31",
       "reason": "glibc tunables: no setuid binary in the image (SEC-123)"}
    ]}

(a bare list of entries works too). `id` is the finding's id (case-insensitive), `repositories` WILDCARD patterns
(`*` matches any run of characters, `/` included; default: every repository), `expires` a date (YYYY-MM-DD, UTC: the
suppression holds through that day) and `reason` why the finding is accepted - both required. An expired suppression
suppresses nothing; the alert lists it so someone renews it or fixes the finding. A document that breaks these rules
fails loudly with a message naming the entry.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ecr_governance.errors import SettingsError
from ecr_governance.findings.normalize import Finding, ScannedImage, Severity
from ecr_governance.wildcard import suppression_pattern_matches

SUPPRESSION_FIELDS = ("id", "repositories", "expires", "reason")
# A repository pattern: what a repository name may hold, plus `*`.
REPOSITORY_PATTERN = re.compile(r"^[a-z0-9._/*-]{1,256}$")
MAX_ID_LENGTH = 128
ALL_REPOSITORIES = ("*",)


@dataclass(frozen=True)
class Suppression:
    finding_id: str
    expires: date
    reason: str
    repositories: tuple[str, ...] = ALL_REPOSITORIES
    entry: int = 0  # its index in the document, for messages

    def covers_repository(self, repository_name: str) -> bool:
        return any(suppression_pattern_matches(pattern, repository_name) for pattern in self.repositories)

    def active_on(self, today: date) -> bool:
        return today <= self.expires

    def describe(self) -> str:
        return f"{self.finding_id} on {', '.join(self.repositories)}"


# ---- parsing the document -------------------------------------------------------------------------------------
def _entry_error(index: int, raw: Any, problem: str, source: str) -> SettingsError:
    finding_id = raw.get("id") if isinstance(raw, Mapping) else None
    named = f" (id {finding_id!r})" if isinstance(finding_id, str) and finding_id else ""
    return SettingsError(f"{source}: suppressions[{index}]{named}: {problem}")


def _suppression(index: int, raw: Any, source: str) -> Suppression:
    if not isinstance(raw, Mapping):
        raise _entry_error(index, raw, "must be an object with id, expires, reason (and repositories)", source)
    unknown = sorted(str(key) for key in raw if key not in SUPPRESSION_FIELDS)
    if unknown:
        raise _entry_error(index, raw, f"unknown field(s) {', '.join(unknown)}; expected {SUPPRESSION_FIELDS}", source)
    finding_id = raw.get("id")
    if not isinstance(finding_id, str) or not finding_id.strip() or len(finding_id) > MAX_ID_LENGTH:
        raise _entry_error(
            index, raw, f"id is required: a finding id such as CVE-2024-1234 (<= {MAX_ID_LENGTH})", source
        )
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise _entry_error(index, raw, "reason is required: say why the finding is accepted", source)
    expires_text = raw.get("expires")
    if not isinstance(expires_text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", expires_text):
        raise _entry_error(index, raw, f"expires is required: a date YYYY-MM-DD, got {expires_text!r}", source)
    try:
        expires = date.fromisoformat(expires_text)
    except ValueError as error:
        raise _entry_error(index, raw, f"expires {expires_text!r} is not a date", source) from error
    repositories = raw.get("repositories", list(ALL_REPOSITORIES))
    if not isinstance(repositories, list) or not repositories:
        raise _entry_error(index, raw, "repositories must be a non-empty list of patterns (omit it for all)", source)
    for pattern in repositories:
        if not isinstance(pattern, str) or not REPOSITORY_PATTERN.match(pattern):
            raise _entry_error(
                index, raw, f"repositories: {pattern!r} is not a repository pattern (a-z 0-9 . _ / - and *)", source
            )
    return Suppression(
        finding_id=finding_id.strip(),
        expires=expires,
        reason=reason.strip(),
        repositories=tuple(repositories),
        entry=index,
    )


def parse_suppressions(text: str, source: str = "suppressions") -> tuple[Suppression, ...]:
    """Every entry of a suppressions document; SettingsError naming `source` and the entry when one is invalid."""
    if not text.strip():
        return ()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{source} is not valid JSON: {error.msg} at line {error.lineno}") from error
    if isinstance(document, Mapping):
        unknown = sorted(str(key) for key in document if key != "suppressions")
        if unknown:
            raise SettingsError(f"{source}: unknown top-level field(s) {', '.join(unknown)}; expected suppressions")
        document = document.get("suppressions", [])
    if not isinstance(document, list):
        raise SettingsError(f'{source} must be {{"suppressions": [...]}} or a list of suppressions')
    return tuple(_suppression(index, raw, source) for index, raw in enumerate(document))


# ---- deciding -------------------------------------------------------------------------------------------------
def alert_order(finding: Finding) -> tuple[Any, ...]:
    """Most severe first, then highest score, then fixable first; ties broken by id and package for stable output."""
    score = finding.score if finding.score is not None else -1.0
    return (-finding.severity.rank, -score, not finding.fixable, finding.id, finding.package_name)


@dataclass(frozen=True)
class SuppressionUse:
    suppression: Suppression
    findings: int  # how many of this image's findings (at or above the threshold) it matched


@dataclass(frozen=True)
class AlertDecision:
    threshold: Severity
    only_fixable: bool
    alerted: tuple[Finding, ...]  # in alert order
    counts: Mapping[Severity, int]  # every finding of the scan, by severity
    suppressed: tuple[SuppressionUse, ...] = ()  # active suppressions that held findings back
    expired: tuple[SuppressionUse, ...] = ()  # expired suppressions that matched findings (alerted anyway)
    below_threshold: int = 0
    not_fixable: int = 0

    @property
    def should_alert(self) -> bool:
        return bool(self.alerted)

    @property
    def highest_severity(self) -> Severity | None:
        return self.alerted[0].severity if self.alerted else None

    @property
    def alerted_counts(self) -> dict[Severity, int]:
        return dict(Counter(finding.severity for finding in self.alerted))

    @property
    def fixable_count(self) -> int:
        return sum(1 for finding in self.alerted if finding.fixable)

    @property
    def suppressed_count(self) -> int:
        return sum(use.findings for use in self.suppressed)

    @property
    def total_findings(self) -> int:
        return sum(self.counts.values())


def decide(
    findings: Iterable[Finding],
    repository_name: str,
    threshold: Severity,
    only_fixable: bool,
    suppressions: Sequence[Suppression],
    today: date,
) -> AlertDecision:
    """Threshold, then only-fixable (a finding whose fix is unknown is kept), then suppressions."""
    by_id: dict[str, list[Suppression]] = {}
    for suppression in suppressions:
        if suppression.covers_repository(repository_name):
            by_id.setdefault(suppression.finding_id.upper(), []).append(suppression)
    counts: Counter[Severity] = Counter()
    suppressed: Counter[Suppression] = Counter()
    expired: Counter[Suppression] = Counter()
    alerted: list[Finding] = []
    below_threshold = not_fixable = 0
    for finding in findings:
        counts[finding.severity] += 1
        if not finding.severity.at_least(threshold):
            below_threshold += 1
            continue
        if only_fixable and finding.fix_available is False:
            not_fixable += 1
            continue
        matching = by_id.get(finding.id.upper(), [])
        holding = next((s for s in matching if s.active_on(today)), None)
        if holding is not None:
            suppressed[holding] += 1
            continue
        for suppression in matching:
            expired[suppression] += 1
        alerted.append(finding)
    alerted.sort(key=alert_order)
    return AlertDecision(
        threshold=threshold,
        only_fixable=only_fixable,
        alerted=tuple(alerted),
        counts=dict(counts),
        suppressed=_uses(suppressed),
        expired=_uses(expired),
        below_threshold=below_threshold,
        not_fixable=not_fixable,
    )


def _uses(counter: Counter[Suppression]) -> tuple[SuppressionUse, ...]:
    return tuple(SuppressionUse(s, n) for s, n in sorted(counter.items(), key=lambda item: item[0].entry))


@dataclass(frozen=True)
class FindingsReport:
    """One scanned image's findings and what was decided about them: what an alert carries."""

    image: ScannedImage
    scan_kind: str  # basic | enhanced
    completed_at: str  # ISO-8601, "" when unknown
    decision: AlertDecision
    scan_status: str = "COMPLETE"


@dataclass(frozen=True)
class ScanPosture:
    """A repository's newest image and its latest scan's counts: a row of the posture a security team reads."""

    repository_name: str
    image: ScannedImage | None  # None: the repository has no image
    pushed_at: str = ""
    scan_status: str = ""  # COMPLETE, ACTIVE, FAILED, ... or NOT_SCANNED / NO_IMAGES / ERROR
    counts: Mapping[Severity, int] = field(default_factory=dict)
    detail: str = ""  # the error, for an ERROR row

    def at_or_above(self, threshold: Severity) -> int:
        return sum(count for severity, count in self.counts.items() if severity.at_least(threshold))
