"""org/member.yaml, held to the hub's code: plain CloudFormation a service-managed StackSet can deploy, a role that
grants exactly what the hub's functions declare for the calls they make in a member account and trusts only the
hub's function roles from the organization, and rules that forward what the hub's own account rule matches."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ecr_governance_cli.template_env import load_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MEMBER = PROJECT_ROOT / "org" / "member.yaml"
# The services the hub calls in member accounts; everything else (queues, tables, topics, parameters) is the hub's.
MEMBER_SERVICES = frozenset({"ecr", "tag", "inspector2", "iam"})


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return load_template(MEMBER)


def _statements(member: dict[str, Any]) -> list[dict[str, Any]]:
    role = member["Resources"]["GovernanceRole"]["Properties"]
    return [statement for policy in role["Policies"] for statement in policy["PolicyDocument"]["Statement"]]


def declared_member_actions(template: dict[str, Any]) -> set[str]:
    """The actions every hub function declares (conditional ones included) on the services it calls in members."""
    actions: set[str] = set()
    handlers = [
        r["Properties"]["Handler"] for r in template["Resources"].values() if "Handler" in r.get("Properties", {})
    ]
    for handler in handlers:
        module = importlib.import_module(handler.rpartition(".")[0])
        declared = set(module.IAM_ACTIONS) | set(getattr(module, "MEMBER_IAM_ACTIONS", ()))
        for conditional in getattr(module, "CONDITIONAL_IAM_ACTIONS", {}).values():
            declared |= set(conditional)
        actions |= {action for action in declared if action.split(":", 1)[0] in MEMBER_SERVICES}
    return actions


def test_cfn_lint_accepts_the_member_template():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(MEMBER)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_is_plain_cloudformation_without_code(member):
    assert "Transform" not in member  # a service-managed StackSet cannot expand a transform's macros
    types = {resource["Type"] for resource in member["Resources"].values()}
    assert types <= {"AWS::IAM::Role", "AWS::Events::Rule"}, types


def test_the_role_grants_exactly_what_the_hubs_functions_declare_for_member_accounts(member, template):
    granted = {action for statement in _statements(member) for action in statement["Action"]}
    assert granted == declared_member_actions(template)


def test_what_each_hub_function_does_in_a_member_is_granted_scan_alerts_included(member, template):
    """Each handler's MEMBER_IAM_ACTIONS - the calls it makes through the member's role - is in the role: the
    enforcement worker's and the scan alerts' (an organization hub reads its members' scan findings there)."""
    granted = {action for statement in _statements(member) for action in statement["Action"]}
    handlers = {
        r["Properties"]["Handler"] for r in template["Resources"].values() if "Handler" in r.get("Properties", {})
    }
    in_members = {
        handler: set(importlib.import_module(handler.rpartition(".")[0]).MEMBER_IAM_ACTIONS)
        for handler in handlers
        if hasattr(importlib.import_module(handler.rpartition(".")[0]), "MEMBER_IAM_ACTIONS")
    }
    assert in_members["handlers.scan_findings.handler"] == {
        "ecr:DescribeImageScanFindings",
        "ecr:DescribeImageSigningStatus",
    }
    assert "handlers.enforce_member.handler" in in_members
    for handler, actions in in_members.items():
        assert actions <= granted, (handler, actions - granted)


def test_repository_actions_are_scoped_to_this_accounts_repositories(member):
    """Repository actions on this account's repositories; the service-linked role only for ECR; the registry-level
    and read APIs (no resource type) on *."""
    repositories = {"Fn::Sub": "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*"}
    for statement in _statements(member):
        if statement["Action"] == ["iam:CreateServiceLinkedRole"]:
            assert statement["Condition"] == {"StringEquals": {"iam:AWSServiceName": "ecr.amazonaws.com"}}
        elif statement["Resource"] != "*":
            assert statement["Resource"] == repositories


def test_the_role_trusts_only_the_hubs_function_roles_from_the_organization(member):
    (trust,) = member["Resources"]["GovernanceRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${HubAccountId}:root"}}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
    assert trust["Condition"]["ArnLike"] == {
        "aws:PrincipalArn": {"Fn::Sub": "arn:${AWS::Partition}:iam::${HubAccountId}:role/${HubStackName}-*"}
    }


def test_forwarded_writes_are_the_ones_the_hub_enforces_on_and_go_to_the_hub_bus(member, template):
    hub_rule = template["Resources"]["EnforceRepositoryFunction"]["Properties"]["Events"]["RepositoryChanged"]
    hub_names = hub_rule["Properties"]["Pattern"]["detail"]["eventName"]
    forwarded = member["Resources"]["ForwardRepositoryChanges"]["Properties"]
    assert forwarded["EventPattern"]["detail"]["eventName"] == hub_names
    bus = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${HubAccountId}:event-bus/${HubEventBusName}"}
    for rule in ("ForwardRepositoryChanges", "ForwardImageEvents"):
        (target,) = member["Resources"][rule]["Properties"]["Targets"]
        assert target["Arn"] == bus and target["RoleArn"] == {"Fn::GetAtt": ["ForwardingRole", "Arn"]}
    forwarding = member["Resources"]["ForwardingRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert forwarding == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}]
