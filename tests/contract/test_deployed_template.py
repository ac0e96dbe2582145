"""What CloudFormation receives: template.yaml transformed by the SAM translator (offline), held to the code.

The SAM source says what we wrote; the transformed template says what is deployed - the role SAM generates and every
permission on it (the ones SAM adds included), the rules it creates and what they target.
"""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from ecr_governance.enforce import events
from ecr_governance.enforce.hub import SUMMARY_CHECK_DETAIL_TYPE, SUMMARY_CHECK_SOURCE
from ecr_governance.findings import events as findings_events
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "ap-southeast-1"
ENFORCE_FUNCTION = "EnforceRepositoryFunction"
FINDINGS_FUNCTION = "ScanFindingsFunction"
INSPECTOR_FUNCTION = "InspectorFindingsFunction"
HANDLER_OF_FUNCTION = {
    ENFORCE_FUNCTION: "handlers.enforce_repository",
    FINDINGS_FUNCTION: "handlers.scan_findings",
    INSPECTOR_FUNCTION: "handlers.inspector_findings",
    "SweepPlannerFunction": "handlers.sweep_planner",
    "SweepWorkerFunction": "handlers.sweep_worker",
    "EnforceMemberFunction": "handlers.enforce_member",
}
# Functions invoked asynchronously whose failed events go to an on-failure queue (the sweep worker's failed messages
# are redriven by its queue instead; a failed planner run is replaced by the next scheduled one).
WITH_FAILURE_DESTINATION = (ENFORCE_FUNCTION, FINDINGS_FUNCTION)
# The AWS managed policy SAM attaches: logging to the function's log group (no X-Ray: tracing is off).
EXPECTED_MANAGED_POLICIES = {"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    source = yaml_parse(TEMPLATE_PATH.read_text())
    for resource in source["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"  # what `sam package` puts there
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    return translator.translate(copy.deepcopy(source), parameter_values={}, get_managed_policy_map=lambda: {})


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_of(deployed: dict[str, Any], function: str) -> tuple[str, dict[str, Any]]:
    role = deployed["Resources"][function]["Properties"]["Role"]
    assert set(role) == {"Fn::GetAtt"} and role["Fn::GetAtt"][1] == "Arn", role
    logical_id = role["Fn::GetAtt"][0]
    return logical_id, deployed["Resources"][logical_id]


def _statements(role: dict[str, Any]) -> list[tuple[bool, dict[str, Any]]]:
    """(conditional, statement) for every statement of the role's inline policies."""
    found = []
    for policy in role["Properties"].get("Policies", []):
        conditional = "Fn::If" in policy
        if conditional:
            _, policy, otherwise = policy["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
        found.extend((conditional, statement) for statement in policy["PolicyDocument"]["Statement"])
    return found


def test_governance_role_arn_is_the_role_the_function_runs_as(deployed: dict[str, Any]) -> None:
    """The loop guard compares CloudTrail's actor with GOVERNANCE_ROLE_ARN: it must be the function's own role."""
    logical_id, role = _role_of(deployed, ENFORCE_FUNCTION)
    assert role["Type"] == "AWS::IAM::Role"
    variables = deployed["Resources"][ENFORCE_FUNCTION]["Properties"]["Environment"]["Variables"]
    assert variables["GOVERNANCE_ROLE_ARN"] == {"Fn::GetAtt": [logical_id, "Arn"]}


def test_every_function_in_the_template_is_checked_here(deployed: dict[str, Any]) -> None:
    functions = {k for k, v in deployed["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}
    assert functions == set(HANDLER_OF_FUNCTION)


@pytest.mark.parametrize("function", sorted(HANDLER_OF_FUNCTION))
def test_deployed_role_grants_only_what_the_code_needs(deployed: dict[str, Any], function: str) -> None:
    _, role = _role_of(deployed, function)
    assert set(role["Properties"].get("ManagedPolicyArns", [])) == EXPECTED_MANAGED_POLICIES
    always: set[str] = set()
    conditional: set[str] = set()
    for is_conditional, statement in _statements(role):
        assert statement["Effect"] == "Allow"
        (conditional if is_conditional else always).update(_as_list(statement["Action"]))
    handler = importlib.import_module(HANDLER_OF_FUNCTION[function])
    # What the code declares, plus the on-failure destination (SQS) SAM grants; the rest only when its setting is on.
    destination = {"sqs:SendMessage"} if function in WITH_FAILURE_DESTINATION else set()
    assert always == set(handler.IAM_ACTIONS) | destination
    assert conditional == set().union(*getattr(handler, "CONDITIONAL_IAM_ACTIONS", {}).values())


@pytest.mark.parametrize("function", sorted(WITH_FAILURE_DESTINATION))
def test_failures_go_to_the_declared_queue(deployed: dict[str, Any], function: str) -> None:
    _, role = _role_of(deployed, function)
    # The always-granted send: an organization hub's router also sends to its work queue (granted conditionally).
    (send,) = [
        s for conditional, s in _statements(role) if not conditional and "sqs:SendMessage" in _as_list(s["Action"])
    ]
    (config,) = [
        r
        for r in deployed["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig" and r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    destination = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    assert send["Resource"] == destination
    assert deployed["Resources"][destination["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"


def _rules_targeting(deployed: dict[str, Any], function: str) -> list[dict[str, Any]]:
    rules = []
    for resource in deployed["Resources"].values():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        targets = resource["Properties"]["Targets"]
        if any(target["Arn"] == {"Fn::GetAtt": [function, "Arn"]} for target in targets):
            rules.append(resource["Properties"])
    return rules


def test_deployed_rules_invoke_the_function_on_enforced_calls_and_on_schedule(deployed: dict[str, Any]) -> None:
    rules = _rules_targeting(deployed, ENFORCE_FUNCTION)
    patterns = [rule["EventPattern"] for rule in rules if "EventPattern" in rule]
    schedules = [rule["ScheduleExpression"] for rule in rules if "ScheduleExpression" in rule]
    # The daily reconcile, and an organization hub's summary check (a constant event the router recognises).
    assert sorted(map(str, schedules)) == sorted(map(str, [{"Ref": "ReconcileSchedule"}, "rate(15 minutes)"]))
    (check,) = [rule for rule in rules if rule.get("ScheduleExpression") == "rate(15 minutes)"]
    (target,) = check["Targets"]
    check_event = json.loads(target["Input"]["Fn::Sub"])
    assert (check_event["detail-type"], check_event["source"]) == (SUMMARY_CHECK_DETAIL_TYPE, SUMMARY_CHECK_SOURCE)
    assert (check_event["account"], check_event["region"]) == ("${AWS::AccountId}", "${AWS::Region}")
    # This account's writes on the default bus; an organization hub's members' writes on its own bus (any account:
    # the router checks each against the organization).
    own = [pattern for pattern in patterns if pattern.get("account") == [{"Ref": "AWS::AccountId"}]]
    hub = [rule for rule in rules if rule.get("EventBusName") == {"Ref": "HubEventBus"}]
    assert len(own) == 1 and len(hub) == 1 and len(patterns) == 2
    for pattern in patterns:
        assert set(pattern["detail"]["eventName"]) == set(events.ENFORCED_EVENT_NAMES)
    # Each rule may invoke the function.
    permissions = [
        r["Properties"]
        for r in deployed["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["FunctionName"] == {"Ref": ENFORCE_FUNCTION}
    ]
    assert len(permissions) == len(rules)
    assert {p["Principal"] for p in permissions} == {"events.amazonaws.com"}


def _rule_resources(deployed: dict[str, Any], arn: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules (whole resources: their Condition too) with a target of this ARN."""
    return [
        resource
        for resource in deployed["Resources"].values()
        if resource["Type"] == "AWS::Events::Rule"
        and any(target["Arn"] == arn for target in resource["Properties"]["Targets"])
    ]


OWN_ACCOUNT = [{"Ref": "AWS::AccountId"}]
OTHER_ACCOUNTS = [{"anything-but": [{"Ref": "AWS::AccountId"}]}]


def test_deployed_rules_invoke_the_scan_findings_function_on_both_scan_kinds_and_on_deletions(
    deployed: dict[str, Any],
) -> None:
    rules = _rule_resources(deployed, {"Fn::GetAtt": [FINDINGS_FUNCTION, "Arn"]})
    own = [rule["Properties"] for rule in rules if "Condition" not in rule or rule["Condition"] != "OrganizationScope"]
    kinds = {(rule["EventPattern"]["source"][0], rule["EventPattern"]["detail-type"][0]) for rule in own}
    assert kinds == {*findings_events.EVENT_KINDS, findings_events.IMAGE_ACTION} and len(own) == 3
    assert all(rule["EventPattern"]["account"] == OWN_ACCOUNT for rule in own)
    permissions = [
        r
        for r in deployed["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["FunctionName"] == {"Ref": FINDINGS_FUNCTION}
    ]
    assert len(permissions) == len(rules) == 5
    assert {p["Properties"]["Principal"] for p in permissions} == {"events.amazonaws.com"}
    # Deletions reach the function only when findings are imported into Security Hub (nothing else to do then).
    assert [p.get("Condition") for p in permissions].count("ImportToSecurityHub") == 1
    assert [p.get("Condition") for p in permissions].count("OrganizationScope") == 2


def test_an_organization_hub_routes_its_members_scans_to_the_scan_findings_function(deployed: dict[str, Any]) -> None:
    """Members' basic scans on the hub's bus (forwarded by org/member.yaml, any account: the function checks each
    against the organization); Inspector's initial scans of members' images on the default bus, from any account but
    the hub's own (the own-account rule takes those: no event matches both). Only with Scope=organization."""
    hub = [
        rule
        for rule in _rule_resources(deployed, {"Fn::GetAtt": [FINDINGS_FUNCTION, "Arn"]})
        if rule.get("Condition") == "OrganizationScope"
    ]
    by_kind = {
        (r["Properties"]["EventPattern"]["source"][0], r["Properties"]["EventPattern"]["detail-type"][0]): r
        for r in hub
    }
    assert set(by_kind) == set(findings_events.EVENT_KINDS)
    basic = by_kind[("aws.ecr", "ECR Image Scan")]["Properties"]
    assert basic["EventBusName"] == {"Ref": "HubEventBus"} and "account" not in basic["EventPattern"]
    enhanced = by_kind[("aws.inspector2", "Inspector2 Scan")]["Properties"]
    assert "EventBusName" not in enhanced and enhanced["EventPattern"]["account"] == OTHER_ACCOUNTS
    assert enhanced["EventPattern"]["detail"] == {"repository-name": [{"prefix": "arn:"}]}
    assert deployed["Conditions"]["OrganizationScope"] == {"Fn::Equals": [{"Ref": "Scope"}, "organization"]}


def test_inspector_finding_events_reach_their_function_through_the_queue_only(deployed: dict[str, Any]) -> None:
    resources = deployed["Resources"]
    rules = _rule_resources(deployed, {"Fn::GetAtt": ["InspectorFindingsQueue", "Arn"]})
    own = [rule for rule in rules if "Condition" not in rule]
    hub = [rule for rule in rules if rule.get("Condition") == "OrganizationScope"]
    assert len(own) == len(hub) == 1 and len(rules) == 2
    for rule in rules:
        assert rule["Properties"]["EventPattern"]["detail-type"] == ["Inspector2 Finding"]
        assert rule["Properties"]["EventPattern"]["detail"] == {"resources": {"type": ["AWS_ECR_CONTAINER_IMAGE"]}}
    # The hub's own account, and (Scope=organization) every other: the members' copies Inspector's delegated
    # administrator receives, whichever account their envelope names.
    assert own[0]["Properties"]["EventPattern"]["account"] == OWN_ACCOUNT
    assert hub[0]["Properties"]["EventPattern"]["account"] == OTHER_ACCOUNTS
    (policy,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {
        "ArnEquals": {
            "aws:SourceArn": [
                {"Fn::GetAtt": ["InspectorFindingsRule", "Arn"]},
                {
                    "Fn::If": [
                        "OrganizationScope",
                        {"Fn::GetAtt": ["HubInspectorFindingsRule", "Arn"]},
                        {"Ref": "AWS::NoValue"},
                    ]
                },
            ]
        }
    }
    assert _rules_targeting(deployed, INSPECTOR_FUNCTION) == []
