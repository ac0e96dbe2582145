"""The Security Hub adapter: imports ASFF findings, at most 100 a call (BatchImportFindings' limit), and reads back
the findings this function imported for an image (GetFindings), so that the ones no longer reported are archived."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecr_governance.aws.ecr import batches
from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires
from ecr_governance.findings.asff import FailedImport

MAX_FINDINGS_PER_IMPORT = 100
MAX_FINDINGS_PAGE = 100  # GetFindings' MaxResults


class SecurityHubImporter:
    def __init__(self, securityhub_client: Any):
        self._securityhub = securityhub_client

    @requires("securityhub:BatchImportFindings")
    def import_findings(self, findings: Sequence[Mapping[str, Any]]) -> list[FailedImport]:
        """Import every finding; the call succeeds while listing the findings Security Hub refused."""
        failures: list[FailedImport] = []
        for batch in batches(findings, MAX_FINDINGS_PER_IMPORT):
            with translated("BatchImportFindings", "securityhub"):
                response = self._securityhub.batch_import_findings(Findings=batch)
            failures.extend(
                FailedImport(
                    finding_id=str(failed.get("Id", "")),
                    code=str(failed.get("ErrorCode", "")),
                    message=str(failed.get("ErrorMessage", "")),
                )
                for failed in response.get("FailedFindings") or []
            )
        return failures

    @requires("securityhub:GetFindings")
    def active_findings(self, product_arn: str, resource_id: str, generator_prefix: str) -> list[dict[str, Any]]:
        """The ACTIVE findings of `product_arn` on the resource whose generator starts with `generator_prefix`."""
        filters = {
            "ProductArn": [{"Value": product_arn, "Comparison": "EQUALS"}],
            "ResourceId": [{"Value": resource_id, "Comparison": "EQUALS"}],
            "GeneratorId": [{"Value": generator_prefix, "Comparison": "PREFIX"}],
            "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        }
        found: list[dict[str, Any]] = []
        with translated("GetFindings", "securityhub"):
            for page in self._securityhub.get_paginator("get_findings").paginate(
                Filters=filters, PaginationConfig={"PageSize": MAX_FINDINGS_PAGE}
            ):
                found.extend(page.get("Findings", []))
        return found
