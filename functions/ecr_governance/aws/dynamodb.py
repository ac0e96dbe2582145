"""The DynamoDB adapter of the sweep's runs table (the sweep's RunLedger port): the run every kind shares
(aws/runs_table.py: pending units, each unit's counters once, per-account totals, the summary's claim), plus the
sweep's delete calls:
  sk `del#<call id>`     one delete call: the digests planned (written before the call), then those deleted
                         (`deleted`, `confirmedAt`), confirmed once in the transaction that adds them to the run
Deletions are added to a run (and its account) only by a call's confirmation, never by a unit's own report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ecr_governance.aws.iam import requires
from ecr_governance.aws.runs_table import (
    BATCH_WRITE_ATTEMPTS,
    MAX_BATCH_WRITE,
    RUN_RETENTION_DAYS,
    TTL_ATTRIBUTE,
    DynamoRunTally,
    _expires_at,
    _key,
    _number,
    raise_unprocessed,
)
from ecr_governance.images import iso8601
from ecr_governance.runs import RunCounters
from ecr_governance.sweep.ledger import SWEEP_COUNTERS, DeletionCall
from ecr_governance.sweep.plan import PlannedDeletion
from ecr_governance.sweep.report import DELETION_COUNTERS, RECLAIMED_COUNTERS

__all__ = [
    "BATCH_WRITE_ATTEMPTS",
    "MAX_BATCH_WRITE",
    "RUN_RETENTION_DAYS",
    "TTL_ATTRIBUTE",
    "DynamoRunLedger",
    "raise_unprocessed",
]


class DynamoRunLedger(DynamoRunTally):
    """The sweep's RunLedger: the shared run (aws/runs_table.py) and the delete calls, written before each call and
    confirmed once after it."""

    def __init__(self, dynamodb_client: Any, table_name: str, counters: RunCounters = SWEEP_COUNTERS):
        super().__init__(dynamodb_client, table_name, counters)

    @requires("dynamodb:PutItem", "dynamodb:UpdateItem")
    def intend_deletion(self, run_id: str, call: DeletionCall) -> None:
        item = {
            **_key(run_id, f"del#{call.call_id}"),
            "unit": {"S": call.unit_id},
            "repository": {"S": call.repository},
            "account": {"S": call.account},
            "region": {"S": call.region},
            "planned": {"L": [_deletion_value(d) for d in call.planned]},
            TTL_ATTRIBUTE: _expires_at(),
        }
        self._transact(
            [
                {"Put": self._put_new(item)},
                {"Update": self._run_update(run_id, "ADD pendingDeletions :one", {":one": _number(1)})},
            ]
        )

    @requires("dynamodb:UpdateItem")
    def confirm_deletion(
        self, run_id: str, call_id: str, deleted: Sequence[PlannedDeletion], account: str = ""
    ) -> bool:
        additions = {"deleted": len(deleted)}
        for storage, counter in RECLAIMED_COUNTERS.items():
            additions[counter] = sum(d.size_bytes for d in deleted if d.storage_class == storage)
        assert set(additions) == set(DELETION_COUNTERS)
        values = {":minus": _number(-1), **{f":{name}": _number(value) for name, value in additions.items()}}
        update = "ADD pendingDeletions :minus" + "".join(f", c_{name} :{name}" for name in additions)
        confirm = {
            **self._on(run_id, f"del#{call_id}", "attribute_exists(sk) AND attribute_not_exists(confirmedAt)"),
            "UpdateExpression": "SET confirmedAt = :now, deleted = :deleted",
            "ExpressionAttributeValues": {
                ":now": {"S": iso8601(datetime.now(UTC))},
                ":deleted": {"L": [{"S": d.digest} for d in deleted]},
            },
        }
        counters = [{"Update": self._run_update(run_id, update, values)}]
        if account:
            deleted_values = {k: v for k, v in values.items() if k != ":minus"}
            added = "ADD " + ", ".join(f"c_{name} :{name}" for name in additions)
            counters.append({"Update": self._counters_update(run_id, f"acct#{account}", added, deleted_values)})
        return self._transact([{"Update": confirm}, *counters])

    @requires("dynamodb:Query")
    def pending_deletions(self, run_id: str) -> list[DeletionCall]:
        return [
            DeletionCall(
                call_id=item["sk"]["S"].removeprefix("del#"),
                unit_id=item.get("unit", {}).get("S", ""),
                repository=item.get("repository", {}).get("S", ""),
                planned=tuple(_deletion(value) for value in item.get("planned", {}).get("L", [])),
                account=item.get("account", {}).get("S", ""),
                region=item.get("region", {}).get("S", ""),
            )
            for item in self._query(run_id, "del#")
            if "confirmedAt" not in item
        ]


def _deletion_value(deletion: PlannedDeletion) -> dict[str, Any]:
    return {"M": {"d": {"S": deletion.digest}, "s": _number(deletion.size_bytes), "c": {"S": deletion.storage_class}}}


def _deletion(value: Mapping[str, Any]) -> PlannedDeletion:
    fields = value.get("M", {})
    return PlannedDeletion(fields["d"]["S"], int(fields["s"]["N"]), fields.get("c", {}).get("S", "standard"))
