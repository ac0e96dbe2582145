"""The DynamoDB adapter of the sweep's runs table: one item per run (atomic counters) and one per recorded result.

Item layout (pk = `run#<run id>`):
  sk `run`            expected (results to wait for), reported, c_<counter> sums, mode, startedAt, exempt, summarizedAt
  sk `unit#<unit id>` one message's result (repository, its counters): written once, in the same transaction that
                      adds its counters to the run, so a message delivered twice is counted once.
Every item expires (`expiresAt`, the table's TTL attribute) RUN_RETENTION_DAYS after it was written.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ecr_governance.aws.errors import error_code, translated
from ecr_governance.aws.iam import requires
from ecr_governance.images import iso8601
from ecr_governance.sweep.report import COUNTERS, RunStart, RunTotals

RUN_RETENTION_DAYS = 30
RUN_ITEM = "run"
TTL_ATTRIBUTE = "expiresAt"
CONDITION_FAILED = "ConditionalCheckFailedException"


def _key(run_id: str, sort_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"run#{run_id}"}, "sk": {"S": sort_key}}


def _number(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


def _expires_at() -> dict[str, str]:
    return _number(int(time.time()) + RUN_RETENTION_DAYS * 86400)


class DynamoRunLedger:
    def __init__(self, dynamodb_client: Any, table_name: str):
        self._ddb = dynamodb_client
        self._table = table_name

    @requires("dynamodb:PutItem")
    def start_run(self, run: RunStart) -> bool:
        """Create the run's item; False when it exists already (the planner's invocation was retried)."""
        item = {
            **_key(run.run_id, RUN_ITEM),
            "mode": {"S": str(run.mode)},
            "startedAt": {"S": iso8601(run.started_at)},
            "expected": _number(run.expected),
            "reported": _number(0),
            "exempt": _number(run.exempt),
            TTL_ATTRIBUTE: _expires_at(),
        }
        with translated("PutItem", "dynamodb", self._table):
            try:
                self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            except ClientError as error:
                if error_code(error) == CONDITION_FAILED:
                    return False
                raise
        return True

    @requires("dynamodb:UpdateItem")
    def add_expected(self, run_id: str, count: int) -> None:
        with translated("UpdateItem", "dynamodb", self._table):
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(run_id, RUN_ITEM),
                UpdateExpression="ADD expected :count",
                ExpressionAttributeValues={":count": _number(count)},
            )

    # TransactWriteItems is authorized per item: a Put (the result) and an Update (the run's counters).
    @requires("dynamodb:PutItem", "dynamodb:UpdateItem")
    def record_unit(self, run_id: str, unit_id: str, repository_name: str, counts: Mapping[str, int]) -> bool:
        result = {
            **_key(run_id, f"unit#{unit_id}"),
            "repository": {"S": repository_name},
            **{f"c_{name}": _number(counts.get(name, 0)) for name in COUNTERS},
            TTL_ATTRIBUTE: _expires_at(),
        }
        additions = {name: counts[name] for name in COUNTERS if counts.get(name)}
        values = {":one": _number(1), **{f":{name}": _number(value) for name, value in additions.items()}}
        update = "ADD reported :one" + "".join(f", c_{name} :{name}" for name in additions)
        with translated("TransactWriteItems", "dynamodb", self._table):
            try:
                self._ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": result,
                                "ConditionExpression": "attribute_not_exists(sk)",
                            }
                        },
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": _key(run_id, RUN_ITEM),
                                "UpdateExpression": update,
                                "ExpressionAttributeValues": values,
                            }
                        },
                    ]
                )
            except ClientError as error:
                if _cancelled_by_the_result_condition(error):
                    return False
                raise
        return True

    @requires("dynamodb:UpdateItem")
    def claim_summary(self, run_id: str) -> RunTotals | None:
        with translated("UpdateItem", "dynamodb", self._table):
            try:
                response = self._ddb.update_item(
                    TableName=self._table,
                    Key=_key(run_id, RUN_ITEM),
                    UpdateExpression="SET summarizedAt = :now",
                    ConditionExpression=(
                        "attribute_exists(expected) AND reported >= expected AND attribute_not_exists(summarizedAt)"
                    ),
                    ExpressionAttributeValues={":now": {"S": iso8601(datetime.now(UTC))}},
                    ReturnValues="ALL_NEW",
                )
            except ClientError as error:
                if error_code(error) == CONDITION_FAILED:
                    return None
                raise
        item = response.get("Attributes", {})
        return RunTotals(
            run_id=run_id,
            mode=item.get("mode", {}).get("S", ""),
            started_at=item.get("startedAt", {}).get("S", ""),
            expected=int(item["expected"]["N"]),
            reported=int(item["reported"]["N"]),
            counts={name: int(item.get(f"c_{name}", {}).get("N", "0")) for name in COUNTERS},
            exempt=int(item.get("exempt", {}).get("N", "0")),
        )


def _cancelled_by_the_result_condition(error: ClientError) -> bool:
    """A transaction cancelled because the result item exists already (the first item's condition)."""
    if error_code(error) != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"
