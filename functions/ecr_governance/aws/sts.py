"""The STS adapter: which account the function's credentials belong to (asked only under SAM local, where the
context's ARN carries SAM's placeholder account; GetCallerIdentity needs no IAM permission)."""

from __future__ import annotations

from typing import Any

from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires


class CallerIdentity:
    def __init__(self, sts_client: Any):
        self._sts = sts_client

    @requires("sts:GetCallerIdentity")
    def account(self) -> str:
        with translated("GetCallerIdentity", "sts"):
            return str(self._sts.get_caller_identity()["Account"])
