"""The audit table: one line per registry-level aspect, and the encryption and signing columns when a run checked
them."""

from ecr_governance.enforce.model import REGISTRY, Action, Decision, EnforcementReport
from ecr_governance_cli.render import enforcement_table


def test_the_audit_has_a_line_for_each_registry_aspect_and_columns_for_the_checked_ones():
    report = EnforcementReport(
        [
            Decision("team/app", "tag_mutability", "compliant", "IMMUTABLE", None, Action.NONE),
            Decision("team/app", "encryption", "violation", "AES256", "KMS", Action.DETECTED, "AES256, not KMS"),
            Decision(REGISTRY, "creation_template", "violation", "ROOT: none", "ROOT: the standard", Action.REMEDIATED),
            Decision(REGISTRY, "pull_time_exclusions", "compliant", "1 registered: arn:x", None, Action.NONE),
            Decision(REGISTRY, "registry_policy", "violation", "Sid1: *", "org", Action.DETECTED, "outside the org"),
        ]
    )
    table = enforcement_table(report)
    header = table.splitlines()[0]
    assert "ENCRYPTION" in header and "SIGNING" not in header
    assert "team/app: encryption detected: AES256, not KMS" in table
    assert "creation template: ROOT: none -> ROOT: the standard (remediated)" in table
    assert "pull time exclusions: 1 registered: arn:x (unchanged)" in table
    assert "registry policy: Sid1: * -> org (detected): outside the org" in table
    assert table.splitlines()[-1].endswith("registry: 1 non-compliant, 0 failed")
