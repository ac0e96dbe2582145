"""A batch of Inspector finding events grouped into advisories (pure): one per vulnerability and direction - found,
or resolved - listing every image it concerns, with the rules of the scan alerts applied.

One new advisory can produce hundreds of finding events within minutes (one per image); the queue's batching window
collects them, and this turns them into one alert per vulnerability instead of one per image. Within a batch, the
latest event of a finding (ARN and image) decides, and a delivery of the same event twice counts once; SUPPRESSED
findings (Inspector's own suppression rules) are not alerted; a CLOSED one is reported as resolved, never as new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ecr_governance.findings.finding_events import FindingEvent, FindingStatus
from ecr_governance.findings.normalize import Finding, ScannedImage, Severity
from ecr_governance.findings.policy import AlertRules, Outcome, Suppression, SuppressionUse, alert_order


def repository_of(image: ScannedImage) -> tuple[str, str, str]:
    """(account, region, repository name): where an image is, as advisories list and count them."""
    return (image.registry_id, image.region, image.repository_name)


@dataclass(frozen=True)
class Occurrence:
    """One image a vulnerability was found in (or resolved from), and the queue messages that said so."""

    image: ScannedImage
    finding: Finding
    finding_arn: str
    updated_at: str
    message_ids: tuple[str, ...]


@dataclass(frozen=True)
class Advisory:
    vulnerability_id: str
    resolved: bool
    occurrences: tuple[Occurrence, ...]  # by account, region and repository, then tag
    expired: tuple[SuppressionUse, ...] = ()

    @property
    def worst(self) -> Finding:
        return min((occurrence.finding for occurrence in self.occurrences), key=alert_order)

    @property
    def severity(self) -> Severity:
        return self.worst.effective_severity

    @property
    def repositories(self) -> list[str]:
        return sorted({occurrence.image.repository_name for occurrence in self.occurrences})

    @property
    def repository_count(self) -> int:
        """How many repositories: the same name in two accounts or regions (an organization's) is two."""
        return len({repository_of(occurrence.image) for occurrence in self.occurrences})

    @property
    def message_ids(self) -> set[str]:
        return {message_id for occurrence in self.occurrences for message_id in occurrence.message_ids}

    @property
    def updated_at(self) -> str:
        return max(occurrence.updated_at for occurrence in self.occurrences)


@dataclass(frozen=True)
class BatchDecision:
    advisories: tuple[Advisory, ...]  # most severe first
    skipped: Counter[str] = field(default_factory=Counter)  # why the other occurrences are not alerted, by reason
    suppression_problems: tuple[str, ...] = ()


def _latest(events: Iterable[tuple[str, FindingEvent]]) -> dict[tuple[str, str], tuple[FindingEvent, list[str]]]:
    """Per (finding ARN, image): its latest event, and every message that carried an event of it."""
    latest: dict[tuple[str, str], tuple[FindingEvent, list[str]]] = {}
    for message_id, event in events:
        for image in event.images:
            key = (event.finding_arn, image.key)
            known = latest.get(key)
            messages = [*(known[1] if known else []), message_id]
            newest = event if known is None or event.updated_at >= known[0].updated_at else known[0]
            latest[key] = (newest, messages)
    return latest


def group(events: Sequence[tuple[str, FindingEvent]], rules: AlertRules) -> BatchDecision:
    """`events`: (queue message id, parsed event) pairs, in any order."""
    skipped: Counter[str] = Counter()
    groups: dict[tuple[str, bool], list[Occurrence]] = {}
    expired: dict[tuple[str, bool], Counter[Suppression]] = {}
    latest = _latest(events)
    skipped["superseded_or_duplicate"] = sum(len(events_of.images) for _, events_of in events) - len(latest)
    for (arn, image_key), (event, message_ids) in latest.items():
        if event.status is FindingStatus.SUPPRESSED:
            skipped["suppressed_by_inspector"] += 1
            continue
        image = next(image for image in event.images if image.key == image_key)
        verdict = rules.verdict(event.finding, image.repository_name)
        if verdict.outcome is not Outcome.ALERT:
            skipped[str(verdict.outcome)] += 1
            continue
        key = (event.finding.id.upper(), event.status is FindingStatus.CLOSED)
        occurrence = Occurrence(image, event.finding, arn, event.updated_at, tuple(dict.fromkeys(message_ids)))
        groups.setdefault(key, []).append(occurrence)
        expired.setdefault(key, Counter()).update(verdict.expired)
    advisories = [
        Advisory(
            vulnerability_id=occurrences[0].finding.id,
            resolved=resolved,
            occurrences=tuple(
                sorted(occurrences, key=lambda o: (*repository_of(o.image), o.image.tags, o.image.digest))
            ),
            expired=tuple(SuppressionUse(s, n) for s, n in expired[(vulnerability, resolved)].items()),
        )
        for (vulnerability, resolved), occurrences in groups.items()
    ]
    advisories.sort(key=lambda advisory: (advisory.resolved, alert_order(advisory.worst)))
    return BatchDecision(tuple(advisories), +skipped, rules.suppressions.problems)
