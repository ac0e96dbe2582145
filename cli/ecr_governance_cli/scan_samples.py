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


def enhanced_finding(
    finding_id: str, severity: str, package: str, version: str, fixed_in: str, *, score: float
) -> dict[str, Any]:
    """One enhanced-scanning finding (EnhancedImageScanFinding, from Amazon Inspector)."""
    return {
        "awsAccountId": "123456789012",
        "description": f"{package} {version}: a vulnerability tracked as {finding_id}.",
        "findingArn": f"arn:aws:inspector2:ap-southeast-1:123456789012:finding/{finding_id.lower()}",
        "packageVulnerabilityDetails": {
            "vulnerabilityId": finding_id,
            "source": "NVD",
            "sourceUrl": f"https://nvd.nist.gov/vuln/detail/{finding_id}",
            "cvss": [{"baseScore": score, "scoringVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "vulnerablePackages": [
                {
                    "name": package,
                    "version": version,
                    "packageManager": "OS",
                    "fixedInVersion": fixed_in or "NotAvailable",
                }
            ],
        },
        "score": score,
        "severity": severity,
        "status": "ACTIVE",
        "title": f"{finding_id} - {package}",
        "type": "PACKAGE_VULNERABILITY",
        "fixAvailable": "YES" if fixed_in else "NO",
        "exploitAvailable": "NO",
    }


SCORE_OF = {"CRITICAL": 9.1, "HIGH": 7.5, "MEDIUM": 5.3, "LOW": 3.1, "INFORMATIONAL": 0.0, "UNDEFINED": 0.0}


def findings_for_counts(counts: dict[str, int], enhanced: bool = False) -> list[dict[str, Any]]:
    """Deterministic findings with exactly these counts by severity: the demo's realistic ones first, then numbered
    ones (every other one fixable)."""
    catalog = {severity: [f for f in DEMO_BASIC_FINDINGS if f[1] == severity] for severity in counts}
    findings = []
    for severity, count in counts.items():
        for number in range(count):
            known = catalog[severity][number] if number < len(catalog[severity]) else None
            finding_id, _, package, version, _ = known or (
                f"CVE-2025-{20000 + len(findings)}",
                severity,
                f"lib{severity.lower()}{number}",
                f"1.{number}.0",
                "",
            )
            if enhanced:
                fixed = f"{version}+fix1" if number % 2 == 0 else ""
                findings.append(
                    enhanced_finding(finding_id, severity, package, version, fixed, score=SCORE_OF[severity])
                )
            else:
                findings.append(basic_finding(finding_id, severity, package, version, f"{SCORE_OF[severity]}"))
    return findings


def failed_scan_response(repository_name: str, image_digest: str, registry_id: str = "123456789012") -> dict[str, Any]:
    """A DescribeImageScanFindings answer for a scan that failed (no findings, as ECR reports it)."""
    return {
        "registryId": registry_id,
        "repositoryName": repository_name,
        "imageId": {"imageDigest": image_digest},
        "imageScanStatus": {
            "status": "FAILED",
            "description": "UnsupportedImageError: The operating system is not supported.",
        },
    }


def scan_findings_response(  # noqa: PLR0913, PLR0917 - the emulator's answer, one argument per response field
    repository_name: str,
    image_digest: str,
    findings: list[dict[str, Any]],
    registry_id: str = "123456789012",
    completed_at: str = "2026-11-20T02:36:40Z",
    next_token: str | None = None,
    severity_counts: dict[str, int] | None = None,
    enhanced: bool = False,
) -> dict[str, Any]:
    """A DescribeImageScanFindings answer of a completed scan holding `findings` (one page): basic scanning's
    `findings`, or with `enhanced` Inspector's `enhancedFindings` (its counts carry a TOTAL)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    if enhanced:
        counts["TOTAL"] = len(findings)
    response: dict[str, Any] = {
        "registryId": registry_id,
        "repositoryName": repository_name,
        "imageId": {"imageDigest": image_digest},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {
            "imageScanCompletedAt": completed_at,
            "vulnerabilitySourceUpdatedAt": completed_at,
            "findingSeverityCounts": severity_counts if severity_counts is not None else counts,
            "enhancedFindings" if enhanced else "findings": findings,
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
