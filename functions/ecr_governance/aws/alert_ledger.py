"""The DynamoDB adapter of the alert ledger (findings/ledger.py): one item per image and subject.

Item: pk `image` (repository@digest), sk `subject` (vulnerability#<ID> | not-scanned#<REASON> |
signing-failed#<PROFILE>); `state`, `at` (the deciding event's time), `alertedAt`; while claimed `claimOwner`,
`claimUntil` (epoch seconds); `expiresAt` (the TTL attribute: the retention after an alert, or a day past the lease
for a claim never recorded). A claim is one conditional UpdateItem per entry, sent in parallel (a scan can alert
hundreds of findings); a record is a BatchWriteItem Put (25 a call) of the whole item, which also drops the claim.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ecr_governance.aws.ecr import batches
from ecr_governance.aws.errors import error_code, translated
from ecr_governance.aws.iam import requires
from ecr_governance.errors import AwsError
from ecr_governance.findings.ledger import LEASE_SECONDS, LedgerEntry
from ecr_governance.images import iso8601

MAX_PARALLEL_WRITES = 16
MAX_ITEMS_PER_BATCH_WRITE = 25
BATCH_WRITE_ATTEMPTS = 4
CONDITION_FAILED = "ConditionalCheckFailedException"
CLAIMABLE = (
    "(attribute_not_exists(#state) OR #state <> :state)"
    " AND (attribute_not_exists(#at) OR #at <= :at)"
    " AND (attribute_not_exists(claimUntil) OR claimUntil < :now OR claimOwner = :owner)"
)


def _key(entry: LedgerEntry) -> dict[str, Any]:
    return {"image": {"S": entry.image}, "subject": {"S": entry.subject}}


class DynamoAlertLedger:
    def __init__(self, dynamodb_client: Any, table_name: str, retention_seconds: int):
        self._ddb = dynamodb_client
        self._table = table_name
        self._retention_seconds = retention_seconds

    @requires("dynamodb:UpdateItem")
    def claim(self, entries: Sequence[LedgerEntry], owner: str) -> list[LedgerEntry]:
        now = int(time.time())
        claimed = self._in_parallel(lambda entry: self._claim_one(entry, owner, now), entries)
        return [entry for entry, won in zip(entries, claimed, strict=True) if won]

    def _claim_one(self, entry: LedgerEntry, owner: str, now: int) -> bool:
        with translated("UpdateItem", "dynamodb", self._table):
            try:
                self._ddb.update_item(
                    TableName=self._table,
                    Key=_key(entry),
                    UpdateExpression=(
                        "SET claimOwner = :owner, claimUntil = :until, expiresAt = if_not_exists(expiresAt, :lapse)"
                    ),
                    ConditionExpression=CLAIMABLE,
                    ExpressionAttributeNames={"#state": "state", "#at": "at"},
                    ExpressionAttributeValues={
                        ":state": {"S": str(entry.state)},
                        ":at": {"S": entry.at},
                        ":now": {"N": str(now)},
                        ":owner": {"S": owner},
                        ":until": {"N": str(now + LEASE_SECONDS)},
                        ":lapse": {"N": str(now + LEASE_SECONDS + 86400)},
                    },
                )
            except ClientError as error:
                if error_code(error) == CONDITION_FAILED:
                    return False
                raise
        return True

    @requires("dynamodb:BatchWriteItem")
    def confirm(self, entries: Sequence[LedgerEntry]) -> None:
        now = int(time.time())
        alerted_at = iso8601(datetime.now(UTC))
        for batch in batches(entries, MAX_ITEMS_PER_BATCH_WRITE):
            requests = [
                {
                    "PutRequest": {
                        "Item": {
                            **_key(entry),
                            "state": {"S": str(entry.state)},
                            "at": {"S": entry.at},
                            "alertedAt": {"S": alerted_at},
                            "expiresAt": {"N": str(now + self._retention_seconds)},
                        }
                    }
                }
                for entry in batch
            ]
            self._write(requests)

    def _write(self, requests: list[dict[str, Any]]) -> None:
        """One batch, its unprocessed items sent again (DynamoDB returns them when throttled)."""
        pending: dict[str, list[dict[str, Any]]] = {self._table: requests}
        for attempt in range(BATCH_WRITE_ATTEMPTS):
            with translated("BatchWriteItem", "dynamodb", self._table):
                pending = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(0.05 * 2**attempt)
        unprocessed = len(pending.get(self._table, []))
        raise AwsError(
            f"BatchWriteItem on {self._table}: {unprocessed} item(s) still unprocessed after retries",
            operation="BatchWriteItem",
            code="UnprocessedItems",
            transient=True,
        )

    @requires("dynamodb:UpdateItem")
    def release(self, entries: Sequence[LedgerEntry], owner: str) -> None:
        self._in_parallel(lambda entry: self._release_one(entry, owner), entries)

    def _release_one(self, entry: LedgerEntry, owner: str) -> None:
        with translated("UpdateItem", "dynamodb", self._table):
            try:
                self._ddb.update_item(
                    TableName=self._table,
                    Key=_key(entry),
                    UpdateExpression="REMOVE claimOwner, claimUntil",
                    ConditionExpression="claimOwner = :owner",
                    ExpressionAttributeValues={":owner": {"S": owner}},
                )
            except ClientError as error:
                if error_code(error) != CONDITION_FAILED:  # another owner's claim now: not ours to end
                    raise

    @staticmethod
    def _in_parallel[T](call: Callable[[LedgerEntry], T], entries: Sequence[LedgerEntry]) -> list[T]:
        if len(entries) <= 1:
            return [call(entry) for entry in entries]
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_WRITES, len(entries))) as pool:
            return list(pool.map(call, entries))
