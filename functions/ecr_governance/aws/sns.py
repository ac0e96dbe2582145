"""The SNS adapter: publishes a Notice to a topic, one body per protocol when the notice has several."""

from __future__ import annotations

from typing import Any

from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires
from ecr_governance.notice import Notice, protocol_message


class SnsPublisher:
    def __init__(self, sns_client: Any, topic_arn: str):
        self._sns = sns_client
        self._topic_arn = topic_arn

    @requires("sns:Publish")
    def publish(self, notice: Notice) -> None:
        params: dict[str, Any] = {
            "TopicArn": self._topic_arn,
            "Subject": notice.subject,
            "Message": protocol_message(notice),
        }
        if notice.bodies:
            # MessageStructure=json: each protocol reads its own key, `default` serves every other protocol.
            params["MessageStructure"] = "json"
        if notice.attributes:
            params["MessageAttributes"] = {
                name: {"DataType": "String", "StringValue": value} for name, value in notice.attributes.items()
            }
        with translated("Publish", "sns", self._topic_arn):
            self._sns.publish(**params)
