"""A batch of Inspector finding events to one alert per vulnerability and direction (advisories.py), each image in
it claimed in the alert ledger first, so that what a scan alert (or an earlier event) already sent is not sent again.

A failed publish fails only the queue messages of that advisory (ReportBatchItemFailures): SQS delivers them again,
then moves them to the dead-letter queue; the other advisories of the batch are not sent twice. A message that is
not an Inspector finding event is rejected (logged, counted, never retried: it could never succeed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import GovernanceError
from ecr_governance.findings.advisories import Advisory, group
from ecr_governance.findings.finding_events import FindingEvent
from ecr_governance.findings.ledger import EntryState, GuardedPublisher, LedgerFailures, vulnerability_entry
from ecr_governance.findings.normalize import Severity
from ecr_governance.findings.policy import AlertRules
from ecr_governance.findings.reader import RulesReader
from ecr_governance.findings.render_advisory import advisory_notice

logger = Logger(service=SERVICE_NAME, child=True)


@dataclass
class BatchOutcome:
    """What one batch led to; `failed_messages` are the queue messages to deliver again."""

    advisories_published: int = 0
    resolved_published: int = 0
    images_alerted: int = 0
    previously_alerted: int = 0
    failed_messages: set[str] = field(default_factory=set)
    skipped: Counter[str] = field(default_factory=Counter)
    suppression_problems: int = 0
    ledger_failures: int = 0
    published_by_severity: Counter[Severity] = field(default_factory=Counter)  # advisories (not resolved ones)

    def as_dict(self) -> dict[str, Any]:
        return {
            "advisoriesPublished": self.advisories_published,
            "resolvedPublished": self.resolved_published,
            "imagesAlerted": self.images_alerted,
            "previouslyAlerted": self.previously_alerted,
            "failedMessages": sorted(self.failed_messages),
            "skipped": dict(self.skipped),
            "suppressionProblems": self.suppression_problems,
            "ledgerFailures": self.ledger_failures,
            "publishedBySeverity": {str(severity): n for severity, n in sorted(self.published_by_severity.items())},
        }


class FindingEventsAlerter:
    def __init__(self, rules: RulesReader, guard: GuardedPublisher):
        self._rules = rules
        self._guard = guard

    def alert_batch(self, events: Sequence[tuple[str, FindingEvent]]) -> BatchOutcome:
        """`events`: (queue message id, parsed event) for every message that parsed."""
        rules = self._rules.rules()
        decision = group(events, rules)
        outcome = BatchOutcome(skipped=decision.skipped, suppression_problems=len(decision.suppression_problems))
        tally = LedgerFailures()
        for advisory in decision.advisories:
            try:
                self._alert(advisory, rules, outcome, tally)
            except GovernanceError as error:  # logged by the guard; these messages are delivered again
                outcome.failed_messages |= advisory.message_ids
                logger.error(
                    "advisory not alerted: its messages are retried",
                    extra={"vulnerability": advisory.vulnerability_id, "reason": str(error)},
                )
        outcome.ledger_failures = tally.count
        return outcome

    def _alert(self, advisory: Advisory, rules: AlertRules, outcome: BatchOutcome, tally: LedgerFailures) -> None:
        state = EntryState.CLOSED if advisory.resolved else EntryState.ACTIVE
        entries = {
            vulnerability_entry(o.image, advisory.vulnerability_id, state, o.updated_at): o
            for o in advisory.occurrences
        }
        owner = f"advisory:{min(advisory.message_ids)}"
        claim = self._guard.claim(list(entries), owner, tally)
        claimed = tuple(entries[entry] for entry in claim.entries)
        previously = len(advisory.occurrences) - len(claimed)
        outcome.previously_alerted += previously
        if not claimed:
            logger.info(
                "advisory already alerted for every image: no alert", extra={"vulnerability": advisory.vulnerability_id}
            )
            return
        fresh = Advisory(advisory.vulnerability_id, advisory.resolved, claimed, advisory.expired)
        notice = advisory_notice(fresh, rules, previously)
        self._guard.publish(notice, claim, owner, tally)
        logger.info("advisory published", extra={"subject": notice.subject, "images": len(claimed)})
        if advisory.resolved:
            outcome.resolved_published += 1
        else:
            outcome.advisories_published += 1
            outcome.published_by_severity[advisory.severity] += 1
        outcome.images_alerted += len(claimed)
