"""An organization hub on the emulator, end to end through the real handlers: six accounts in an AWS Organization
(each assumed through STS, its resources kept apart), two governed regions, and one account outside the
organization. The router fans the daily reconcile out over a FIFO work queue, the member function enforces each
account-region through the member's role; a member's event is acted on in that account only; an outsider's event is
refused before anything is sent; an account whose role cannot be assumed is reported and the rest are compliant;
the hub's own writes come back as events and are skipped."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from ecr_governance.aws.runs_table import DynamoRunTally
from ecr_governance.enforce.run_summary import RECONCILE_COUNTERS
from ecr_governance.errors import AwsError
from ecr_governance_cli.local_invoke import invoke_function
from organization_builders import ROLE, create_members, member_client, refuse_roles
from registry_builders import TEMPLATE, load_event, topic_with_sqs_subscriber

pytestmark = pytest.mark.integration
HUB_REGION = "ap-southeast-1"
REGIONS = ("ap-southeast-1", "eu-west-1")
OUTSIDER = "999988887777"
REPOSITORIES = ("app/api", "app/web")


@pytest.fixture
def organization(emulator_endpoint, monkeypatch) -> dict[str, Any]:
    organizations = boto3.client("organizations", region_name=HUB_REGION)
    organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    members = create_members(organizations, 6)
    for account in [*members, OUTSIDER]:
        for region in REGIONS:
            ecr = member_client("ecr", account, region)
            for name in REPOSITORIES:
                ecr.create_repository(repositoryName=name, imageTagMutability="MUTABLE")
    denied = members[-1]  # its governance role is not deployed yet
    refuse_roles(monkeypatch, [denied])
    sqs = boto3.client("sqs", region_name=HUB_REGION)
    queue = sqs.create_queue(QueueName="member-work.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    return {"id": organization_id, "members": members[:-1], "denied": denied, "queue": queue}


def overrides(organization: dict[str, Any]) -> dict[str, str]:
    return {
        "Scope": "organization",
        "OrganizationId": organization["id"],
        "GovernedRegions": ",".join(REGIONS),
        "RegistryApi": "core",  # the emulator serves ECR's core API only
        "Mode": "enforce",
    }


def invoke(organization: dict[str, Any], function: str, event: Any) -> Any:
    env_vars = {"WORK_QUEUE_URL": organization["queue"], "GOVERNANCE_ROLE_ARN": "arn:aws:iam::123456789012:role/hub"}
    return invoke_function(str(TEMPLATE), function, event, overrides(organization), {}, env_vars)


def drain(organization: dict[str, Any]) -> list[dict[str, Any]]:
    """Every message on the work queue, as the SQS event source would deliver them (FIFO attributes included)."""
    sqs = boto3.client("sqs", region_name=HUB_REGION)
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=organization["queue"], MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", []):
        messages.extend(batch)
        for message in batch:
            sqs.delete_message(QueueUrl=organization["queue"], ReceiptHandle=message["ReceiptHandle"])
    return messages


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {**m.get("Attributes", {}), "ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{HUB_REGION}:123456789012:member-work.fifo",
                "awsRegion": HUB_REGION,
            }
            for m in messages
        ]
    }


def mutability(account: str, region: str, name: str) -> str:
    ecr = member_client("ecr", account, region)
    return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["imageTagMutability"]


def member_event(account: str, region: str, name: str, actor: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("enforce/put-image-tag-mutability.json"))
    event["id"] = f"{account}-{region}-{name}-{actor or 'user'}"
    event["account"], event["region"] = account, region
    event["detail"].update(recipientAccountId=account, awsRegion=region)
    event["detail"]["requestParameters"]["repositoryName"] = name
    issuer = actor or f"arn:aws:iam::{account}:role/PlatformAdmin"
    event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = issuer
    return event


def test_the_daily_reconcile_fans_out_over_every_member_and_region_and_skips_only_the_unreachable(organization):
    routed = invoke(organization, "EnforceRepositoryFunction", load_event("enforce/scheduled-reconcile.json"))
    # Five members and the management account (the emulator lets the hub assume a role in it; in AWS, deploy the
    # member template there too or it is reported not-onboarded).
    assert routed["status"] == "fanned out" and routed["targets"] == 6 * len(REGIONS)
    assert [entry.split(":")[0] for entry in routed["notOnboarded"]] == [organization["denied"]]
    messages = drain(organization)
    assert len(messages) == 12
    groups = {m["Attributes"]["MessageGroupId"] for m in messages}
    assert groups == {f"{a}-0" for a in [*organization["members"], "123456789012"]}
    result = invoke(organization, "EnforceMemberFunction", sqs_event(messages))
    assert result == {"batchItemFailures": []}
    for account in organization["members"]:
        for region in REGIONS:
            for name in REPOSITORIES:
                assert mutability(account, region, name) == "IMMUTABLE", (account, region, name)
            lifecycle = member_client("ecr", account, region).get_lifecycle_policy(repositoryName="app/api")
            assert "rules" in json.loads(lifecycle["lifecyclePolicyText"])
    assert mutability(organization["denied"], "eu-west-1", "app/api") == "MUTABLE"  # reported, not reached
    assert mutability(OUTSIDER, "eu-west-1", "app/api") == "MUTABLE"


def test_a_members_event_is_acted_on_in_that_account_only(organization):
    first, second = organization["members"][:2]
    routed = invoke(organization, "EnforceRepositoryFunction", member_event(first, "eu-west-1", "app/api"))
    assert routed == {"status": "routed", "reason": f"{first}/eu-west-1"}
    result = invoke(organization, "EnforceMemberFunction", sqs_event(drain(organization)))
    assert result == {"batchItemFailures": []}
    assert mutability(first, "eu-west-1", "app/api") == "IMMUTABLE"
    assert mutability(first, "ap-southeast-1", "app/api") == "MUTABLE"  # the event named eu-west-1
    assert mutability(first, "eu-west-1", "app/web") == "MUTABLE"  # ... and app/api
    assert mutability(second, "eu-west-1", "app/api") == "MUTABLE"  # ... in that account


def test_an_event_from_outside_the_organization_or_its_regions_is_refused_before_anything_is_sent(organization):
    member = organization["members"][0]
    for event in (member_event(OUTSIDER, "eu-west-1", "app/api"), member_event(member, "us-east-1", "app/api")):
        routed = invoke(organization, "EnforceRepositoryFunction", event)
        assert routed["status"] == "rejected", routed
    assert drain(organization) == []
    assert mutability(OUTSIDER, "eu-west-1", "app/api") == "MUTABLE"


def test_the_hubs_own_writes_come_back_and_are_skipped_no_second_write(organization):
    member = organization["members"][0]
    invoke(organization, "EnforceRepositoryFunction", member_event(member, "eu-west-1", "app/api"))
    invoke(organization, "EnforceMemberFunction", sqs_event(drain(organization)))
    # The remediation's own CloudTrail event, made by the member's governance role, arrives on the hub's bus.
    own = member_event(member, "eu-west-1", "app/api", actor=f"arn:aws:iam::{member}:role/{ROLE}")
    routed = invoke(organization, "EnforceRepositoryFunction", own)
    assert routed == {"status": "skipped", "reason": "own remediation"}
    assert drain(organization) == []


# ---- the reconcile's run summary (issue 20) ---------------------------------------------------------------------
@pytest.fixture
def runs_stack(organization) -> dict[str, str]:
    """What a deployment adds for the run summary: the runs table and the remediation topic (an SQS inbox reads it)."""
    ddb, sns, sqs = (boto3.client(s, region_name=HUB_REGION) for s in ("dynamodb", "sns", "sqs"))
    ddb.create_table(
        TableName="runs",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    topic_arn, inbox = topic_with_sqs_subscriber(sns, sqs, "remediations", "inbox")
    return {"RECONCILE_RUNS_TABLE": "runs", "REMEDIATION_TOPIC_ARN": topic_arn, "inbox": inbox}


def invoke_with_runs(organization: dict[str, Any], stack: dict[str, str], function: str, event: Any) -> Any:
    env_vars = {
        "WORK_QUEUE_URL": organization["queue"],
        "GOVERNANCE_ROLE_ARN": "arn:aws:iam::123456789012:role/hub",
        "RECONCILE_RUNS_TABLE": stack["RECONCILE_RUNS_TABLE"],
        "REMEDIATION_TOPIC_ARN": stack["REMEDIATION_TOPIC_ARN"],
    }
    return invoke_function(
        str(TEMPLATE), function, event, {**overrides(organization), "NotifyRemediations": "true"}, {}, env_vars
    )


def summaries(stack: dict[str, str]) -> list[dict[str, Any]]:
    """The run summaries the remediation topic delivered (its per-account-region notices left aside)."""
    sqs = boto3.client("sqs", region_name=HUB_REGION)
    delivered = []
    while batch := sqs.receive_message(QueueUrl=stack["inbox"], MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            delivered.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=stack["inbox"], ReceiptHandle=message["ReceiptHandle"])
    return [m for m in delivered if m.get("Subject", "").startswith("ECR reconcile of")]


def run_counts(run_id: str) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    ledger = DynamoRunTally(boto3.client("dynamodb", region_name=HUB_REGION), "runs", RECONCILE_COUNTERS)
    state = ledger.run_state(run_id)
    assert state is not None
    return dict(state.counts), ledger.account_totals(run_id)


def test_the_reconcile_summary_adds_up_every_account_region_once_and_goes_out_once(organization, runs_stack):
    routed = invoke_with_runs(
        organization, runs_stack, "EnforceRepositoryFunction", load_event("enforce/scheduled-reconcile.json")
    )
    run_id = routed["runId"]
    messages = drain(organization)
    assert len(messages) == 12 and all(json.loads(m["Body"])["detail"] == {"run": run_id} for m in messages)
    first, rest = messages[:5], messages[5:]
    assert invoke_with_runs(organization, runs_stack, "EnforceMemberFunction", sqs_event(first)) == {
        "batchItemFailures": []
    }
    assert summaries(runs_stack) == []  # seven account-regions still to report
    assert invoke_with_runs(organization, runs_stack, "EnforceMemberFunction", sqs_event(rest)) == {
        "batchItemFailures": []
    }
    totals, per_account = run_counts(run_id)
    # Five members with two repositories in each of two regions, all made compliant; the management account (which
    # the emulator lets the hub reach) has none; the account whose role is missing is not onboarded.
    # Each repository: tag immutability, scan on push, its registry scanning coverage and a lifecycle policy.
    per_region_remediated = 2 * 4
    for account in organization["members"]:
        assert per_account[account]["account_regions"] == 2
        assert per_account[account]["repositories"] == 4
        assert per_account[account]["compliant_repositories"] == 4
        assert per_account[account]["non_compliant_after"] == 0
        assert per_account[account]["remediated"] == 2 * per_region_remediated
        assert per_account[account]["failed"] == 0
    assert per_account["123456789012"]["account_regions"] == 2 and per_account["123456789012"]["repositories"] == 0
    assert organization["denied"] not in per_account
    assert totals["account_regions"] == 12
    assert totals["repositories"] == 20 and totals["compliant_repositories"] == 20
    assert totals["remediated"] == 10 * per_region_remediated
    assert totals == {name: sum(counts[name] for counts in per_account.values()) for name in totals}
    (summary,) = summaries(runs_stack)
    text = summary["Message"]
    assert summary["Subject"] == "ECR reconcile of 6 accounts: 80 settings remediated"
    assert "Total (12 account-regions reconciled, 0 unreachable): 20 repositories checked, 20 compliant" in text
    assert "settings: 80 remediated, 0 failed" in text
    for n, account in enumerate(organization["members"]):
        assert f"team-{n} ({account}): 4 repositories checked, 4 compliant" in text
        assert (
            f"team-{n} ({account}): 4 repositories checked, 4 compliant, 0 non-compliant after the run; settings: 16"
            in text
        )
    assert f"Not onboarded (1; their role could not be assumed): {organization['denied']}: cannot assume" in text
    # Redelivered member messages (SQS delivers at least once) change nothing and publish nothing more.
    member = organization["members"][0]
    again = [m for m in messages if json.loads(m["Body"])["account"] in (member, "123456789012")]
    assert len(again) == 4
    invoke_with_runs(organization, runs_stack, "EnforceMemberFunction", sqs_event(again))
    assert run_counts(run_id) == (totals, per_account)
    assert summaries(runs_stack) == []
    # The summary check finds the run summed up and closes it.
    check = {
        "version": "0",
        "id": "summary-check",
        "detail-type": "Reconcile Summary Check",
        "source": "ecr-governance",
        "account": "123456789012",
        "region": HUB_REGION,
        "detail": {},
    }
    assert invoke_with_runs(organization, runs_stack, "EnforceRepositoryFunction", check) == {
        "status": "summary check",
        "published": [],
    }
    assert summaries(runs_stack) == []


def test_a_failed_run_write_fails_the_member_message_and_its_redelivery_counts_once(
    organization, runs_stack, monkeypatch
):
    routed = invoke_with_runs(
        organization, runs_stack, "EnforceRepositoryFunction", load_event("enforce/scheduled-reconcile.json")
    )
    member = organization["members"][0]
    first, second = [m for m in drain(organization) if json.loads(m["Body"])["account"] == member]
    failing_unit = f"target/{member}/{json.loads(second['Body'])['region']}"
    original, failures = DynamoRunTally.record_unit, []

    def failing_once(self, run_id, unit, counts):
        if unit.unit_id == failing_unit and not failures:
            failures.append(unit.unit_id)
            raise AwsError("TransactWriteItems on runs: InternalServerError", code="InternalServerError")
        return original(self, run_id, unit, counts)

    monkeypatch.setattr(DynamoRunTally, "record_unit", failing_once)
    result = invoke_with_runs(organization, runs_stack, "EnforceMemberFunction", sqs_event([first, second]))
    assert result == {"batchItemFailures": [{"itemIdentifier": second["MessageId"]}]}  # SQS delivers it again
    assert run_counts(routed["runId"])[0]["account_regions"] == 1
    for _ in range(2):  # the redelivery, and a duplicate of it
        invoke_with_runs(organization, runs_stack, "EnforceMemberFunction", sqs_event([second]))
    totals, per_account = run_counts(routed["runId"])
    assert totals["account_regions"] == 2 and per_account[member]["repositories"] == 4
