"""What is worth an alert (pure): the severity threshold, the only-fixable option and the suppressions.

Suppressions are a JSON document (an SSM parameter):

    {"suppressions": [
      {"id": "CVE-2023-4911", "repositories": ["team-a/*"], "expires": "2026-12-31",
       "reason": "glibc tunables: no setuid binary in the image (SEC-123)"}
    ]}

(a bare list of entries works too). `id` is the finding's id (case-insensitive), `repositories` WILDCARD patterns
(`*` matches any run of characters, `/` included; default: every repository), `expires` a date (YYYY-MM-DD, UTC: the
suppression holds through that day) and `reason` why the finding is accepted - both required. An expired suppression
suppresses nothing; the alert lists it so someone renews it or fixes the finding. An entry that breaks these rules is
skipped with a problem naming it (the others still apply; the alert and an ERROR line say so); a document that is
not JSON at all suppresses nothing, with the same problem line - a broken document never stops an alert.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from ecr_governance.errors import SettingsError
from ecr_governance.findings.normalize import Finding, ScannedImage, Severity
from ecr_governance.findings.signing_status import SigningReport
from ecr_governance.signing import ImageSigningStatus
from ecr_governance.text import well_formed
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
        finding_id=well_formed(finding_id.strip()),  # JSON may hold a lone surrogate ("\ud800"): never raise later
        expires=expires,
        reason=well_formed(reason.strip()),
        repositories=tuple(repositories),
        entry=index,
    )


@dataclass(frozen=True)
class Suppressions:
    """The valid entries of a suppressions document, and a problem line per entry (or document) that is not."""

    entries: tuple[Suppression, ...] = ()
    problems: tuple[str, ...] = ()


def _entries(text: str, source: str) -> list[Any]:
    """The document's list of entries; SettingsError when the document itself is not one."""
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
    return document


def parse_suppressions(text: str, source: str = "suppressions") -> Suppressions:
    """Every valid entry of a suppressions document; each invalid one (or an invalid document) is a problem line
    naming `source` and the entry, and suppresses nothing."""
    if not text.strip():
        return Suppressions()
    try:
        raw_entries = _entries(text, source)
    except SettingsError as error:
        return Suppressions(problems=(str(error),))
    entries: list[Suppression] = []
    problems: list[str] = []
    for index, raw in enumerate(raw_entries):
        try:
            entries.append(_suppression(index, raw, source))
        except SettingsError as error:
            problems.append(str(error))
    return Suppressions(tuple(entries), tuple(problems))


# ---- deciding -------------------------------------------------------------------------------------------------
def alert_order(finding: Finding) -> tuple[Any, ...]:
    """Most severe first (an untriaged finding by its score's band), then highest score, then fixable first; ties
    broken by id and package for stable output."""
    score = finding.score if finding.score is not None else -1.0
    return (-finding.effective_severity.rank, -score, not finding.fixable, finding.id, finding.package_name)


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
    suppression_problems: tuple[str, ...] = ()  # entries of the suppressions document that were skipped
    previously_alerted: int = 0  # at or above the threshold, but already alerted (an earlier scan, a finding event)

    @property
    def should_alert(self) -> bool:
        return bool(self.alerted)

    @property
    def highest_severity(self) -> Severity | None:
        return self.alerted[0].effective_severity if self.alerted else None

    @property
    def alerted_counts(self) -> dict[Severity, int]:
        return dict(Counter(finding.effective_severity for finding in self.alerted))

    @property
    def fixable_count(self) -> int:
        return sum(1 for finding in self.alerted if finding.fixable)

    @property
    def suppressed_count(self) -> int:
        return sum(use.findings for use in self.suppressed)

    @property
    def total_findings(self) -> int:
        return sum(self.counts.values())


class Outcome(StrEnum):
    """What the rules make of one finding."""

    ALERT = "alert"
    BELOW_THRESHOLD = "below_threshold"
    NOT_FIXABLE = "not_fixable"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    suppression: Suppression | None = None  # the active suppression holding it back
    expired: tuple[Suppression, ...] = ()  # expired suppressions that name it (it is alerted anyway)


@dataclass(frozen=True)
class AlertRules:
    """The threshold, the only-fixable option and the suppressions, as of `today`: what both alert paths apply."""

    threshold: Severity
    only_fixable: bool
    suppressions: Suppressions = field(default_factory=Suppressions)
    today: date = date.min

    def verdict(self, finding: Finding, repository_name: str) -> Verdict:
        """Threshold, then only-fixable (a finding whose fix is unknown is kept), then suppressions."""
        if not finding.effective_severity.at_least(self.threshold):
            return Verdict(Outcome.BELOW_THRESHOLD)
        if self.only_fixable and finding.fix_available is False:
            return Verdict(Outcome.NOT_FIXABLE)
        matching = [
            s
            for s in self.suppressions.entries
            if s.finding_id.upper() == finding.id.upper() and s.covers_repository(repository_name)
        ]
        holding = next((s for s in matching if s.active_on(self.today)), None)
        if holding is not None:
            return Verdict(Outcome.SUPPRESSED, suppression=holding)
        return Verdict(Outcome.ALERT, expired=tuple(matching))


def decide(findings: Iterable[Finding], repository_name: str, rules: AlertRules) -> AlertDecision:
    """Every finding of one image through the rules: what is alerted (in alert order), and why the rest is not."""
    counts: Counter[Severity] = Counter()
    outcomes: Counter[Outcome] = Counter()
    suppressed: Counter[Suppression] = Counter()
    expired: Counter[Suppression] = Counter()
    alerted: list[Finding] = []
    for finding in findings:
        counts[finding.severity] += 1
        verdict = rules.verdict(finding, repository_name)
        outcomes[verdict.outcome] += 1
        if verdict.suppression is not None:
            suppressed[verdict.suppression] += 1
        expired.update(verdict.expired)
        if verdict.outcome is Outcome.ALERT:
            alerted.append(finding)
    alerted.sort(key=alert_order)
    return AlertDecision(
        threshold=rules.threshold,
        only_fixable=rules.only_fixable,
        alerted=tuple(alerted),
        counts=dict(counts),
        suppressed=_uses(suppressed),
        expired=_uses(expired),
        below_threshold=outcomes[Outcome.BELOW_THRESHOLD],
        not_fixable=outcomes[Outcome.NOT_FIXABLE],
        suppression_problems=rules.suppressions.problems,
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
    signing: SigningReport | None = None  # None: SignedRepositoryPatterns does not name the repository

    @property
    def failed_signings(self) -> tuple[ImageSigningStatus, ...]:
        return self.signing.failed if self.signing else ()

    @property
    def worth_alerting(self) -> bool:
        """A finding to alert or a signing that FAILED (never dropped for want of findings)."""
        return self.decision.should_alert or bool(self.failed_signings)


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
