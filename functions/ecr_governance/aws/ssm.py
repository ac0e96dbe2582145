"""The SSM adapter: the suppressions document, read through Powertools Parameters (cached for `max_age_seconds`, so
a burst of scan events reads the parameter once)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from ecr_governance.aws.errors import translate
from ecr_governance.aws.iam import requires
from ecr_governance.errors import AwsError, SettingsError


class SsmSuppressions:
    def __init__(self, ssm_client: Any, parameter_name: str, max_age_seconds: int):
        self._provider = SSMProvider(boto3_client=ssm_client)
        self._parameter_name = parameter_name
        self._max_age_seconds = max_age_seconds

    @requires("ssm:GetParameter")
    def suppressions_document(self) -> str:
        try:
            value = self._provider.get(self._parameter_name, max_age=self._max_age_seconds)
        except GetParameterError as error:
            # Powertools wraps every failure in GetParameterError; the botocore error is its context.
            cause = error.__context__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") == "ParameterNotFound":
                raise SettingsError(
                    f"suppressions parameter {self._parameter_name} does not exist (SuppressionsParameterName)"
                ) from error
            if isinstance(cause, (ClientError, BotoCoreError)):
                raise translate(cause, "GetParameter", "ssm", self._parameter_name) from error
            raise AwsError(
                f"GetParameter on {self._parameter_name} failed: {error}", operation="GetParameter"
            ) from error
        return value if isinstance(value, str) else ""
