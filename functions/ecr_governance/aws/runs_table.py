"""The DynamoDB adapter of the runs table's shared part (ecr_governance.runs' RunTally and the open-run index): a
run, its pending units, each unit's counters recorded once, per-account totals and the summary's leased claim. The
sweep's adapter (aws/dynamodb.py) adds its delete calls; an organization reconcile uses this with its own counters.

Item layout (pk = `run#<run id>`):
  sk `run`               mode, startedAt, deadline, expected, reported, exempt, inUse, pendingDeletions,
                         c_<counter> sums, claimedAt (summary claimed), publishedAt (summary out)
  sk `pending#<unit id>` a message the run waits for; removed with its result (what is left at the deadline is
                         named in the summary as not reported)
  sk `unit#<unit id>`    one message's result (its counters), written once in the transaction that adds them to
                         the run, so a message delivered twice is counted once
  sk `acct#<account>`    an organization run's counters for one member account, added in the same transactions
  (the sweep's `del#<call id>` items: aws/dynamodb.py)
And one index item per run whose summary is not out (the organization reconcile's, read by the hub's summary check):
  pk `open#<kind>`, sk `<run id>`, written before the run, removed once its summary is out
Every item expires (`expiresAt`, the table's TTL attribute) RUN_RETENTION_DAYS after it was written. Times are
ISO-8601 UTC strings, which compare in time order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ecr_governance.aws.errors import error_code, translated
from ecr_governance.aws.iam import requires
from ecr_governance.errors import AwsError
from ecr_governance.images import iso8601
from ecr_governance.runs import SUMMARY_LEASE, RunCounters, RunStart, RunState, UnitRef

RUN_RETENTION_DAYS = 30
RUN_ITEM = "run"
TTL_ATTRIBUTE = "expiresAt"
CONDITION_FAILED = "ConditionalCheckFailedException"
MAX_BATCH_WRITE = 25  # BatchWriteItem's limit
MAX_TRANSACTION_ITEMS = 100  # TransactWriteItems' limit
BATCH_WRITE_ATTEMPTS = 5


def _key(run_id: str, sort_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"run#{run_id}"}, "sk": {"S": sort_key}}


def _number(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


def _expires_at() -> dict[str, str]:
    return _number(int(time.time()) + RUN_RETENTION_DAYS * 86400)


def _int(item: Mapping[str, Any], name: str) -> int:
    return int(item.get(name, {}).get("N", "0"))


class DynamoRunTally:
    def __init__(self, dynamodb_client: Any, table_name: str, counters: RunCounters):
        """`counters`: what this kind of run adds up (the sweep's, an organization reconcile's)."""
        self._ddb = dynamodb_client
        self._table = table_name
        self._counters = counters

    # ---- the run's starter ------------------------------------------------------------------------------------------
    @requires("dynamodb:PutItem", "dynamodb:BatchWriteItem")
    def start_run(self, run: RunStart) -> bool:
        """The pending entries first (idempotent), then the run; False when the run exists (a retried planner)."""
        self._put_all([self._pending_item(run.run_id, unit) for unit in run.units])
        item = {
            **_key(run.run_id, RUN_ITEM),
            "mode": {"S": str(run.mode)},
            "startedAt": {"S": iso8601(run.started_at)},
            "deadline": {"S": iso8601(run.deadline)},
            "expected": _number(len(run.units)),
            "reported": _number(0),
            "pendingDeletions": _number(0),
            "exempt": _number(run.exempt),
            TTL_ATTRIBUTE: _expires_at(),
        }
        if run.in_use_available is not None:
            item["inUse"] = {"BOOL": run.in_use_available}
        if run.not_onboarded:
            item["notOnboarded"] = {"L": [{"S": entry} for entry in run.not_onboarded]}
        if run.account_names:
            item["accountNames"] = {"M": {account: {"S": name} for account, name in run.account_names.items()}}
        with translated("PutItem", "dynamodb", self._table):
            try:
                self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            except ClientError as error:
                if error_code(error) == CONDITION_FAILED:
                    return False
                raise
        return True

    @requires("dynamodb:DeleteItem", "dynamodb:UpdateItem")
    def remove_units(self, run_id: str, units: Sequence[UnitRef]) -> None:
        for unit in units:
            self._transact(
                [
                    {"Delete": self._on(run_id, f"pending#{unit.unit_id}", "attribute_exists(sk)")},
                    {"Update": self._run_update(run_id, "ADD expected :minus", {":minus": _number(-1)})},
                ]
            )

    # ---- the units ------------------------------------------------------------------------------------------
    @requires("dynamodb:PutItem", "dynamodb:UpdateItem")
    def add_units(self, run_id: str, units: Sequence[UnitRef]) -> None:
        """Each pending entry with its count in one transaction (up to 99 entries and the count a transaction); an
        entry that exists already (a retried expansion) cancels its transaction, which then adds nothing."""
        for start in range(0, len(units), MAX_TRANSACTION_ITEMS - 1):
            chunk = units[start : start + MAX_TRANSACTION_ITEMS - 1]
            puts = [{"Put": self._put_new(self._pending_item(run_id, unit))} for unit in chunk]
            count = {":count": _number(len(chunk))}
            with translated("TransactWriteItems", "dynamodb", self._table):
                try:
                    self._ddb.transact_write_items(
                        TransactItems=[*puts, {"Update": self._run_update(run_id, "ADD expected :count", count)}]
                    )
                except ClientError as error:
                    if error_code(error) != "TransactionCanceledException":
                        raise
                    self._add_one_by_one(run_id, chunk)

    def _add_one_by_one(self, run_id: str, units: Sequence[UnitRef]) -> None:
        for unit in units:
            self._transact(
                [
                    {"Put": self._put_new(self._pending_item(run_id, unit))},
                    {"Update": self._run_update(run_id, "ADD expected :one", {":one": _number(1)})},
                ]
            )

    @requires("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
    def record_unit(self, run_id: str, unit: UnitRef, counts: Mapping[str, int]) -> bool:
        result = {
            **_key(run_id, f"unit#{unit.unit_id}"),
            "repository": {"S": unit.repository},
            **{f"c_{name}": _number(counts.get(name, 0)) for name in self._counters.unit},
            TTL_ATTRIBUTE: _expires_at(),
        }
        additions = {name: counts[name] for name in self._counters.unit if counts.get(name)}
        values = {":one": _number(1), **{f":{name}": _number(value) for name, value in additions.items()}}
        update = "ADD reported :one" + "".join(f", c_{name} :{name}" for name in additions)
        items = [
            {"Put": self._put_new(result)},
            {"Update": self._run_update(run_id, update, values)},
            {"Delete": {"TableName": self._table, "Key": _key(run_id, f"pending#{unit.unit_id}")}},
        ]
        if unit.account and additions:
            added = "ADD " + ", ".join(f"c_{name} :{name}" for name in additions)
            counter_values = {k: v for k, v in values.items() if k != ":one"}
            items.append({"Update": self._counters_update(run_id, f"acct#{unit.account}", added, counter_values)})
        return self._transact(items)

    # ---- the summary ------------------------------------------------------------------------------------------
    @requires("dynamodb:GetItem")
    def run_state(self, run_id: str) -> RunState | None:
        with translated("GetItem", "dynamodb", self._table):
            item = self._ddb.get_item(TableName=self._table, Key=_key(run_id, RUN_ITEM), ConsistentRead=True)
        return _state(run_id, item["Item"], self._counters.names) if "Item" in item else None

    @requires("dynamodb:UpdateItem")
    def claim_summary(self, run_id: str, now: datetime, closing: bool) -> RunState | None:
        ready = "deadline <= :now" if closing else "reported >= expected"
        condition = (
            f"attribute_exists(expected) AND attribute_not_exists(publishedAt) AND ({ready}) "
            "AND (attribute_not_exists(claimedAt) OR claimedAt < :stale)"
        )
        with translated("UpdateItem", "dynamodb", self._table):
            try:
                response = self._ddb.update_item(
                    TableName=self._table,
                    Key=_key(run_id, RUN_ITEM),
                    UpdateExpression="SET claimedAt = :now",
                    ConditionExpression=condition,
                    ExpressionAttributeValues={
                        ":now": {"S": iso8601(now)},
                        ":stale": {"S": iso8601(now - SUMMARY_LEASE)},
                    },
                    ReturnValues="ALL_NEW",
                )
            except ClientError as error:
                if error_code(error) == CONDITION_FAILED:
                    return None
                raise
        return _state(run_id, response["Attributes"], self._counters.names)

    @requires("dynamodb:Query")
    def unfinished_units(self, run_id: str) -> list[UnitRef]:
        return [
            UnitRef(
                item["sk"]["S"].removeprefix("pending#"),
                item.get("repository", {}).get("S", ""),
                item.get("account", {}).get("S", ""),
            )
            for item in self._query(run_id, "pending#")
        ]

    @requires("dynamodb:Query")
    def account_totals(self, run_id: str) -> dict[str, dict[str, int]]:
        return {
            item["sk"]["S"].removeprefix("acct#"): {name: _int(item, f"c_{name}") for name in self._counters.names}
            for item in self._query(run_id, "acct#")
        }

    @requires("dynamodb:UpdateItem")
    def mark_published(self, run_id: str) -> None:
        with translated("UpdateItem", "dynamodb", self._table):
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(run_id, RUN_ITEM),
                UpdateExpression="SET publishedAt = :now",
                ExpressionAttributeValues={":now": {"S": iso8601(datetime.now(UTC))}},
            )

    # ---- the open-run index (OpenRunIndex) ----------------------------------------------------------------------
    @requires("dynamodb:PutItem")
    def open_run(self, kind: str, run_id: str) -> None:
        item = {"pk": {"S": f"open#{kind}"}, "sk": {"S": run_id}, TTL_ATTRIBUTE: _expires_at()}
        with translated("PutItem", "dynamodb", self._table):
            self._ddb.put_item(TableName=self._table, Item=item)

    @requires("dynamodb:Query")
    def open_runs(self, kind: str) -> list[str]:
        with translated("Query", "dynamodb", self._table):
            pages = self._ddb.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"open#{kind}"}},
                ConsistentRead=True,
            )
            return [item["sk"]["S"] for page in pages for item in page.get("Items", [])]

    @requires("dynamodb:DeleteItem")
    def close_run(self, kind: str, run_id: str) -> None:
        with translated("DeleteItem", "dynamodb", self._table):
            self._ddb.delete_item(TableName=self._table, Key={"pk": {"S": f"open#{kind}"}, "sk": {"S": run_id}})

    # ---- helpers ----------------------------------------------------------------------------------------------
    def _pending_item(self, run_id: str, unit: UnitRef) -> dict[str, Any]:
        return {
            **_key(run_id, f"pending#{unit.unit_id}"),
            "repository": {"S": unit.repository},
            "account": {"S": unit.account},
            TTL_ATTRIBUTE: _expires_at(),
        }

    def _counters_update(self, run_id: str, sort_key: str, expression: str, values: dict[str, Any]) -> dict[str, Any]:
        """ADD counters to an item the first update creates (an account's totals), which expires with the run."""
        return {
            "TableName": self._table,
            "Key": _key(run_id, sort_key),
            "UpdateExpression": f"{expression} SET {TTL_ATTRIBUTE} = :ttl",
            "ExpressionAttributeValues": {**values, ":ttl": _expires_at()},
        }

    def _on(self, run_id: str, sort_key: str, condition: str) -> dict[str, Any]:
        return {"TableName": self._table, "Key": _key(run_id, sort_key), "ConditionExpression": condition}

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(sk)"}

    def _run_update(self, run_id: str, expression: str, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": _key(run_id, RUN_ITEM),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """One transaction; False when it was cancelled only because its first item's condition failed (done
        before: the write is idempotent)."""
        with translated("TransactWriteItems", "dynamodb", self._table):
            try:
                self._ddb.transact_write_items(TransactItems=items)
            except ClientError as error:
                if _cancelled_by_the_first_condition(error):
                    return False
                raise
        return True

    def _put_all(self, items: list[dict[str, Any]]) -> None:
        for start in range(0, len(items), MAX_BATCH_WRITE):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + MAX_BATCH_WRITE]]
            for _ in range(BATCH_WRITE_ATTEMPTS):
                with translated("BatchWriteItem", "dynamodb", self._table):
                    response = self._ddb.batch_write_item(RequestItems={self._table: requests})
                requests = response.get("UnprocessedItems", {}).get(self._table, [])
                if not requests:
                    break
            else:
                raise_unprocessed(self._table, len(requests))

    def _query(self, run_id: str, prefix: str) -> Iterator[dict[str, Any]]:
        with translated("Query", "dynamodb", self._table):
            pages = self._ddb.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":pk": {"S": f"run#{run_id}"}, ":prefix": {"S": prefix}},
                ConsistentRead=True,
            )
            for page in pages:
                yield from page.get("Items", [])


def raise_unprocessed(table: str, count: int) -> None:
    raise AwsError(
        f"BatchWriteItem on {table}: {count} item(s) still unprocessed after {BATCH_WRITE_ATTEMPTS} attempts",
        operation="BatchWriteItem",
        code="UnprocessedItems",
        transient=True,
    )


def _state(run_id: str, item: Mapping[str, Any], counters: Sequence[str]) -> RunState:
    in_use = item.get("inUse", {}).get("BOOL")
    return RunState(
        run_id=run_id,
        mode=item.get("mode", {}).get("S", ""),
        started_at=item.get("startedAt", {}).get("S", ""),
        deadline=item.get("deadline", {}).get("S", ""),
        expected=_int(item, "expected"),
        reported=_int(item, "reported"),
        counts={name: _int(item, f"c_{name}") for name in counters},
        exempt=_int(item, "exempt"),
        in_use_available=in_use if isinstance(in_use, bool) else None,
        pending_deletions=_int(item, "pendingDeletions"),
        published="publishedAt" in item,
        not_onboarded=tuple(entry["S"] for entry in item.get("notOnboarded", {}).get("L", [])),
        account_names={k: v["S"] for k, v in item.get("accountNames", {}).get("M", {}).items()},
    )


def _cancelled_by_the_first_condition(error: ClientError) -> bool:
    """A transaction cancelled because its first item's condition failed (the result was written before)."""
    if error_code(error) != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"
