"""The Security Hub adapter: imports ASFF findings, at most 100 a call (BatchImportFindings' limit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecr_governance.aws.ecr import batches
from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires
from ecr_governance.findings.asff import FailedImport

MAX_FINDINGS_PER_IMPORT = 100


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
