"""Basic-scan findings as AWS Security Finding Format (ASFF) documents, for Security Hub's BatchImportFindings.

Only basic scanning's findings: Amazon Inspector already sends enhanced findings to Security Hub, and importing
them again would duplicate them. Each finding's `Id` is derived from the image and the finding (account, region,
repository, digest, finding id, package), so a rescan of the same image updates the findings instead of adding
copies. CreatedAt/UpdatedAt are the scan's completion time. A finding a rescan no longer reports, or one of an image
that was deleted, is archived: imported again with `RecordState: ARCHIVED` (`archived`), so it does not stay
ACTIVE in Security Hub forever.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ecr_governance.findings.normalize import Finding, ScannedImage, Severity
from ecr_governance.findings.ocsf import MAX_TAGS, image_resource_uid
from ecr_governance.findings.policy import FindingsReport
from ecr_governance.text import advisory_link

ASFF_SCHEMA_VERSION = "2018-10-08"
FINDING_TYPE = "Software and Configuration Checks/Vulnerabilities/CVE"
# ASFF's Severity.Label values; an unrated finding is informational there.
SEVERITY_LABELS = {
    Severity.CRITICAL: "CRITICAL",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MEDIUM",
    Severity.LOW: "LOW",
    Severity.INFORMATIONAL: "INFORMATIONAL",
    Severity.UNTRIAGED: "INFORMATIONAL",
    Severity.UNDEFINED: "INFORMATIONAL",
}
MAX_TITLE = 256
MAX_DESCRIPTION = 1024
MAX_GENERATOR_ID = 512
GENERATOR_PREFIX = "ecr-governance/basic-scan/"
# The fields this module writes: what an archived copy of a finding carries again (GetFindings adds others that
# BatchImportFindings does not take from a finding provider).
OWN_FIELDS = (
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "Severity",
    "Title",
    "Description",
    "Resources",
    "SourceUrl",
    "Vulnerabilities",
)


@dataclass(frozen=True)
class FailedImport:
    """A finding Security Hub refused (BatchImportFindings succeeds as a call and lists these)."""

    finding_id: str
    code: str
    message: str


def product_arn(image: ScannedImage) -> str:
    """The account's own 'default' product: where an account imports findings it generates itself."""
    return f"arn:{image.partition}:securityhub:{image.region}:{image.registry_id}:product/{image.registry_id}/default"


def asff_finding_id(image: ScannedImage, finding: Finding) -> str:
    identity = "/".join(
        (image.registry_id, image.region, image.repository_name, image.digest, finding.id, finding.package_name)
    )
    return f"{GENERATOR_PREFIX}{hashlib.sha256(identity.encode()).hexdigest()}"


def _asff(report: FindingsReport, finding: Finding) -> dict[str, Any]:
    image = report.image
    package = " ".join(part for part in (finding.package_name, finding.package_version) if part)
    title = f"{finding.id} in {package or image.repository_name}"[:MAX_TITLE]
    document: dict[str, Any] = {
        "SchemaVersion": ASFF_SCHEMA_VERSION,
        "Id": asff_finding_id(image, finding),
        "ProductArn": product_arn(image),
        "GeneratorId": f"{GENERATOR_PREFIX}{finding.id}"[:MAX_GENERATOR_ID],
        "AwsAccountId": image.registry_id,
        "Types": [FINDING_TYPE],
        "CreatedAt": report.completed_at,
        "UpdatedAt": report.completed_at,
        "Severity": {"Label": SEVERITY_LABELS[finding.effective_severity], "Original": str(finding.severity)},
        "Title": title,
        "Description": (finding.description or title)[:MAX_DESCRIPTION],
        "Resources": [
            {
                "Type": "AwsEcrContainerImage",
                "Id": image_resource_uid(image),
                "Partition": image.partition,
                "Region": image.region,
                "Details": {
                    "AwsEcrContainerImage": {
                        "RegistryId": image.registry_id,
                        "RepositoryName": image.repository_name,
                        "ImageDigest": image.digest,
                        "ImageTags": list(image.tags[:MAX_TAGS]),  # an import call carries 100 findings
                    }
                },
            }
        ],
        "RecordState": "ACTIVE",
    }
    link = advisory_link(finding.link)
    if link:
        document["SourceUrl"] = link
    if finding.package_name:
        document["Vulnerabilities"] = [
            {
                "Id": finding.id,
                "VulnerablePackages": [{"Name": finding.package_name, "Version": finding.package_version}],
            }
        ]
    return document


def security_hub_findings(report: FindingsReport) -> list[dict[str, Any]]:
    """The ASFF documents of the findings the alert reports (threshold, only-fixable and suppressions applied)."""
    return [_asff(report, finding) for finding in report.decision.alerted]


def archived(findings: Iterable[Mapping[str, Any]], now: str) -> list[dict[str, Any]]:
    """Findings this module imported earlier (as GetFindings returns them), as imports that archive them."""
    return [
        {**{key: finding[key] for key in OWN_FIELDS if key in finding}, "UpdatedAt": now, "RecordState": "ARCHIVED"}
        for finding in findings
    ]
