"""What is worth an alert: threshold (an untriaged finding by its score), only-fixable, suppressions (active,
expired, pattern-scoped), and a suppressions document's invalid entries skipped while the others apply."""

from __future__ import annotations

import json
from datetime import date

import pytest
from ecr_governance.findings.normalize import Severity
from ecr_governance.findings.policy import Suppression, parse_suppressions
from findings_builders import TODAY, finding, report_of


def suppressions(*entries: dict) -> tuple[Suppression, ...]:
    parsed = parse_suppressions(json.dumps({"suppressions": list(entries)}), "test document")
    assert parsed.problems == ()
    return parsed.entries


def entry(finding_id="CVE-2024-0001", expires="2026-12-31", reason="accepted (SEC-1)", **extra) -> dict:
    return {"id": finding_id, "expires": expires, "reason": reason, **extra}


def test_the_threshold_keeps_findings_at_or_above_it_in_alert_order():
    findings = [
        finding("CVE-LOW", Severity.LOW, 3.0),
        finding("CVE-HIGH-NOFIX", Severity.HIGH, 7.5),
        finding("CVE-CRIT", Severity.CRITICAL, 9.1),
        finding("CVE-HIGH-FIX", Severity.HIGH, 7.5, fixed_in="3.0.10"),
        finding("CVE-HIGH-TOP", Severity.HIGH, 8.8),
        finding("CVE-UNTRIAGED", Severity.UNTRIAGED, None),
        finding("CVE-UNTRIAGED-9.8", Severity.UNTRIAGED, 9.8, exploit=True),
    ]
    decision = report_of(findings).decision
    # Severity (an untriaged finding by its score's CVSS band), then score, then fixable first.
    assert [f.id for f in decision.alerted] == [
        "CVE-UNTRIAGED-9.8",
        "CVE-CRIT",
        "CVE-HIGH-TOP",
        "CVE-HIGH-FIX",
        "CVE-HIGH-NOFIX",
    ]
    assert decision.below_threshold == 2 and decision.total_findings == 7
    assert decision.highest_severity is Severity.CRITICAL
    assert decision.counts[Severity.LOW] == 1
    assert [f.id for f in report_of(findings, Severity.UNDEFINED).decision.alerted][-1] == "CVE-UNTRIAGED"


def test_only_fixable_drops_findings_without_a_fix_but_keeps_those_whose_fix_is_unknown():
    findings = [
        finding("CVE-FIX", fixed_in="1.1"),
        finding("CVE-NOFIX", fix_available=False),
        finding("CVE-BASIC"),  # basic scanning: fix unknown
    ]
    decision = report_of(findings, only_fixable=True).decision
    assert [f.id for f in decision.alerted] == ["CVE-FIX", "CVE-BASIC"]
    assert decision.not_fixable == 1 and decision.fixable_count == 1


def test_an_active_suppression_holds_the_finding_back_and_is_counted():
    decision = report_of(
        [finding("CVE-2024-0001"), finding("CVE-2024-0002")], suppressions=suppressions(entry("cve-2024-0001"))
    ).decision
    assert [f.id for f in decision.alerted] == ["CVE-2024-0002"]
    assert decision.suppressed_count == 1 and decision.suppressed[0].suppression.finding_id == "cve-2024-0001"
    assert decision.expired == ()


def test_a_suppression_holds_through_its_expiry_day_and_then_suppresses_nothing():
    on_the_day = suppressions(entry(expires=TODAY.isoformat()))
    assert report_of([finding()], suppressions=on_the_day).decision.alerted == ()
    expired = suppressions(entry(expires="2026-11-19"))
    decision = report_of([finding()], suppressions=expired).decision
    assert [f.id for f in decision.alerted] == ["CVE-2024-0001"]  # alerted anyway
    assert len(decision.expired) == 1 and decision.expired[0].findings == 1  # and listed, to renew or fix


def test_an_active_suppression_wins_over_an_expired_one_for_the_same_finding():
    decision = report_of(
        [finding()], suppressions=suppressions(entry(expires="2025-01-01"), entry(expires="2027-01-01"))
    ).decision
    assert decision.alerted == () and decision.expired == ()


