"""The alert's bodies: readable text, the Chatbot custom notification, the machine JSON, a subject under 100
characters, and the whole message within SNS's 256 KB counted in UTF-8 bytes - however many findings there are."""

from __future__ import annotations

import json
from dataclasses import replace

from ecr_governance.findings import render
from ecr_governance.findings.normalize import SEVERITIES, Severity
from ecr_governance.findings.policy import parse_suppressions
from ecr_governance.notice import SNS_MESSAGE_MAX_BYTES, message_size_bytes
from findings_builders import IMAGE, finding, report_of
from hypothesis import given, settings
from hypothesis import strategies as st

RETAIL_API_FINDINGS = [
    finding("CVE-2024-6387", Severity.CRITICAL, 8.1, "openssh", "9.2p1", fixed_in="9.2p1-2+deb12u3", exploit=True),
    finding("CVE-2024-45492", Severity.CRITICAL, 9.8, "libexpat1", "2.5.0", fixed_in="2.5.0-1+deb12u1"),
    finding("CVE-2023-4911", Severity.HIGH, 7.8, "glibc", "2.36-9", fixed_in="2.36-9+deb12u3"),
    finding("CVE-2024-2961", Severity.HIGH, 7.3, "glibc", "2.36-9", fixed_in="2.36-9+deb12u7"),
    finding("CVE-2023-5363", Severity.HIGH, 7.5, "openssl", "3.0.9", fixed_in="3.0.11"),
    finding("CVE-2024-0727", Severity.HIGH, 5.5, "openssl", "3.0.9", fix_available=False),
    finding("CVE-2023-39804", Severity.HIGH, 6.2, "tar", "1.34", fix_available=False),
    finding("CVE-2022-48303", Severity.LOW, 3.3, "tar", "1.34", fix_available=False),
]


def test_the_subject_names_the_worst_severity_the_image_and_the_counts():
    report = report_of(RETAIL_API_FINDINGS)
    assert render.subject(report) == "[CRITICAL] mlops/retail-api:1.4.2 - 2 critical, 5 high (5 fixable)"


def test_an_untagged_image_is_named_by_its_digest():
    report = report_of(RETAIL_API_FINDINGS, image=replace(IMAGE, tags=()))
    assert render.subject(report).startswith("[CRITICAL] mlops/retail-api@sha256:7f5b2640fe6f - ")
    assert "Tags:        <untagged>" in render.alert_text(report)


def test_basic_scan_findings_say_once_that_fixes_are_not_reported():
    report = report_of([finding("CVE-1", Severity.HIGH), finding("CVE-2", Severity.HIGH)])
    assert render.subject(report) == "[HIGH] mlops/retail-api:1.4.2 - 2 high"
    text = render.alert_text(report)
    assert text.count("does not report fixed versions") == 1
    assert "  HIGH           7.5  CVE-1  openssl 3.0.9\n" in text  # no fix text on the line
    assert "does not report fixed versions" not in render.alert_text(report_of(RETAIL_API_FINDINGS))


