"""Powertools Idempotency's DynamoDB persistence layer, with the IAM action of each call it sends declared.

Powertools' documentation lists what its DynamoDB persistence needs: dynamodb:GetItem, PutItem, UpdateItem and
DeleteItem on the table (PutItem with a condition claims a key; UpdateItem records the result; DeleteItem releases a
key whose invocation failed, so that a retry runs again; GetItem reads a record back). The table has a partition key
`id` (string) and a TTL on `expiration` (template.yaml's IdempotencyTable).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from ecr_governance.aws.iam import requires


class IdempotencyTable(DynamoDBPersistenceLayer):
    def __init__(self, dynamodb_client: Any, table_name: str):
        super().__init__(table_name=table_name, boto3_client=dynamodb_client)

    @requires("dynamodb:PutItem")
    def save_inprogress(self, data: dict[str, Any], remaining_time_in_millis: int | None = None) -> None:
        super().save_inprogress(data, remaining_time_in_millis)

    @requires("dynamodb:UpdateItem")
    def save_success(self, data: dict[str, Any], result: dict) -> None:
        super().save_success(data, result)

    @requires("dynamodb:DeleteItem")
    def delete_record(self, data: dict[str, Any], exception: Exception) -> None:
        super().delete_record(data, exception)

    @requires("dynamodb:GetItem")
    def get_record(self, data: dict[str, Any]) -> Any:
        return super().get_record(data)
