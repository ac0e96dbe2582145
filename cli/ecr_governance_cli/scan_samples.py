"""Scan findings shaped as DescribeImageScanFindings returns them, for the demo, the benchmark and the tests.

moto answers DescribeImageScanFindings with one static CVE unless results are queued with
POST /moto-api/static/ecr/scan-finding-results (`queue_scan_findings`); it never pages them. The shapes here follow
the ECR API reference (ImageScanFinding, EnhancedImageScanFinding).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

# A scan's worth of realistic basic findings: what the demo's image "has".
DEMO_BASIC_FINDINGS: tuple[tuple[str, str, str, str, str], ...] = (
    # (id, severity, package, installed version, CVSS3 score)
    ("CVE-2024-6387", "CRITICAL", "openssh", "1:9.2p1-2", "8.1"),
    ("CVE-2023-4911", "HIGH", "glibc", "2.36-9", "7.8"),
    ("CVE-2024-2961", "HIGH", "glibc", "2.36-9", "7.3"),
    ("CVE-2023-5363", "HIGH", "openssl", "3.0.9-1", "7.5"),
    ("CVE-2024-0727", "MEDIUM", "openssl", "3.0.9-1", "5.5"),
    ("CVE-2023-39804", "MEDIUM", "tar", "1.34-1", "6.2"),
    ("CVE-2022-48303", "LOW", "tar", "1.34-1", "3.3"),
    ("CVE-2011-3374", "INFORMATIONAL", "apt", "2.6.1", ""),
)
# The mix the benchmark and the paging tests spread findings over (each severity's share, in tenths of a percent).
SEVERITY_MIX = (
    ("CRITICAL", 20),
    ("HIGH", 130),
    ("MEDIUM", 300),
    ("LOW", 300),
    ("INFORMATIONAL", 150),
    ("UNDEFINED", 100),
)


def basic_finding(finding_id: str, severity: str, package: str, version: str, cvss3: str = "") -> dict[str, Any]:
    """One basic-scanning finding (ImageScanFinding)."""
    attributes = [{"key": "package_version", "value": version}, {"key": "package_name", "value": package}]
    if cvss3:
        attributes += [
            {"key": "CVSS3_VECTOR", "value": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
            {"key": "CVSS3_SCORE", "value": cvss3},
        ]
    return {
        "name": finding_id,
        "description": f"{package} {version}: a vulnerability tracked as {finding_id}.",
        "uri": f"https://security-tracker.debian.org/tracker/{finding_id}",
        "severity": severity,
        "attributes": attributes,
    }


def demo_basic_findings() -> list[dict[str, Any]]:
    return [basic_finding(*finding) for finding in DEMO_BASIC_FINDINGS]


def synthetic_basic_findings(count: int) -> list[dict[str, Any]]:
    """`count` distinct basic findings spread over every severity by SEVERITY_MIX (deterministic)."""
    severities = [severity for severity, share in SEVERITY_MIX for _ in range(share)]
    findings = []
    for index in range(count):
        severity = severities[(index * 7919) % len(severities)]  # a prime stride spreads severities over pages
        score = "" if severity in ("UNDEFINED", "INFORMATIONAL") else f"{(index % 90) / 10 + 1:.1f}"
        findings.append(
            basic_finding(f"CVE-2025-{10000 + index}", severity, f"package-{index % 400}", f"1.{index % 50}.0", score)
        )
    return findings


def scan_findings_response(
    repository_name: str,
    image_digest: str,
    findings: list[dict[str, Any]],
    registry_id: str = "123456789012",
    completed_at: str = "2026-11-20T02:36:40Z",
    next_token: str | None = None,
    severity_counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A DescribeImageScanFindings answer of a completed basic scan holding `findings` (one page)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    response: dict[str, Any] = {
        "registryId": registry_id,
        "repositoryName": repository_name,
        "imageId": {"imageDigest": image_digest},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {
            "imageScanCompletedAt": completed_at,
            "vulnerabilitySourceUpdatedAt": completed_at,
            "findingSeverityCounts": severity_counts if severity_counts is not None else counts,
            "findings": findings,
        },
    }
    if next_token:
        response["nextToken"] = next_token
    return response


def queue_scan_findings(endpoint_url: str, region: str, response: dict[str, Any], account: str = "") -> None:
    """Make the emulator answer DescribeImageScanFindings for the response's image with `response` (moto's API;
    the image must also have been scanned: StartImageScan), in `account`'s registry (default: the emulator's)."""
    document: dict[str, Any] = {"results": [response], "region": region}
    if account:
        document["account_id"] = account
    request = urllib.request.Request(
        f"{endpoint_url}/moto-api/static/ecr/scan-finding-results",
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - the loopback emulator
