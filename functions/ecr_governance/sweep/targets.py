"""An organization hub's fan-out: one member account-region's repositories, queued one message each.

The planner queues a target message per account-region it can reach; a worker lists that account-region's
repositories (through the member's role), leaves out those exempt from lifecycle, and queues a repository message for
each - written down as results to wait for before they are sent, so the run cannot look complete early. The target's
own result records what it found; a target that cannot be reached (its role went missing since the plan) is a
failure of that account-region, and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import FatalAwsError, GovernanceError
from ecr_governance.exemptions import ExemptionSettings
from ecr_governance.sweep.ledger import RunLedger, UnitRef
from ecr_governance.sweep.messages import RepositoryMessage, TargetMessage, body
from ecr_governance.sweep.planner import SweepPlanner
from ecr_governance.sweep.ports import MessageQueue, SweepAdapters

logger = Logger(service=SERVICE_NAME, child=True)


@dataclass(frozen=True)
class TargetExpansion:
    account: str
    region: str
    queued: int = 0
    exempt: int = 0
    unreadable: int = 0
    unsent: int = 0
    failure: str = ""

    def counts(self) -> dict[str, int]:
        return {
            "targets": 1,
            "targets_failed": int(bool(self.failure)),
            "repositories_exempt": self.exempt,
            "repositories_unreadable": self.unreadable + self.unsent,
        }

    def as_dict(self) -> dict[str, object]:
        result: dict[str, object] = {"account": self.account, "region": self.region, "queued": self.queued}
        if self.failure:
            result["failure"] = self.failure
        return result


def expand_target(
    message: TargetMessage,
    adapters_for: Callable[[TargetMessage], SweepAdapters],
    exemptions: ExemptionSettings,
    queue: MessageQueue,
    ledger: RunLedger,
) -> TargetExpansion:
    try:
        selection = SweepPlanner(adapters_for(message).directory, exemptions).select()
    except FatalAwsError:
        raise
    except GovernanceError as error:
        logger.error(
            "account-region not swept: it could not be read",
            extra={
                "run_id": message.run_id,
                "account": message.account,
                "region": message.region,
                "reason": str(error),
            },
        )
        expansion = TargetExpansion(message.account, message.region, failure=str(error))
    else:
        expansion = _queue(message, selection.repositories, queue, ledger)
        expansion = TargetExpansion(
            message.account,
            message.region,
            queued=expansion.queued,
            exempt=len(selection.exempt),
            unreadable=len(selection.unreadable),
            unsent=expansion.unsent,
        )
    ledger.record_unit(message.run_id, UnitRef(message.unit_id, "", message.account), expansion.counts())
    return expansion


def _queue(
    message: TargetMessage, repositories: tuple[str, ...], queue: MessageQueue, ledger: RunLedger
) -> TargetExpansion:
    messages = [RepositoryMessage(message.run_id, name, 0, message.account, message.region) for name in repositories]
    units = [UnitRef(m.unit_id, m.repository, m.account) for m in messages]
    ledger.add_units(message.run_id, units)  # expected first, as everywhere
    result = queue.send_messages([body(m) for m in messages]) if messages else None
    unsent = [units[i] for i in result.unsent] if result else []
    if unsent:
        ledger.remove_units(message.run_id, unsent)
        logger.error(
            "repositories not queued: swept next run",
            extra={
                "account": message.account,
                "region": message.region,
                "repositories": [u.repository for u in unsent],
            },
        )
    return TargetExpansion(message.account, message.region, queued=len(messages) - len(unsent), unsent=len(unsent))
