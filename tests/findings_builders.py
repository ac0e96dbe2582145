"""Helpers that build normalized findings, images and reports for the findings tests (pytest pythonpath = tests)."""

from __future__ import annotations

from datetime import date
from typing import Any

from ecr_governance.findings.asff import security_hub_findings
from ecr_governance.findings.normalize import Finding, ScannedImage, Severity
from ecr_governance.findings.policy import AlertRules, FindingsReport, Suppression, Suppressions, decide

IMAGE = ScannedImage(
    repository_name="mlops/retail-api",
    digest="sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd",
    tags=("1.4.2",),
    registry_id="123456789012",
    region="ap-southeast-1",
)
TODAY = date(2026, 11, 20)


def finding(  # noqa: PLR0913, PLR0917 - a builder: one argument per finding field, defaulted
    finding_id: str = "CVE-2024-0001",
    severity: Severity = Severity.HIGH,
    score: float | None = 7.5,
    package: str = "openssl",
    version: str = "3.0.9",
    fixed_in: str = "",
    fix_available: bool | None = None,
    exploit: bool | None = None,
    description: str = "",
) -> Finding:
    return Finding(
        id=finding_id,
        severity=severity,
        score=score,
        package_name=package,
        package_version=version,
        fixed_in_version=fixed_in,
        fix_available=fix_available if fix_available is not None else (True if fixed_in else None),
        exploit_available=exploit,
        link=f"https://nvd.nist.gov/vuln/detail/{finding_id}",
        description=description,
    )


def report_of(  # noqa: PLR0917 - a builder: one argument per setting the report is made under, defaulted
    findings: list[Finding],
    threshold: Severity = Severity.HIGH,
    only_fixable: bool = False,
    suppressions: tuple[Suppression, ...] = (),
    image: ScannedImage = IMAGE,
    scan_kind: str = "basic",
) -> FindingsReport:
    rules = AlertRules(threshold, only_fixable, Suppressions(tuple(suppressions)), TODAY)
    return FindingsReport(image, scan_kind, "2026-11-20T02:36:48Z", decide(findings, image.repository_name, rules))


def asff_documents(count: int) -> list[dict[str, Any]]:
    """`count` ASFF findings as the alert path builds them (distinct ids)."""
    findings = [finding(f"CVE-2025-{index:05d}") for index in range(count)]
    return security_hub_findings(report_of(findings, threshold=Severity.UNDEFINED))