@pytest.mark.parametrize(
    ("patterns", "suppressed"),
    [
        (["mlops/*"], True),
        (["mlops/retail-api"], True),
        (["*retail*"], True),
        (["mlops"], False),  # a WILDCARD pattern matches the whole name, unlike a registry scanning filter
        (["team-a/*", "other"], False),
    ],
)
def test_suppressions_are_scoped_by_wildcard_repository_patterns(patterns, suppressed):
    decision = report_of([finding()], suppressions=suppressions(entry(repositories=patterns))).decision
    assert (decision.suppressed_count == 1) is suppressed


def test_a_suppression_below_the_threshold_is_neither_used_nor_expired():
    decision = report_of(
        [finding(severity=Severity.LOW)], suppressions=suppressions(entry(expires="2020-01-01"))
    ).decision
    assert decision.suppressed == () and decision.expired == () and decision.below_threshold == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "test document is not valid JSON"),
        ('{"suppressions": {}}', 'must be {"suppressions": [...]}'),
        ('{"suppresions": []}', "unknown top-level field(s) suppresions"),
        ('{"suppressions": [1]}', "suppressions[0]: must be an object"),
        (
            json.dumps([entry(), entry("CVE-2", expires="2026-13-01")]),
            "suppressions[1] (id 'CVE-2'): expires '2026-13-01'",
        ),
        (json.dumps([entry(expires="31/12/2026")]), "expires is required: a date YYYY-MM-DD"),
        (json.dumps([{"id": "CVE-3", "expires": "2026-12-31"}]), "suppressions[0] (id 'CVE-3'): reason is required"),
        (json.dumps([{"expires": "2026-12-31", "reason": "r"}]), "suppressions[0]: id is required"),
        (json.dumps([entry(repositories=[])]), "repositories must be a non-empty list"),
        (json.dumps([entry(repositories=["Team A"])]), "'Team A' is not a repository pattern"),
        (json.dumps([entry(expiry="2026-12-31")]), "unknown field(s) expiry"),
    ],
)
def test_an_invalid_entry_or_document_is_a_problem_naming_it(document, message):
    parsed = parse_suppressions(document, "test document")
    assert any(message in problem for problem in parsed.problems), parsed.problems


def test_an_invalid_entry_is_skipped_and_the_others_still_apply():
    document = json.dumps([entry("CVE-2024-0001"), entry("CVE-2", expires="2026-13-01"), entry("CVE-2024-0003")])
    parsed = parse_suppressions(document, "test document")
    assert [s.finding_id for s in parsed.entries] == ["CVE-2024-0001", "CVE-2024-0003"]
    (problem,) = parsed.problems
    assert problem == "test document: suppressions[1] (id 'CVE-2'): expires '2026-13-01' is not a date"
    findings = [finding("CVE-2024-0001"), finding("CVE-2"), finding("CVE-2024-0003")]
    decision = report_of(findings, suppressions=parsed.entries).decision
    assert [f.id for f in decision.alerted] == ["CVE-2"] and decision.suppressed_count == 2


def test_an_untriaged_finding_with_a_score_meets_the_threshold_of_its_band():
    findings = [finding("CVE-U-8", Severity.UNTRIAGED, 8.0), finding("CVE-U-5", Severity.UNTRIAGED, 5.0)]
    decision = report_of(findings, Severity.HIGH).decision
    assert [f.id for f in decision.alerted] == ["CVE-U-8"] and decision.highest_severity is Severity.HIGH
    assert decision.alerted_counts == {Severity.HIGH: 1}


def test_a_bare_list_and_an_empty_parameter_are_accepted():
    (parsed,) = parse_suppressions(json.dumps([entry(repositories=["mlops/*"])])).entries
    assert parsed == Suppression("CVE-2024-0001", date(2026, 12, 31), "accepted (SEC-1)", ("mlops/*",), 0)
    assert parse_suppressions("  ").entries == ()
