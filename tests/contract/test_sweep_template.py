"""The sweep's part of template.yaml, held to its code: settings and Parameters, the queue and its dead letters, the
workers' trigger, the runs table, the summary topic, and the roles CloudFormation receives."""

from __future__ import annotations

import copy
import importlib
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import samtranslator
from ecr_governance.aws.dynamodb import TTL_ATTRIBUTE
from ecr_governance.sweep import settings
from ecr_governance.sweep.worker import CONTINUE_BELOW_SECONDS, START_BELOW_SECONDS
from ecr_governance_cli.template_env import function_spec
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PSEUDO = {"AWS::Region": "ap-southeast-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
PLANNER, WORKER = "SweepPlannerFunction", "SweepWorkerFunction"
SWEEP_FUNCTIONS = (PLANNER, WORKER)
# Settings naming the stack's own resources (the topic, which exists only with NotifySweep, is checked apart).
DERIVED = {
    "SWEEP_QUEUE_URL": ("SweepQueue", "AWS::SQS::Queue"),
    "SWEEP_RUNS_TABLE": ("SweepRunsTable", "AWS::DynamoDB::Table"),
}


def _variables(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    globals_ = template["Globals"]["Function"]["Environment"]["Variables"]
    return {**globals_, **template["Resources"][logical_id]["Properties"]["Environment"]["Variables"]}


def _resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]


@pytest.mark.parametrize("function", SWEEP_FUNCTIONS)
def test_every_sweep_setting_is_fed_by_its_parameter_or_the_stacks_own_resource(template, function):
    declared = _variables(template, function)
    parameters = template["Parameters"]
    for doc in settings.SETTINGS_DOCS:
        value = declared[doc.env]
        if doc.env == "SWEEP_TOPIC_ARN":
            condition, when_true, when_false = value["Fn::If"]
            assert _resource(template, when_true["Ref"])["Type"] == "AWS::SNS::Topic" and when_false == ""
            assert _resource(template, when_true["Ref"])["Condition"] == condition
            assert template["Conditions"][condition] == {"Fn::Equals": [{"Ref": doc.parameter}, "true"]}
        elif doc.env == "MEMBER_ROLE_NAME":  # an organization hub's only
            assert value == {"Fn::If": ["OrganizationScope", {"Ref": doc.parameter}, ""]}
            assert template["Conditions"]["OrganizationScope"] == {"Fn::Equals": [{"Ref": "Scope"}, "organization"]}
            assert str(parameters[doc.parameter]["Default"]) == doc.default
        elif doc.env in DERIVED:
            logical_id, resource_type = DERIVED[doc.env]
            assert value == {"Ref": logical_id} and _resource(template, logical_id)["Type"] == resource_type
        else:
            assert value == {"Ref": doc.parameter}, doc.env
            assert str(parameters[doc.parameter]["Default"]) == doc.default, doc.parameter


def test_template_defaults_give_the_settings_the_code_defaults_to(template):
    for function in SWEEP_FUNCTIONS:
        spec = function_spec(template, function, pseudo=PSEUDO)
        assert set(spec.unresolved) == {"SWEEP_QUEUE_URL", "SWEEP_RUNS_TABLE"}  # no topic while NotifySweep=false
        assert settings.SweepSettings.from_environ(spec.environment) == settings.SweepSettings.from_environ({})


@pytest.mark.parametrize(
    ("parameter", "value", "field"),
    [
        ("SweepMode", "delete", lambda s: s.rules.mode),
        ("SweepMode", "dry-run", lambda s: s.rules.mode),
        ("SweepArchived", "true", lambda s: str(s.rules.sweep_archived).lower()),
        ("SweepMinAgeDays", "0", lambda s: str(s.rules.min_age.days)),
        ("SweepMinIdleDays", "3650", lambda s: str(s.rules.min_idle.days)),
        ("SweepMinAgeDays", "1.5", lambda s: str(s.rules.min_age / timedelta(days=1))),
        ("StoragePricePerGbMonth", "0.023", lambda s: str(s.storage_price_per_gb_month)),
        ("ArchivePricePerGbMonth", "0.07", lambda s: str(s.archive_price_per_gb_month)),
        ("SweepRunDeadlineHours", "12", lambda s: str(s.run_deadline // timedelta(hours=1))),
    ],
)
def test_every_value_a_parameter_allows_starts_the_functions(template, parameter, value, field):
    spec = function_spec(template, WORKER, overrides={parameter: value}, pseudo=PSEUDO)
    assert field(settings.SweepSettings.from_environ(spec.environment)) == value
    definition = template["Parameters"][parameter]
    if "AllowedValues" in definition:
        assert (
            set(definition["AllowedValues"])
            == {
                "SweepMode": {str(m) for m in settings.SweepMode},
                "SweepArchived": {"true", "false"},
            }[parameter]
        )
    if "AllowedPattern" in definition:
        assert re.fullmatch(definition["AllowedPattern"], value) and re.fullmatch(
            definition["AllowedPattern"], definition["Default"]
        )
    if "MaxValue" in definition:
        limits = {"SweepRunDeadlineHours": (1, settings.MAX_DEADLINE_HOURS)}.get(parameter, (0, settings.MAX_DAYS))
        assert (definition["MinValue"], definition["MaxValue"]) == limits


def test_the_planner_runs_on_the_sweep_schedule(template):
    events = _resource(template, PLANNER)["Properties"]["Events"]
    (schedule,) = [event["Properties"] for event in events.values() if event["Type"] == "Schedule"]
    assert schedule["Schedule"] == {"Ref": "SweepSchedule"}
    assert template["Parameters"]["SweepSchedule"]["Default"] == "rate(1 day)"
    assert "Events" not in _resource(template, WORKER)["Properties"]  # its trigger is the mapping below


def test_the_worker_takes_the_queue_a_few_messages_at_a_time_reporting_each_failure(template):
    (mapping,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping" and r["Properties"]["FunctionName"] == {"Ref": WORKER}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["SweepQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "SweepConcurrency"}}
    assert 1 <= mapping["BatchSize"] <= 10
    concurrency = template["Parameters"]["SweepConcurrency"]
    assert (concurrency["Default"], concurrency["MinValue"]) == (5, 2)  # Lambda's MaximumConcurrency minimum is 2


def test_the_queue_outlasts_the_worker_and_parks_repeated_failures_with_an_alarm(template):
    timeout = _resource(template, WORKER)["Properties"]["Timeout"]
    assert timeout > START_BELOW_SECONDS > CONTINUE_BELOW_SECONDS  # a worker can start, then hand on in time
    queue = _resource(template, "SweepQueue")["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * timeout  # AWS's advice for Lambda event sources
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}
    assert 1 < queue["RedrivePolicy"]["maxReceiveCount"] <= 5
    dead_letters = _resource(template, "SweepDeadLetterQueue")["Properties"]
    assert dead_letters["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    alarm = _resource(template, "SweepDeadLetterAlarm")["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["SweepDeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "ApproximateNumberOfMessagesVisible",
        0,
        "GreaterThanThreshold",
    )
    assert alarm["AlarmActions"] == {"Fn::If": ["SweepNotify", [{"Ref": "SweepTopic"}], {"Ref": "AWS::NoValue"}]}


def test_the_runs_table_is_on_demand_with_the_ttl_the_ledger_writes(template):
    table = _resource(template, "SweepRunsTable")["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [("pk", "HASH"), ("sk", "RANGE")]


def test_the_summary_permission_exists_exactly_when_the_topic_does(template):
    policies = _resource(template, WORKER)["Properties"]["Policies"]
    (conditional,) = [policy for policy in policies if "Fn::If" in policy and policy["Fn::If"][0] == "SweepNotify"]
    condition, policy, otherwise = conditional["Fn::If"]
    assert condition == "SweepNotify" and otherwise == {"Ref": "AWS::NoValue"}
    ((template_name, arguments),) = policy.items()
    assert arguments == {"TopicName": {"Fn::GetAtt": ["SweepTopic", "TopicName"]}}
    sam_policies = Path(samtranslator.__file__).parent / "policy_templates_data" / "policy_templates.json"
    definition = json.loads(sam_policies.read_text())["Templates"][template_name]["Definition"]
    actions = {action for statement in definition["Statement"] for action in statement["Action"]}
    assert actions == set(importlib.import_module("handlers.sweep_worker").NOTIFY_IAM_ACTIONS)
    assert not any(
        p.get("Fn::If", [""])[0] == "SweepNotify" for p in _resource(template, PLANNER)["Properties"]["Policies"]
    )
    subscription = _resource(template, "SweepEmailSubscription")
    assert subscription["Condition"] == "SweepNotifyByEmail"
    assert subscription["Properties"]["Endpoint"] == {
        "Fn::If": ["SweepEmailFromDeprecatedParameter", {"Ref": "SweepNotificationEmail"}, {"Ref": "NotificationEmail"}]
    }


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    source = yaml_parse((PROJECT_ROOT / "template.yaml").read_text())
    for resource in source["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name="ap-southeast-1"))
    return translator.translate(copy.deepcopy(source), parameter_values={}, get_managed_policy_map=lambda: {})


@pytest.mark.parametrize(("function", "handler"), [(PLANNER, "sweep_planner"), (WORKER, "sweep_worker")])
def test_deployed_roles_grant_what_the_code_declares_and_only_the_logging_managed_policy(deployed, function, handler):
    role_id = deployed["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = deployed["Resources"][role_id]["Properties"]
    # Not AWSLambdaSQSQueueExecutionRole: it would let the worker read and delete messages of every queue.
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    always = {
        action
        for policy in role["Policies"]
        if "Fn::If" not in policy
        for statement in policy["PolicyDocument"]["Statement"]
        for action in statement["Action"]
    }
    assert always == set(importlib.import_module(f"handlers.{handler}").IAM_ACTIONS)
