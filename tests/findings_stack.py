"""What the findings functions need from the deployed stack, made on the emulator (as template.yaml declares it):
the alerts topic with an SQS subscriber that reads every alert back, the idempotency table, the alert ledger."""

from __future__ import annotations

import json
from typing import Any

import boto3
from registry_builders import REGION, topic_with_sqs_subscriber


def findings_stack() -> dict[str, Any]:
    """{"sqs", "queue_url", "dynamodb", "deployed": the environment the stack resolves for the functions}."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn, queue_url = topic_with_sqs_subscriber(sns, sqs, "alerts", "security-team")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="idempotency",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.create_table(
        TableName="alert-ledger",
        AttributeDefinitions=[
            {"AttributeName": "image", "AttributeType": "S"},
            {"AttributeName": "subject", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "image", "KeyType": "HASH"}, {"AttributeName": "subject", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    deployed = {
        "ALERTS_TOPIC_ARN": topic_arn,
        "IDEMPOTENCY_TABLE_NAME": "idempotency",
        "ALERT_LEDGER_TABLE": "alert-ledger",
    }
    return {"sqs": sqs, "queue_url": queue_url, "deployed": deployed, "dynamodb": dynamodb}


def received(stack: dict[str, Any]) -> list[dict[str, Any]]:
    """Every message the SQS subscriber got: the SNS envelope, its Message parsed (the `sqs` body)."""
    messages = []
    while True:
        batch = stack["sqs"].receive_message(QueueUrl=stack["queue_url"], MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            envelope = json.loads(message["Body"])
            messages.append({**envelope, "Message": json.loads(envelope["Message"])})
            stack["sqs"].delete_message(QueueUrl=stack["queue_url"], ReceiptHandle=message["ReceiptHandle"])
