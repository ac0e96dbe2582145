"""Remediation notices: readable, grouped by repository, silent when nothing happened; any subject fits SNS."""

from ecr_governance.enforce.model import Action, Decision, EnforcementReport
from ecr_governance.enforce.notice import remediation_notice
from ecr_governance.notice import SUBJECT_MAX_CHARACTERS, Notice


def test_no_notice_when_nothing_changed_or_failed():
    report = EnforcementReport([Decision("team/a", "tag_mutability", "compliant", "IMMUTABLE", None, Action.NONE)])
    assert remediation_notice(report, "ran") is None


def test_notice_lists_each_change_under_its_repository_and_flags_failures():
    report = EnforcementReport(
        [
            Decision("team/a", "tag_mutability", "violation", "MUTABLE", "IMMUTABLE", Action.REMEDIATED),
            Decision(
                "team/a",
                "lifecycle_policy",
                "violation",
                "none",
                "standard policy",
                Action.FAILED,
                "access denied: PutLifecyclePolicy",
            ),
            Decision("team/b", "tag_mutability", "violation", "MUTABLE", "IMMUTABLE", Action.REMEDIATED),
        ]
    )
    notice = remediation_notice(report, "ran in enforce mode after CreateRepository by alice")
    assert notice.subject == "ECR governance: 2 settings remediated, 1 needs attention"
    body = notice.text
    assert "team/a\n  - tag_mutability: MUTABLE -> IMMUTABLE [remediated]" in body
    assert "lifecycle_policy: none -> standard policy [failed] - access denied: PutLifecyclePolicy" in body
    assert body.index("team/a") < body.index("team/b")
    assert "CreateRepository by alice" in body


def test_any_subject_becomes_one_sns_valid_line():
    notice = Notice(subject="a\nb\tc " + "x" * 300, text="body")
    assert "\n" not in notice.subject and "\t" not in notice.subject
    assert notice.subject.startswith("a b c x")
    assert len(notice.subject) == SUBJECT_MAX_CHARACTERS and notice.subject.endswith("...")
