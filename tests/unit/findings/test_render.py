"""The alert's bodies: readable text, the Chatbot custom notification, the machine JSON, a subject under 100
characters, and the whole message within SNS's 256 KB counted in UTF-8 bytes - however many findings there are."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from ecr_governance.findings import ocsf, render
from ecr_governance.findings.normalize import SEVERITIES, Severity
from ecr_governance.findings.policy import parse_suppressions
from ecr_governance.notice import SNS_MESSAGE_MAX_BYTES, message_size_bytes
from findings_builders import IMAGE, finding, report_of
from hypothesis import given, settings
from hypothesis import strategies as st
from property_budget import examples

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


@settings(max_examples=examples(60), deadline=None)
@given(REPOSITORY_NAMES, st.lists(TAGS, max_size=3), st.sets(st.sampled_from(SEVERITIES), min_size=1))
def test_the_subject_is_always_at_most_99_characters_and_keeps_the_worst_severity(repository, tags, severities):
    image = replace(IMAGE, repository_name=repository, tags=tuple(tags))
    findings = [finding(f"CVE-{i}", severity, fixed_in="1.0") for i, severity in enumerate(severities)]
    report = report_of(findings, threshold=Severity.UNDEFINED, image=image)
    subject = render.subject(report)
    worst = min((f.effective_severity for f in findings), key=SEVERITIES.index)  # an untriaged 7.5 is HIGH
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
    text = render.alert_text(report_of(RETAIL_API_FINDINGS, suppressions=parse_suppressions(document).entries))
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
    assert "`CVE-2024-45492` `libexpat1` `2.5.0` - fixed in `2.5.0-1+deb12u1`" in content["description"]
    assert all(isinstance(step, str) for step in content["nextSteps"]) and len(content["nextSteps"]) <= 4
    assert content["nextSteps"][0] == "Upgrade `libexpat1`: fixed in `2.5.0-1+deb12u1` (`CVE-2024-45492`)"
    assert (
        content["nextSteps"][2]
        == "Upgrade `glibc`: fixed in `2.36-9+deb12u3`, `2.36-9+deb12u7` (`CVE-2023-4911`, `CVE-2024-2961`)"
    )
    assert content["nextSteps"][-1].startswith("Review the scan results: https://ap-southeast-1.console.aws")
    assert content["keywords"] == ["CRITICAL", "mlops/retail-api", "ecr-governance"]
    assert chat["metadata"] == {"summary": notice.subject, "eventType": "ecr-governance.ScanFindingsAlert"}


def test_the_machine_body_is_an_ocsf_vulnerability_finding_with_every_finding_that_fits():
    notice = render.alert_notice(report_of(RETAIL_API_FINDINGS))
    assert notice.bodies["sqs"] == notice.bodies["lambda"]
    document = json.loads(notice.bodies["sqs"])
    assert (document["class_uid"], document["category_uid"], document["type_uid"]) == (2002, 2, 200201)
    assert document["metadata"]["version"] == "1.4.0" and document["severity_id"] == 5
    assert document["status_id"] == 1 and document["finding_info"]["title"] == notice.subject
    assert document["cloud"] == {
        "provider": "AWS",
        "region": "ap-southeast-1",
        "cloud_partition": "aws",
        "account": {"uid": "123456789012", "type": "AWS Account", "type_id": 10},
    }
    (resource,) = document["resources"]
    assert resource["uid"] == f"arn:aws:ecr:ap-southeast-1:123456789012:repository/mlops/retail-api/{IMAGE.digest}"
    assert resource["data"]["imageTags"] == ["1.4.2"]
    unmapped = document["unmapped"]
    assert unmapped["counts"]["alerted"] == {"CRITICAL": 2, "HIGH": 5}
    assert unmapped["findingsIncluded"] == 7 and unmapped["findingsOmitted"] == 0
    assert document["vulnerabilities"][0] == {
        "title": "CVE-2024-45492 - libexpat1",
        "severity": "CRITICAL",
        "cve": {"uid": "CVE-2024-45492", "cvss": [{"base_score": 9.8, "version": "3.x"}]},
        "vendor_name": "Amazon ECR",
        "affected_packages": [{"name": "libexpat1", "version": "2.5.0", "fixed_in_version": "2.5.0-1+deb12u1"}],
        "is_fix_available": True,
        "references": ["https://nvd.nist.gov/vuln/detail/CVE-2024-45492"],
    }
    assert notice.attributes == {"alert": "scan", "severity": "CRITICAL", "repository": "mlops/retail-api"}


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


def _fits(notice) -> bool:
    return message_size_bytes(notice) <= SNS_MESSAGE_MAX_BYTES and all(
        len(body.encode("utf-8")) <= SNS_MESSAGE_MAX_BYTES for body in (notice.text, *notice.bodies.values())
    )


def test_ten_thousand_findings_fit_sns_keeping_the_most_severe_and_saying_how_many_more():
    report = report_of(_many_findings(10_000), threshold=Severity.UNDEFINED)
    notice = render.alert_notice(report)
    assert _fits(notice)
    document = json.loads(notice.bodies["sqs"])
    listed = document["unmapped"]["findingsIncluded"]
    assert 0 < listed < 10_000 and document["unmapped"]["findingsOmitted"] == 10_000 - listed
    # The listed findings are the first in alert order: no omitted finding is more severe than a listed one.
    assert [v["cve"]["uid"] for v in document["vulnerabilities"]] == [f.id for f in report.decision.alerted[:listed]]
    assert f"  ... and {10_000 - listed} more: see the scan results in the console" in notice.text


def test_the_cut_is_at_the_byte_limit_not_before_it():
    report = report_of(_many_findings(300), threshold=Severity.UNDEFINED)
    limit = 40_000
    notice = render.alert_notice(report, max_message_bytes=limit)
    listed = json.loads(notice.bodies["sqs"])["unmapped"]["findingsIncluded"]
    assert message_size_bytes(notice) <= limit
    alerted = report.decision.alerted
    written = render.Written(
        head=render._text_head(report),
        lines=[render.finding_text(f) for f in alerted],
        vulnerabilities=[json.dumps(ocsf.vulnerability(f, "basic"), ensure_ascii=False) for f in alerted],
        chat=notice.bodies["https"],
    )
    one_more = render.notice_listing(report, written, listed + 1)
    assert message_size_bytes(one_more) > limit  # the next finding would not have fitted


def test_every_finding_is_listed_when_they_fit():
    notice = render.alert_notice(report_of(RETAIL_API_FINDINGS))
    assert message_size_bytes(notice) < SNS_MESSAGE_MAX_BYTES
    assert json.loads(notice.bodies["sqs"])["unmapped"]["findingsOmitted"] == 0


# ---- the worst cases a registry can produce: every one of them still alerts -----------------------------------
LONG_TAGS = tuple(f"{i:03d}-" + "t" * 124 for i in range(700))  # 700 tags of 128 characters


def test_an_image_with_700_tags_of_128_characters_alerts():
    report = report_of(RETAIL_API_FINDINGS, image=replace(IMAGE, tags=LONG_TAGS))
    notice = render.alert_notice(report)
    assert _fits(notice) and "(+" in notice.text  # the tags line is bounded: "(+N more)"
    machine = json.loads(notice.bodies["sqs"])
    assert machine["unmapped"]["findingsOmitted"] == 0
    image = machine["resources"][0]["data"]
    assert (len(image["imageTags"]), image["imageTagCount"]) == (20, 700)  # the first ones, and how many
    assert message_size_bytes(notice) < 32 * 1024  # tags no longer crowd out findings


def test_twelve_thousand_findings_of_one_package_with_different_fixed_versions_alert():
    findings = [
        finding(f"CVE-2026-{i:05d}", Severity.CRITICAL, 9.0, "libfoo", "1.0", fixed_in=f"1.{i}.0")
        for i in range(12_000)
    ]
    notice = render.alert_notice(report_of(findings, image=replace(IMAGE, tags=LONG_TAGS)))
    assert _fits(notice)
    steps = json.loads(notice.bodies["https"])["content"]["nextSteps"]
    assert steps[0].startswith("Upgrade `libfoo`: fixed in `1.0.0`") and "(+11995 more)" in steps[0]


def test_hundreds_of_long_suppressions_and_problems_still_alert():
    entries = [
        {"id": f"CVE-{i}", "expires": "2020-01-01" if i % 2 else "2030-01-01", "reason": "r" * 5000} for i in range(400)
    ]
    entries += [{"id": f"CVE-BAD-{i}", "expires": "never", "reason": "x" * 5000} for i in range(400)]
    parsed = parse_suppressions(json.dumps(entries), "suppressions parameter /s")
    findings = [finding(f"CVE-{i}", Severity.HIGH, package="p" * 512) for i in range(400)]
    report = report_of(findings, suppressions=parsed.entries, image=replace(IMAGE, tags=LONG_TAGS))
    report = replace(report, decision=replace(report.decision, suppression_problems=parsed.problems))
    notice = render.alert_notice(report)
    assert _fits(notice) and notice.text.count("  ... and 180 more") == 2  # suppressed, expired: 20 listed each


@pytest.mark.parametrize(
    ("partition", "console"),
    [
        ("aws", "https://ap-southeast-1.console.aws.amazon.com/ecr/"),
        ("aws-cn", "https://ap-southeast-1.console.amazonaws.cn/ecr/"),
        ("aws-us-gov", "https://ap-southeast-1.console.amazonaws-us-gov.com/ecr/"),
        ("aws-iso", None),  # no public console: no link rather than a wrong one
    ],
)
def test_console_links_follow_the_images_partition(partition, console):
    image = replace(IMAGE, partition=partition)
    url = render.console_url(image)
    text = render.alert_text(report_of(RETAIL_API_FINDINGS, image=image))
    if console is None:
        assert url == "" and "Scan results in the console" not in text
    else:
        assert url.startswith(console) and url in text
