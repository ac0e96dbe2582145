"""Scanner text is data, never markup: adversarial strings in every field a scanner, a suppressions document or an
account's name in AWS Organizations (an organization hub's alerts name the member) controls, rendered into every body
(e-mail text, chat, OCSF JSON, the terminal), leave no mention, link, control sequence or forged line behind - and a
lone surrogate never escapes as an exception."""

from __future__ import annotations

import io
import json
import re
import sys
import unicodedata
from dataclasses import replace

from ecr_governance.findings import render, render_advisory
from ecr_governance.findings.advisories import Advisory, Occurrence
from ecr_governance.findings.normalize import Severity, finding_from_enhanced
from ecr_governance.findings.policy import AlertRules, Suppressions, SuppressionUse, parse_suppressions
from ecr_governance.findings.signing_status import SigningReport
from ecr_governance.notice import Notice, message_size_bytes
from ecr_governance.signing import ImageSigningStatus
from ecr_governance.text import advisory_link, chat, chat_code, plain
from ecr_governance_cli.local_invoke import LocalLambdaContext, bind_log_handlers_to
from ecr_governance_cli.render import findings_report
from findings_builders import IMAGE, TODAY, report_of
from hypothesis import given, settings
from hypothesis import strategies as st
from property_budget import examples
from registry_builders import load_event

# What an attacker who controls a package name, a version or an advisory would write.
FRAGMENTS = [
    "\n",
    "\r\n",
    "\n\nSuppressed findings (9), by suppression:\n  CVE-2024-1 on * until 2099-12-31 (1): accepted by SEC-1\n",
    "\x1b[31m",
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
    "\x9b2J",
    "\u202e",
    "\u200b",
    "\u2028",
    "\x85",
    "\ud800",
    "\udfff",
    "<!channel>",
    "<!here|here>",
    "<@U012345>",
    "@here",
    "@channel",
    "@everyone",
    "<https://evil.example|aws console>",
    "[aws console](https://evil.example)",
    "https://evil.example/x",
    "HTTP://evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>x</script>",
    "`",
    "```",
    "*bold*",
    "_it_",
    "~strike~",
    "&lt;!channel&gt;",
    "\t",
]
UNTRUSTED = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), min_size=1, max_size=6).map("".join)
OWN_LINKS = ("https://ap-southeast-1.console.aws.amazon.com/",)
LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s`]*")


def _no_control(text: str, allow_newlines: bool) -> None:
    for char in text:
        if char == "\n" and allow_newlines:
            continue
        assert unicodedata.category(char) not in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}, repr(char)


def _links_are_ours_or_advisories(text: str) -> None:
    for url in URL.findall(text):
        assert url.startswith(OWN_LINKS) or advisory_link(url) == url, url
    outside_links = URL.sub(" ", text)
    assert not re.search(r"(?i)\b(javascript|data|vbscript):", outside_links)


def _check_text(text: str, benign: str) -> None:
    _no_control(text, allow_newlines=True)
    _links_are_ours_or_advisories(text)
    assert text.count("\n") == benign.count("\n")  # no line forged, none swallowed


def _check_chat(body: str) -> None:
    content = json.loads(body)["content"]
    strings = [content["title"], content["description"], *content["nextSteps"], *content["keywords"]]
    for text in strings:
        _no_control(text, allow_newlines=text is content["description"])
        assert "@" not in text and "<" not in text and ">" not in text  # no mention, no <link|label>, no <!here>
        for line in text.splitlines():
            assert line.count("`") % 2 == 0, line  # every code span closed on its line
        for url in URL.findall(text):
            assert url.startswith(OWN_LINKS), url


def _check_machine(body: str) -> None:
    document = json.loads(body)
    signing = document["unmapped"].get("signing") or {}
    for status in signing.get("statuses", []):  # JSON escapes; bounded, and no lone surrogate (it encoded)
        assert all(len(value or "") <= 500 for value in status.values())
    for vulnerability in document["vulnerabilities"]:
        assert all(advisory_link(link) == link for link in vulnerability.get("references", []))


def _check_notice(notice: Notice, benign: Notice) -> None:
    message_size_bytes(notice)  # encodes: no lone surrogate left
    _no_control(notice.subject, allow_newlines=False)
    _check_text(notice.text, benign.text)
    _check_chat(notice.bodies["https"])
    _check_machine(notice.bodies["sqs"])


