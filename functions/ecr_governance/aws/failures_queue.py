"""The SQS adapter of a failures queue (`ecr-governance findings redrive`): read messages without taking them away
(hidden for `hold_seconds`, or until released), delete one, release one, or send an event to a queue."""

from __future__ import annotations

from typing import Any

from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires
from ecr_governance.findings.redrive import QueuedMessage


class FailuresQueue:
    def __init__(self, sqs_client: Any, queue_url: str):
        self._sqs = sqs_client
        self._queue_url = queue_url

    @requires("sqs:ReceiveMessage")
    def receive(self, max_messages: int, hold_seconds: int) -> list[QueuedMessage]:
        with translated("ReceiveMessage", "sqs", self._queue_url):
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=max_messages,
                VisibilityTimeout=hold_seconds,
                WaitTimeSeconds=1,
            )
        return [
            QueuedMessage(message["MessageId"], message["ReceiptHandle"], message.get("Body", ""))
            for message in response.get("Messages", [])
        ]

    @requires("sqs:DeleteMessage")
    def delete(self, message: QueuedMessage) -> None:
        with translated("DeleteMessage", "sqs", self._queue_url):
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message.receipt_handle)

    @requires("sqs:SendMessage")
    def send(self, body: str) -> None:
        with translated("SendMessage", "sqs", self._queue_url):
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=body)

    @requires("sqs:ChangeMessageVisibility")
    def release(self, message: QueuedMessage) -> None:
        with translated("ChangeMessageVisibility", "sqs", self._queue_url):
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0
            )
