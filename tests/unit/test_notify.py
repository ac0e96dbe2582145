"""Remediation notifications: readable, grouped by repository, silent when nothing happened."""

from ecr_governance.enforce import Action, Decision, EnforcementReport
from ecr_governance.notify import SNS_SUBJECT_LIMIT, remediation_message


def test_no_message_when_nothing_changed_or_failed():
    report = EnforcementReport([Decision("team/a", "tag_mutability", "compliant", "IMMUTABLE", None, Action.NONE)])
    assert remediation_message(report, "ran") is None


def test_message_lists_each_change_under_its_repository_and_flags_failures():
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
    subject, body = remediation_message(report, "ran in enforce mode after CreateRepository by alice")
    assert subject == "ECR governance: 2 setting(s) remediated, 1 need attention"
    assert len(subject) <= SNS_SUBJECT_LIMIT
    assert "team/a\n  - tag_mutability: MUTABLE -> IMMUTABLE [remediated]" in body
    assert "lifecycle_policy: none -> standard policy [failed] - access denied: PutLifecyclePolicy" in body
    assert body.index("team/a") < body.index("team/b")
    assert "CreateRepository by alice" in body
