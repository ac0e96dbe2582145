"""Powertools Idempotency's DynamoDB persistence layer for a table, built through its public constructor, with the
IAM actions it needs declared once.

Powertools' documentation lists what its DynamoDB persistence needs: dynamodb:GetItem, PutItem, UpdateItem and
DeleteItem on the table (PutItem with a condition claims a key; UpdateItem records the result; DeleteItem releases a
key whose invocation failed, so that a retry runs again; GetItem reads a record back). The table has a partition key
`id` (string) and a TTL on `expiration` (template.yaml's IdempotencyTable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError

from ecr_governance.aws.iam import requires


class IdempotencyTable:
    def __init__(self, dynamodb_client: Any, table_name: str):
        self._client = dynamodb_client
        self._table_name = table_name

    @requires("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
    def persistence_layer(self) -> DynamoDBPersistenceLayer:
        """What `idempotent_function(persistence_store=...)` takes; Powertools sends the calls declared here."""
        return DynamoDBPersistenceLayer(table_name=self._table_name, boto3_client=self._client)


class Once:
    """`function(event, **context)` run at most once per event key (Powertools `idempotent_function`, public API
    only); `context` (what the call needs besides the event, e.g. the alerter composed for its registry) is passed
    through and never part of the key.

    Powertools saves the result after the function returns; when that save fails it raises, although the function -
    here, an alert - already ran. Raising would fail the invocation into a retry and a false "could not be alerted";
    so the result is returned instead and `on_unsaved` is told (a redelivery may then run the function again).
    A failure before the function ran (the key could not be claimed) still raises: nothing was done, a retry is right.
    """

    def __init__(
        self,
        function: Callable[..., dict[str, Any]],
        table: IdempotencyTable,
        config: IdempotencyConfig,
        on_unsaved: Callable[[Exception], None],
    ):
        self._function = function
        self._on_unsaved = on_unsaved
        self._result: dict[str, Any] | None = None
        self._once = idempotent_function(
            self._run, data_keyword_argument="event", persistence_store=table.persistence_layer(), config=config
        )

    def _run(self, event: Any, **context: Any) -> dict[str, Any]:
        self._result = self._function(event, **context)
        return self._result

    def __call__(self, event: Any, **context: Any) -> dict[str, Any]:
        self._result = None
        try:
            result: dict[str, Any] = self._once(event=event, **context)
            return result
        except IdempotencyPersistenceLayerError as error:
            ran = self._result_of_the_run()
            if ran is None:
                raise
            self._on_unsaved(error)
            return ran

    def _result_of_the_run(self) -> dict[str, Any] | None:
        """What the function returned inside Powertools' call (set by `_run`), None when it did not run."""
        return self._result