def _findings(value: str, link: str) -> list:
    """Two findings as Inspector's documents carry them, through the same normalizing as the alert path."""
    documents = [
        {
            "severity": "CRITICAL",
            "score": 9.8,
            "description": value,
            "exploitAvailable": "YES",
            "packageVulnerabilityDetails": {
                "vulnerabilityId": value,
                "sourceUrl": link,
                "vulnerablePackages": [{"name": value, "version": value, "fixedInVersion": value or "1"}],
            },
        },
        {
            "severity": "HIGH",
            "score": 7.5,
            "packageVulnerabilityDetails": {
                "vulnerabilityId": "CVE-2026-0002",
                "referenceUrls": [link, "https://nvd.nist.gov/vuln/detail/CVE-2026-0002"],
                "vulnerablePackages": [{"name": value, "version": "1.0", "fixedInVersion": "2.0"}],
            },
        },
    ]
    return [finding_from_enhanced(document) for document in documents]


def _suppressions(value: str, reason: str) -> Suppressions:
    """A suppressions document with an expired entry and an invalid one, as the SSM parameter would hold it."""
    entries = [
        {"id": value or "x", "expires": "2020-01-01", "reason": reason or "r"},
        {"id": value or "y", "expires": reason or "never", "reason": reason or "r"},
    ]
    return parse_suppressions(json.dumps(entries), "suppressions parameter /s")


@settings(max_examples=examples(60), deadline=None)
@given(value=UNTRUSTED, link=UNTRUSTED, reason=UNTRUSTED)
def test_no_mention_link_or_control_sequence_survives_any_body(value, link, reason):
    def scan_notice(text: str, url: str, why: str) -> tuple[Notice, str]:
        suppressions = _suppressions(text, why)
        member_image = replace(IMAGE, account_name=text)  # a member's name is outside text too
        report = report_of(_findings(text, url), suppressions=suppressions.entries, image=member_image)
        report = replace(report, decision=replace(report.decision, suppression_problems=suppressions.problems))
        # ECR's signing statuses: the profile, status, failure code and reason are outside text as well.
        statuses = (ImageSigningStatus(text, "FAILED", text, why), ImageSigningStatus(text, text, text, why))
        report = replace(report, signing=SigningReport(statuses, unread=why, previously_alerted=1))
        return render.alert_notice(report), findings_report(report, "table")

    # The same values with their line breaks made spaces: a line break the renderer let through shows as a line
    # the defused rendering does not have.
    benign_value, benign_link, benign_reason = (LINE_BREAKS.sub(" ", text) for text in (value, link, reason))
    notice, terminal = scan_notice(value, link, reason)
    benign, benign_terminal = scan_notice(benign_value, benign_link, benign_reason)
    _check_notice(notice, benign)
    _check_text(terminal, benign_terminal)  # `findings show` on a terminal

    def advisory(text: str, url: str, why: str) -> tuple[Advisory, AlertRules]:
        worst = _findings(text, url)[0]
        occurrence = Occurrence(replace(IMAGE, account_name=text), worst, "arn", "2026-11-20T00:00:00Z", ("m",))
        suppressions = _suppressions(text, why)
        expired = tuple(SuppressionUse(entry, 1) for entry in suppressions.entries)
        return Advisory(worst.id, False, (occurrence,), expired), AlertRules(Severity.HIGH, False, suppressions, TODAY)

    _check_notice(
        render_advisory.advisory_notice(*advisory(value, link, reason)),
        render_advisory.advisory_notice(*advisory(benign_value, benign_link, benign_reason)),
    )


@settings(max_examples=examples(100), deadline=None)
@given(value=UNTRUSTED, limit=st.integers(min_value=1, max_value=200))
def test_each_medium_escape_is_bounded_one_line_and_inert(value, limit):
    for escaped in (plain(value, limit), chat(value, limit)):
        _no_control(escaped, allow_newlines=False)
        _links_are_ours_or_advisories(escaped)
        escaped.encode("utf-8")
    assert len(plain(value, limit)) <= limit
    code = chat_code(value, limit)
    assert code.count("`") in (0, 2) and "@" not in code and "<" not in code


def test_a_lone_surrogate_in_an_event_is_rejected_in_a_log_line_that_is_written(monkeypatch, capsys):
    import importlib

    handler = importlib.import_module("handlers.scan_findings")
    monkeypatch.setattr(handler.metrics, "namespace", "ECRGovernance")
    log = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)  # strict, as Lambda's log stream
    bind_log_handlers_to(log)
    event = json.loads(json.dumps(load_event("findings/basic-scan-complete.json")))
    event["id"], event["detail"]["image-tags"] = "\ud800-id", ["\ud800"]
    try:
        answer = handler.handler(event, LocalLambdaContext("ScanFindingsFunction"))
    finally:
        bind_log_handlers_to(sys.stdout)
    assert answer["status"] == "rejected" and "invalid tag" in answer["reason"]
    assert "Logging error" not in capsys.readouterr().err
    lines = log.buffer.getvalue().decode().splitlines()
    (line,) = [json.loads(line) for line in lines if '"event rejected"' in line]
    assert line["event_id"] == "\ufffd-id"
