"""Scan-findings alerts of an organization hub on the emulator, end to end through the real handlers: an AWS
Organization of four member accounts (each reached through STS AssumeRole, its registry kept apart) and one account
outside it. A member's forwarded scan is alerted from that member's own findings, naming it; the same image in two
members is two alerts; an outsider's or an ungoverned region's scan is refused before anything is read; a member
whose role cannot be assumed fails the invocation (Lambda's retries, then the failures queue) and nothing is sent;
Inspector's finding event about a member's image - as the delegated administrator (the hub) receives it - is
alerted naming the member. The alerts topic, its SQS subscriber, the idempotency table and the ledger are the hub's.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from ecr_governance_cli.local_invoke import FunctionError, invoke_function
from ecr_governance_cli.scan_samples import (
    basic_finding,
    demo_basic_findings,
    queue_scan_findings,
    scan_findings_response,
)
from findings_stack import findings_stack, received
from organization_builders import create_members, member_client, refuse_roles
from registry_builders import TEMPLATE, load_event, push_image

pytestmark = pytest.mark.integration
HUB = "123456789012"  # the emulator's default account: the hub, and the organization's management account here
HUB_REGION = "ap-southeast-1"
REGIONS = ("ap-southeast-1", "eu-west-1")
OUTSIDER = "999988887777"
REPOSITORY = "mlops/retail-api"


@pytest.fixture
def organization(emulator_endpoint, monkeypatch) -> dict[str, Any]:
    organizations = boto3.client("organizations", region_name=HUB_REGION)
    organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    members = create_members(organizations, 4)
    denied = members[-1]  # its governance role is not deployed yet
    refuse_roles(monkeypatch, [denied])
    return {"id": organization_id, "members": members[:-1], "denied": denied, "endpoint": emulator_endpoint}


@pytest.fixture
def alerts(emulator_endpoint: str) -> dict[str, Any]:
    return findings_stack()


def scanned_image(organization: dict[str, Any], account: str, region: str, findings: list[dict[str, Any]]) -> str:
    """The same image pushed to the account's registry (the same content: the same digest in every account, as
    cross-account replication makes it), scanned, its findings queued; returns its digest."""
    ecr = member_client("ecr", account, region)
    ecr.create_repository(repositoryName=REPOSITORY)
    digest = push_image(ecr, REPOSITORY, "release-1.4.2", tag="1.4.2")
    ecr.start_image_scan(repositoryName=REPOSITORY, imageId={"imageDigest": digest})
    response = scan_findings_response(REPOSITORY, digest, findings, registry_id=account)
    queue_scan_findings(organization["endpoint"], region, response, account=account)
    return digest


def forwarded_scan(account: str, region: str, digest: str) -> dict[str, Any]:
    """The member's `ECR Image Scan` event as the hub's bus delivers it (EventBridge keeps its account and region)."""
    event = copy.deepcopy(load_event("findings/basic-scan-complete.json"))
    event["id"] = f"{account}-{region}-scan"
    event["account"], event["region"] = account, region
    event["resources"] = [f"arn:aws:ecr:{region}:{account}:repository/{REPOSITORY}"]
    event["detail"]["image-digest"] = digest
    return event


def invoke(organization: dict[str, Any], alerts: dict[str, Any], function: str, event: Any) -> Any:
    overrides = {"Scope": "organization", "OrganizationId": organization["id"], "GovernedRegions": ",".join(REGIONS)}
    return invoke_function(str(TEMPLATE), function, event, overrides, alerts["deployed"])


def test_a_members_scan_is_alerted_from_that_members_findings_and_names_the_member(organization, alerts):
    team_0, team_1, _ = organization["members"]
    digest = scanned_image(organization, team_0, "eu-west-1", demo_basic_findings())
    scanned_image(organization, team_1, "eu-west-1", [basic_finding("CVE-2099-0001", "CRITICAL", "other", "1.0")])
    result = invoke(organization, alerts, "ScanFindingsFunction", forwarded_scan(team_0, "eu-west-1", digest))
    assert result["status"] == "alerted" and result["findingsAlerted"] == 4
    (message,) = received(alerts)
    body = message["Message"]
    ids = [vulnerability["cve"]["uid"] for vulnerability in body["vulnerabilities"]]
    assert ids == ["CVE-2024-6387", "CVE-2023-4911", "CVE-2023-5363", "CVE-2024-2961"]  # team-0's, not team-1's
    assert body["cloud"]["account"]["uid"] == team_0 and body["cloud"]["account"]["name"] == "team-0"
    assert body["cloud"]["region"] == "eu-west-1"
    assert body["resources"][0]["uid"] == f"arn:aws:ecr:eu-west-1:{team_0}:repository/{REPOSITORY}/{digest}"
    attributes = {name: value["Value"] for name, value in message["MessageAttributes"].items()}
    assert attributes["account"] == team_0


def test_the_same_image_in_two_members_is_alerted_in_each_and_a_redelivery_in_neither(organization, alerts):
    _, team_1, team_2 = organization["members"]
    digests = {
        account: scanned_image(organization, account, HUB_REGION, demo_basic_findings()) for account in (team_1, team_2)
    }
    assert digests[team_1] == digests[team_2]  # one repository@digest, two registries
    outcomes = [
        invoke(organization, alerts, "ScanFindingsFunction", forwarded_scan(account, HUB_REGION, digest))
        for account, digest in digests.items()
    ]
    assert [outcome["status"] for outcome in outcomes] == ["alerted", "alerted"]
    assert sorted(m["Message"]["cloud"]["account"]["name"] for m in received(alerts)) == ["team-1", "team-2"]
    again = invoke(organization, alerts, "ScanFindingsFunction", forwarded_scan(team_2, HUB_REGION, digests[team_2]))
    assert again.get("duplicate") is True and received(alerts) == []


def test_an_outsiders_scan_or_an_ungoverned_regions_is_refused_and_nothing_is_sent(organization, alerts):
    member = organization["members"][0]
    outsider_digest = scanned_image(organization, OUTSIDER, HUB_REGION, demo_basic_findings())
    member_digest = scanned_image(organization, member, "us-east-1", demo_basic_findings())
    for event in (
        forwarded_scan(OUTSIDER, HUB_REGION, outsider_digest),
        forwarded_scan(member, "us-east-1", member_digest),
    ):
        result = invoke(organization, alerts, "ScanFindingsFunction", event)
        assert result["status"] == "rejected", result
    assert received(alerts) == []


def test_a_member_whose_role_cannot_be_assumed_fails_the_invocation_and_sends_nothing(organization, alerts):
    denied = organization["denied"]
    event = forwarded_scan(denied, HUB_REGION, "sha256:" + "0" * 64)
    # The function fails as Lambda sees it (retried, then kept in the failures queue), naming the member's refusal.
    with pytest.raises(FunctionError, match="MemberUnreachable: cannot assume .*AccessDenied"):
        invoke(organization, alerts, "ScanFindingsFunction", event)
    assert received(alerts) == []


@pytest.mark.parametrize("envelope", ["member", "hub"])
def test_inspectors_finding_event_about_a_members_image_is_alerted_naming_the_member(organization, alerts, envelope):
    member = organization["members"][2]
    event = copy.deepcopy(load_event("findings/inspector2-finding.json"))
    text = json.dumps(event).replace(HUB, member)
    event = json.loads(text)
    event["account"] = member if envelope == "member" else HUB  # AWS does not say which the administrator's copy names
    record = load_event("findings/inspector2-finding-sqs.json")["Records"][0]
    batch = {"Records": [{**record, "messageId": "message-0", "body": json.dumps(event)}]}
    assert invoke(organization, alerts, "InspectorFindingsFunction", batch) == {"batchItemFailures": []}
    (message,) = received(alerts)
    (resource,) = message["Message"]["resources"]
    assert resource["uid"].startswith(f"arn:aws:ecr:{HUB_REGION}:{member}:repository/mlops/retail-api/sha256:")
    assert resource["data"]["accountName"] == "team-2"
    assert message["Message"]["cloud"]["account"] == {
        "uid": member,
        "type": "AWS Account",
        "type_id": 10,
        "name": "team-2",
    }
