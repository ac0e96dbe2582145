"""A run's summary: published exactly once, when every message reported or when the run's deadline passed.

The worker whose result completes the run claims the summary and publishes it. If that fails (SNS refused, the
function stopped), the claim lapses after SUMMARY_LEASE and the run's deadline message - queued by the planner, back
every 15 minutes while the run is open - claims it again; at the deadline it publishes what is known, naming the
repositories not swept (a message in the dead-letter queue, one still retrying). Delete calls written down but never
confirmed are resolved first from the registry: their digests that are gone were deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import AwsError, FatalAwsError, GovernanceError, RepositoryNotFound
from ecr_governance.images import ManifestRead, parse_timestamp
from ecr_governance.notice import NoticePublisher
from ecr_governance.sweep.ledger import DeletionCall, RunLedger
from ecr_governance.sweep.messages import DEADLINE_RECHECK_SECONDS, DeadlineMessage, body
from ecr_governance.sweep.notice import Prices, sweep_notice
from ecr_governance.sweep.ports import MessageQueue

logger = Logger(service=SERVICE_NAME, child=True)

# A run whose summary could not be published for this long after it started is given up on (with an ERROR line).
MAX_RUN_AGE = timedelta(days=2)


class GoneChecker(Protocol):
    """Which of a delete call's digests are gone (BatchGetImage's ImageNotFound): the ECR adapter serves it."""

    def get_manifests(self, repository_name: str, digests: Iterable[str]) -> ManifestRead: ...


@dataclass(frozen=True)
class DeadlineResult:
    run_id: str
    status: str  # published | rechecking | already published | unknown run | abandoned | claimed elsewhere
    published: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"runId": self.run_id, "deadline": self.status}


class RunSummaries:
    def __init__(
        self,
        ledger: RunLedger,
        registry_for: Callable[[DeletionCall], GoneChecker],
        prices: Prices,
        clock: Callable[[], datetime],
        *,
        queue: MessageQueue | None = None,
        publisher: NoticePublisher | None = None,
    ):
        self._ledger = ledger
        # Where an unconfirmed call's digests are looked up: its account's registry (an organization hub's member).
        self._registry_for = registry_for
        self._prices = prices
        self._clock = clock
        self._queue = queue
        self._publisher = publisher
        self.notification_failed = False  # the handler turns it into a metric

    def publish_if_complete(self, run_id: str) -> bool:
        return self._publish(run_id, closing=False)

    def on_deadline(self, run_id: str) -> DeadlineResult:
        """A deadline message: publish the summary once the run is complete or its deadline passed; otherwise come
        back in 15 minutes."""
        state = self._ledger.run_state(run_id)
        if state is None:
            logger.warning("deadline of an unknown run: dropped", extra={"run_id": run_id})
            return DeadlineResult(run_id, "unknown run")
        if state.published:
            return DeadlineResult(run_id, "already published")
        now = self._clock()
        closing = now >= parse_timestamp(state.deadline, "deadline")
        if (state.complete or closing) and self._publish(run_id, closing):
            return DeadlineResult(run_id, "published", published=True)
        if now - parse_timestamp(state.started_at, "startedAt") > MAX_RUN_AGE:
            logger.error("sweep run summary never published: given up", extra={"run_id": run_id})
            return DeadlineResult(run_id, "abandoned")
        self._come_back(run_id)
        return DeadlineResult(run_id, "rechecking")

    # ---- publishing ---------------------------------------------------------------------------------------------
    def _publish(self, run_id: str, closing: bool) -> bool:
        state = self._ledger.claim_summary(run_id, self._clock(), closing)
        if state is None:
            return False
        if state.pending_deletions:
            self._resolve_pending(run_id)
            state = self._ledger.run_state(run_id) or state
        if not state.complete:
            state = replace(state, unswept=tuple(self._ledger.unfinished_units(run_id)))
        state = replace(state, per_account=self._ledger.account_totals(run_id))
        notice = sweep_notice(state, self._prices)
        logger.info(
            "sweep run complete",
            extra={
                "run_id": run_id,
                "mode": state.mode,
                "unswept": [u.repository for u in state.unswept],
                **state.counts,
            },
        )
        if self._publisher is not None:
            try:
                self._publisher.publish(notice)
            except FatalAwsError:
                raise
            except GovernanceError as error:
                # The claim lapses and the run's deadline message publishes it later.
                self.notification_failed = True
                logger.error(
                    "sweep summary not published: retried by the run's deadline message",
                    extra={"run_id": run_id, "reason": str(error), "error_code": getattr(error, "code", "")},
                )
                return False
        self._ledger.mark_published(run_id)
        return True

    def _resolve_pending(self, run_id: str) -> None:
        """Delete calls written down but never confirmed: their digests that are gone now were deleted."""
        for call in self._ledger.pending_deletions(run_id):
            try:
                read = self._registry_for(call).get_manifests(call.repository, [d.digest for d in call.planned])
            except RepositoryNotFound:
                read = ManifestRead()  # the repository went with its images: not counted as the sweep's
            deleted = [d for d in call.planned if d.digest in read.gone]
            self._ledger.confirm_deletion(run_id, call.call_id, deleted, call.account)
            logger.warning(
                "unconfirmed delete call resolved from the registry",
                extra={
                    "run_id": run_id,
                    "repository": call.repository,
                    "deleted": len(deleted),
                    "planned": len(call.planned),
                },
            )

    def _come_back(self, run_id: str) -> None:
        if self._queue is None:
            return
        result = self._queue.send_messages([body(DeadlineMessage(run_id))], DEADLINE_RECHECK_SECONDS)
        if result.unsent:  # SQS redelivers this message instead: the run is never left without its deadline
            raise AwsError("could not queue the run's deadline again: " + "; ".join(result.errors), transient=True)
