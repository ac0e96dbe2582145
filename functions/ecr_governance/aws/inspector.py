"""The Amazon Inspector adapter: which ECR images run (the sweep's InUseSource port).

Inspector's coverage of an ECR image carries `inUseCount` (ECS tasks and EKS pods running it now) and `lastInUseAt`.
An untagged image deployed by digest is still in use: the sweep keeps what Inspector saw running within its idle
window. Two ListCoverage queries per repository, each filtered server-side (the filters of one query are ANDed):
images in use now, and images last in use since the idle window began - usually one page each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires
from ecr_governance.errors import AwsError
from ecr_governance.images import parse_timestamp
from ecr_governance.sweep.plan import InUse

MAX_COVERAGE_PAGE = 200  # ListCoverage's maxResults
# An ECR image's coverage resourceId: arn:<partition>:ecr:<region>:<account>:repository/<name>/sha256:<64 hex>.
IMAGE_RESOURCE_ID = re.compile(r"^arn:[^:]+:ecr:[^:]*:\d{12}:repository/(?P<name>.+)/(?P<digest>sha256:[0-9a-f]{64})$")


class InspectorUsage:
    def __init__(self, inspector_client: Any):
        self._inspector = inspector_client

    @requires("inspector2:BatchGetAccountStatus")
    def covers_registry(self, account_id: str) -> bool:
        """Whether Inspector scans this account's ECR images (resourceState.ecr.status ENABLED)."""
        with translated("BatchGetAccountStatus", "inspector2"):
            response = self._inspector.batch_get_account_status(accountIds=[account_id])
        for failure in response.get("failedAccounts", []):
            raise AwsError(
                f"Inspector account status of {account_id}: {failure.get('errorCode')}: {failure.get('errorMessage')}",
                operation="BatchGetAccountStatus",
                code=str(failure.get("errorCode", "")),
            )
        for account in response.get("accounts", []):
            if account.get("accountId") == account_id:
                return bool(account.get("resourceState", {}).get("ecr", {}).get("status") == "ENABLED")
        return False

    @requires("inspector2:ListCoverage")
    def images_in_use(self, repository_name: str, since: datetime) -> InUse:
        last_in_use: dict[str, datetime | None] = {}
        base = {
            "resourceType": [{"comparison": "EQUALS", "value": "AWS_ECR_CONTAINER_IMAGE"}],
            "ecrRepositoryName": [{"comparison": "EQUALS", "value": repository_name}],
        }
        queries = (
            {**base, "ecrImageInUseCount": [{"lowerInclusive": 1}]},
            {**base, "ecrImageLastInUseAt": [{"startInclusive": since}]},
        )
        for criteria in queries:
            for resource in self._covered(criteria):
                match = IMAGE_RESOURCE_ID.match(str(resource.get("resourceId", "")))
                if match is None or match["name"] != repository_name:
                    continue
                image = resource.get("resourceMetadata", {}).get("ecrImage", {})
                seen = None if image.get("inUseCount") else _time(image.get("lastInUseAt"))
                if seen is None and not image.get("inUseCount"):
                    continue  # neither in use now nor a time: nothing to go by
                digest = match["digest"]
                if digest not in last_in_use or seen is None:
                    last_in_use[digest] = seen
        return InUse(available=True, last_in_use=last_in_use)

    def _covered(self, criteria: dict[str, Any]) -> Iterator[dict[str, Any]]:
        with translated("ListCoverage", "inspector2"):
            for page in self._inspector.get_paginator("list_coverage").paginate(
                filterCriteria=criteria, PaginationConfig={"PageSize": MAX_COVERAGE_PAGE}
            ):
                yield from page.get("coveredResources", [])


def _time(value: Any) -> datetime | None:
    return None if value is None else parse_timestamp(value, "lastInUseAt")
