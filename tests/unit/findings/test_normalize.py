"""Basic and enhanced findings become one typed record; whatever AWS leaves out becomes "unknown", never an error."""

from __future__ import annotations

import pytest
from ecr_governance.findings.normalize import (
    Severity,
    finding_from_basic,
    finding_from_enhanced,
    severity_counts,
    severity_of,
)
from ecr_governance_cli.scan_samples import basic_finding

ENHANCED = {
    "awsAccountId": "123456789012",
    "description": "A heap overflow in libexpat.",
    "findingArn": "arn:aws:inspector2:ap-southeast-1:123456789012:finding/0123",
    "score": 9.8,
    "severity": "CRITICAL",
    "status": "ACTIVE",
    "title": "CVE-2024-45492 - expat",
    "type": "PACKAGE_VULNERABILITY",
    "fixAvailable": "YES",
    "exploitAvailable": "YES",
    "packageVulnerabilityDetails": {
        "vulnerabilityId": "CVE-2024-45492",
        "source": "DEBIAN_CVE",
        "sourceUrl": "https://security-tracker.debian.org/tracker/CVE-2024-45492",
        "referenceUrls": ["https://nvd.nist.gov/vuln/detail/CVE-2024-45492"],
        "cvss": [{"baseScore": 9.8, "scoringVector": "CVSS:3.1/AV:N", "source": "NVD", "version": "3.1"}],
        "vulnerablePackages": [
            {"name": "libexpat1", "version": "2.5.0", "release": "1", "fixedInVersion": "2.5.0-1+deb12u1"}
        ],
    },
    "remediation": {"recommendation": {"text": "Upgrade", "url": "https://example.com/fix"}},
}


def test_a_basic_finding_takes_its_package_and_the_cvss3_score():
    finding = finding_from_basic(basic_finding("CVE-2023-4911", "HIGH", "glibc", "2.36-9", "7.8"))
    assert (finding.id, finding.severity, finding.score) == ("CVE-2023-4911", Severity.HIGH, 7.8)
    assert (finding.package_name, finding.package_version) == ("glibc", "2.36-9")
    assert finding.link == "https://security-tracker.debian.org/tracker/CVE-2023-4911"
    # Basic scanning says nothing about fixes or exploits: unknown, not "no".
    assert finding.fix_available is None and finding.exploit_available is None and finding.fixed_in_version == ""


def test_a_basic_finding_without_cvss3_falls_back_to_cvss2():
    raw = basic_finding("CVE-2019-1", "MEDIUM", "zlib", "1.2")
    raw["attributes"].append({"key": "CVSS2_SCORE", "value": "5.0"})
    assert finding_from_basic(raw).score == 5.0


def test_an_enhanced_finding_takes_inspectors_fix_exploit_and_link():
    finding = finding_from_enhanced(ENHANCED)
    assert finding.id == "CVE-2024-45492" and finding.severity is Severity.CRITICAL and finding.score == 9.8
    assert (finding.package_name, finding.package_version) == ("libexpat1", "2.5.0-1")
    assert finding.fixed_in_version == "2.5.0-1+deb12u1" and finding.fix_available is True
    assert finding.exploit_available is True
    assert finding.link == "https://security-tracker.debian.org/tracker/CVE-2024-45492"


def test_inspectors_not_available_fixed_version_is_no_fixed_version():
    raw = {**ENHANCED, "fixAvailable": "NO", "exploitAvailable": "NO"}
    raw["packageVulnerabilityDetails"] = {
        **ENHANCED["packageVulnerabilityDetails"],
        "vulnerablePackages": [{"name": "libexpat1", "version": "2.5.0", "fixedInVersion": "NotAvailable"}],
    }
    finding = finding_from_enhanced(raw)
    assert finding.fixed_in_version == "" and finding.fix_available is False and not finding.fixable
    assert finding.exploit_available is False


def test_an_untriaged_finding_without_a_score_takes_the_best_cvss_score():
    raw = {**ENHANCED, "severity": "UNTRIAGED", "score": None}
    finding = finding_from_enhanced(raw)
    assert finding.severity is Severity.UNTRIAGED and finding.score == 9.8


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"name": 5, "severity": ["HIGH"], "attributes": "x", "uri": None},
        {"attributes": [None, {"key": "CVSS3_SCORE", "value": "NaN"}, {"key": "CVSS2_SCORE", "value": "99"}]},
    ],
)
def test_a_malformed_basic_finding_is_still_a_finding(raw):
    finding = finding_from_basic(raw)
    assert finding.id == "(unnamed)" and finding.severity is Severity.UNDEFINED and finding.score is None


@pytest.mark.parametrize(
    "raw",
    [{}, {"packageVulnerabilityDetails": "x", "score": "high"}, {"packageVulnerabilityDetails": {"cvss": [1]}}],
)
def test_a_malformed_enhanced_finding_is_still_a_finding(raw):
    finding = finding_from_enhanced(raw)
    assert finding.severity is Severity.UNDEFINED and finding.score is None and finding.package_name == ""


def test_severities_are_ranked_and_unknown_labels_are_undefined():
    assert [s.rank for s in Severity] == sorted((s.rank for s in Severity), reverse=True)
    assert Severity.HIGH.at_least(Severity.HIGH) and not Severity.MEDIUM.at_least(Severity.HIGH)
    assert Severity.UNTRIAGED.at_least(Severity.UNDEFINED) and not Severity.UNTRIAGED.at_least(Severity.INFORMATIONAL)
    assert severity_of("high") is Severity.HIGH and severity_of("SEVERE") is Severity.UNDEFINED


def test_severity_counts_skip_inspectors_total_and_bad_values():
    counts = severity_counts({"CRITICAL": 1, "HIGH": 0, "TOTAL": 10, "MEDIUM": "2", "LOW": True})
    assert counts == {Severity.CRITICAL: 1}
