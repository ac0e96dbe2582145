"""An organization hub's alerts name the member - its account id, its name in AWS Organizations and the region - in
every body: `Registry: team-a (111111111111), eu-west-1` in the text, the chat message, OCSF's `cloud.account`, and an
`account` message attribute an SNS filter policy can route on. The name is outside text: escaped like any other. A
single-account alert is exactly what it was (no name is known there)."""

from __future__ import annotations

import json
from dataclasses import replace

from ecr_governance.findings import render, render_advisory
from ecr_governance.findings.advisories import Advisory, Occurrence
from ecr_governance.findings.normalize import Severity
from ecr_governance.findings.policy import AlertRules, Suppressions
from ecr_governance.findings.render_notice import not_scanned_notice
from findings_builders import IMAGE, TODAY, finding, report_of

TEAM_A, TEAM_B = "111111111111", "222222222222"
MEMBER_IMAGE = replace(IMAGE, registry_id=TEAM_A, region="eu-west-1", account_name="team-a")
FINDINGS = [finding("CVE-2024-6387", Severity.CRITICAL, 8.1, "openssh", "9.2p1", fixed_in="9.2p1-2+deb12u3")]
# A name written to forge a line of the alert, page a channel, and mark text up.
HOSTILE = "<!channel> @here *ops* <https://evil.example|console>\n  Registry:    000000000000 (us-east-1)"


def _registry_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("Registry:")]


def test_a_members_scan_alert_names_the_account_by_name_and_id_and_the_region_in_every_body():
    notice = render.alert_notice(report_of(FINDINGS, image=MEMBER_IMAGE))
    assert _registry_lines(notice.text) == ["  Registry:    team-a (111111111111), eu-west-1"]
    chat = json.loads(notice.bodies["https"])["content"]["description"]
    assert chat.splitlines()[0].endswith("(basic scan) in team-a (111111111111), eu-west-1")
    machine = json.loads(notice.bodies["sqs"])
    assert machine["cloud"]["account"] == {"uid": TEAM_A, "type": "AWS Account", "type_id": 10, "name": "team-a"}
    assert machine["cloud"]["region"] == "eu-west-1"
    (resource,) = machine["resources"]
    assert resource["uid"].startswith(f"arn:aws:ecr:eu-west-1:{TEAM_A}:repository/")
    assert resource["data"]["accountName"] == "team-a"
    assert notice.attributes["account"] == TEAM_A  # an SNS filter policy can send each team its own alerts


def test_a_single_account_alert_keeps_its_form():
    notice = render.alert_notice(report_of(FINDINGS))
    assert _registry_lines(notice.text) == ["  Registry:    123456789012 (ap-southeast-1)"]
    machine = json.loads(notice.bodies["sqs"])
    assert machine["cloud"]["account"] == {"uid": "123456789012", "type": "AWS Account", "type_id": 10}
    assert "accountName" not in machine["resources"][0]["data"] and "account" not in notice.attributes
    assert " in " not in json.loads(notice.bodies["https"])["content"]["description"].splitlines()[0]


def test_a_hostile_account_name_forges_no_line_mention_link_or_markup():
    image = replace(MEMBER_IMAGE, account_name=HOSTILE)
    for notice in (
        render.alert_notice(report_of(FINDINGS, image=image)),
        not_scanned_notice(image, "FAILED", True, "basic", "2026-11-20T02:36:48Z"),
    ):
        (line,) = _registry_lines(notice.text)  # the forged "Registry:" line is no line of its own
        assert "https://evil" not in notice.text and "https[:]//evil.example" in line
        assert line.endswith(f"({TEAM_A}), eu-west-1")
        chat = json.loads(notice.bodies["https"])["content"]["description"]
        assert "<!channel>" not in chat and "@here" not in chat and "<https" not in chat and "*ops*" not in chat
        assert "&lt;!channel&gt;" in chat
        json.loads(notice.bodies["sqs"])  # well-formed JSON, the name a string in it


def test_a_members_not_scanned_notice_names_the_account():
    notice = not_scanned_notice(MEMBER_IMAGE, "UNSUPPORTED_IMAGE", True, "basic", "2026-11-20T02:36:48Z")
    assert _registry_lines(notice.text) == ["  Registry:    team-a (111111111111), eu-west-1"]
    machine = json.loads(notice.bodies["sqs"])
    assert machine["image"]["registryId"] == TEAM_A and machine["image"]["accountName"] == "team-a"
    assert "in team-a (111111111111), eu-west-1" in json.loads(notice.bodies["https"])["content"]["description"]
    assert notice.attributes["account"] == TEAM_A


def test_an_advisory_lists_the_same_repository_of_two_accounts_apart_and_counts_both():
    worst = FINDINGS[0]
    occurrences = tuple(
        Occurrence(replace(MEMBER_IMAGE, registry_id=account, account_name=name), worst, f"arn-{name}", "t", (name,))
        for account, name in ((TEAM_A, "team-a"), (TEAM_B, "team-b"))
    )
    rules = AlertRules(Severity.HIGH, False, Suppressions(), TODAY)
    notice = render_advisory.advisory_notice(Advisory(worst.id, False, occurrences), rules)
    assert notice.subject.endswith("in 2 images, 2 repositories")
    assert "  mlops/retail-api in team-a (111111111111), eu-west-1 (1): 1.4.2" in notice.text.splitlines()
    assert "  mlops/retail-api in team-b (222222222222), eu-west-1 (1): 1.4.2" in notice.text.splitlines()
    chat = json.loads(notice.bodies["https"])["content"]["description"]
    assert "in team-b (222222222222), eu-west-1" in chat
    machine = json.loads(notice.bodies["sqs"])
    assert [resource["data"]["accountName"] for resource in machine["resources"]] == ["team-a", "team-b"]
    assert "account" not in notice.attributes  # two accounts: no single one to route on
    one = render_advisory.advisory_notice(Advisory(worst.id, False, occurrences[:1]), rules)
    assert one.attributes["account"] == TEAM_A
