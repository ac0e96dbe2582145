"""The Lambda adapter: an asynchronous invocation of a function (a reconcile continuing in a fresh invocation)."""

from __future__ import annotations

import json
from typing import Any

from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires


class LambdaInvoker:
    def __init__(self, lambda_client: Any):
        self._lambda = lambda_client

    @requires("lambda:InvokeFunction")
    def invoke_async(self, function_name: str, payload: dict[str, Any]) -> None:
        """Queue an invocation (InvocationType Event): it runs with the function's retries and failure destination."""
        with translated("Invoke", "lambda", function_name):
            self._lambda.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload))