REPOSITORY_NAMES = st.from_regex(r"[a-z0-9]{1,60}(/[a-z0-9]{1,60}){0,3}", fullmatch=True)
TAGS = st.from_regex(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(REPOSITORY_NAMES, st.lists(TAGS, max_size=3), st.sets(st.sampled_from(SEVERITIES), min_size=1))
def test_the_subject_is_always_at_most_99_characters_and_keeps_the_worst_severity(repository, tags, severities):
    image = replace(IMAGE, repository_name=repository, tags=tuple(tags))
    findings = [finding(f"CVE-{i}", severity, fixed_in="1.0") for i, severity in enumerate(severities)]
    report = report_of(findings, threshold=Severity.UNDEFINED, image=image)
    subject = render.subject(report)
    worst = min(severities, key=SEVERITIES.index)
    assert len(subject) <= 99 and subject.startswith(f"[{worst}] ")
    assert "\n" not in subject


def test_the_text_lists_findings_most_severe_first_with_fix_versions_links_and_the_console():
    text = render.alert_text(report_of(RETAIL_API_FINDINGS))
    lines = text.splitlines()
    listed = [line.split()[2] for line in lines if line.startswith("  CRITICAL") or line.startswith("  HIGH")]
    assert listed == [
        "CVE-2024-45492",
        "CVE-2024-6387",
        "CVE-2023-4911",
        "CVE-2023-5363",
        "CVE-2024-2961",
        "CVE-2023-39804",
        "CVE-2024-0727",
    ]  # severity, score, fixable first
    assert "openssh 9.2p1 - fixed in 9.2p1-2+deb12u3  EXPLOIT AVAILABLE" in text
    assert "tar 1.34 - no fix yet" in text
    assert "https://nvd.nist.gov/vuln/detail/CVE-2024-45492" in text
    assert "Findings by severity (the whole scan, 8): CRITICAL 2 | HIGH 5 | LOW 1" in text
    assert (
        "https://ap-southeast-1.console.aws.amazon.com/ecr/repositories/private/123456789012/mlops/retail-api/_/image/"
        f"{IMAGE.digest}/scan-results?region=ap-southeast-1"
    ) in text
    assert "... and" not in text


def test_the_text_lists_suppressed_and_expired_suppressions():
    document = json.dumps(
        [
            {"id": "CVE-2023-4911", "expires": "2026-12-31", "reason": "no setuid binary (SEC-12)"},
            {"id": "CVE-2024-6387", "repositories": ["mlops/*"], "expires": "2026-01-31", "reason": "waiting on base"},
        ]
    )
    text = render.alert_text(report_of(RETAIL_API_FINDINGS, suppressions=parse_suppressions(document)))
    assert (
        "Suppressed findings (1), by suppression:\n  CVE-2023-4911 on * until 2026-12-31 (1): no setuid binary (SEC-12)"
        in text
    )
    assert "EXPIRED suppressions" in text
    assert "CVE-2024-6387 on mlops/* expired 2026-01-31 (1 alerted above): waiting on base" in text


def test_the_chat_body_is_a_chatbot_custom_notification():
    notice = render.alert_notice(report_of(RETAIL_API_FINDINGS))
    chat = json.loads(notice.bodies["https"])
    assert set(chat) == {"version", "source", "content", "metadata"}
    assert chat["version"] == "1.0" and chat["source"] == "custom"
    content = chat["content"]
    assert set(content) == {"textType", "title", "description", "nextSteps", "keywords"}
    assert content["textType"] == "client-markdown"
    assert content["title"].endswith(notice.subject) and len(content["title"]) <= 250
    assert "`CVE-2024-45492`" in content["description"]
    assert all(isinstance(step, str) for step in content["nextSteps"]) and len(content["nextSteps"]) <= 4
    assert content["nextSteps"][0] == "Upgrade libexpat1: fixed in 2.5.0-1+deb12u1 (CVE-2024-45492)"
    assert (
        content["nextSteps"][2]
        == "Upgrade glibc: fixed in 2.36-9+deb12u3, 2.36-9+deb12u7 (CVE-2023-4911, CVE-2024-2961)"
    )
    assert content["nextSteps"][-1].startswith("Review the scan results: https://ap-southeast-1.console.aws")
    assert content["keywords"] == ["CRITICAL", "mlops/retail-api", "ecr-governance"]
    assert chat["metadata"] == {"summary": notice.subject, "eventType": "ecr-governance.ScanFindingsAlert"}


def test_the_machine_body_names_its_schema_and_carries_every_finding_that_fits():
    notice = render.alert_notice(report_of(RETAIL_API_FINDINGS))
    assert notice.bodies["sqs"] == notice.bodies["lambda"]
    document = json.loads(notice.bodies["sqs"])
    assert document["schema"] == "ecr-governance.scan-findings-alert/v1"
    assert document["image"]["digest"] == IMAGE.digest and document["image"]["tags"] == ["1.4.2"]
    assert document["counts"]["alerted"] == {"CRITICAL": 2, "HIGH": 5}
    assert document["findingsIncluded"] == 7 and document["findingsOmitted"] == 0
    assert document["findings"][0] == {
        "id": "CVE-2024-45492",
        "severity": "CRITICAL",
        "score": 9.8,
        "package": "libexpat1",
        "installedVersion": "2.5.0",
        "fixedInVersion": "2.5.0-1+deb12u1",
        "fixAvailable": True,
        "exploitAvailable": None,
        "link": "https://nvd.nist.gov/vuln/detail/CVE-2024-45492",
    }
    assert notice.attributes == {"severity": "CRITICAL", "repository": "mlops/retail-api"}


def _many_findings(count: int) -> list:
    """Findings over every severity with multi-byte text (Cyrillic, CJK, emoji: 2, 3 and 4 UTF-8 bytes)."""
    return [
        finding(
            f"CVE-2025-{i:05d}",
            SEVERITIES[i % len(SEVERITIES)],
            (i % 100) / 10,
            f"пакет-库-{i % 37}",
            f"1.{i}.0-😀",
            fixed_in=f"1.{i}.1" if i % 3 else "",
            fix_available=None if i % 3 else False,
        )
        for i in range(count)
    ]


def test_ten_thousand_findings_fit_sns_keeping_the_most_severe_and_saying_how_many_more():
    report = report_of(_many_findings(10_000), threshold=Severity.UNDEFINED)
    notice = render.alert_notice(report)
    assert message_size_bytes(notice) <= SNS_MESSAGE_MAX_BYTES
    for body in (notice.text, *notice.bodies.values()):
        assert len(body.encode("utf-8")) <= SNS_MESSAGE_MAX_BYTES
    document = json.loads(notice.bodies["sqs"])
    listed = document["findingsIncluded"]
    assert 0 < listed < 10_000 and document["findingsOmitted"] == 10_000 - listed
    # The listed findings are the first in alert order: no omitted finding is more severe than a listed one.
    assert [f["id"] for f in document["findings"]] == [f.id for f in report.decision.alerted[:listed]]
    assert f"  ... and {10_000 - listed} more: see the scan results in the console" in notice.text
    assert notice.text.count("\n  CRITICAL ") + notice.text.startswith("  CRITICAL") == min(
        listed, report.decision.alerted_counts[Severity.CRITICAL]
    )


def test_the_cut_is_at_the_byte_limit_not_before_it():
    report = report_of(_many_findings(300), threshold=Severity.UNDEFINED)
    limit = 40_000
    notice = render.alert_notice(report, max_message_bytes=limit)
    listed = json.loads(notice.bodies["sqs"])["findingsIncluded"]
    assert message_size_bytes(notice) <= limit
    finding_documents = [json.dumps(render._finding_document(f), ensure_ascii=False) for f in report.decision.alerted]
    chat = notice.bodies["https"]
    one_more = render._notice(report, finding_documents, chat, listed + 1)
    assert message_size_bytes(one_more) > limit  # the next finding would not have fitted


def test_every_finding_is_listed_when_they_fit():
    notice = render.alert_notice(report_of(RETAIL_API_FINDINGS))
    assert message_size_bytes(notice) < SNS_MESSAGE_MAX_BYTES
    assert json.loads(notice.bodies["sqs"])["findingsOmitted"] == 0
