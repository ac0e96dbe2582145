"""What the functions do differently under SAM local (AWS_SAM_LOCAL=true), all in handlers/edge.py: their account
and region from the credentials and AWS_REGION, not SAM's placeholder ARN; an unresolved reference refused in one
line naming the --env-vars file; responses in camelCase whatever runs them."""

from __future__ import annotations

import importlib

import boto3
import pytest
from botocore.stub import Stubber
from ecr_governance.errors import EndpointUnreachable, SettingsError
from ecr_governance_cli.local_invoke import LocalLambdaContext
from handlers import edge
from registry_builders import load_event

SAM_PLACEHOLDER = LocalLambdaContext("Function", "us-east-1")
SAM_PLACEHOLDER.invoked_function_arn = "arn:aws:lambda:us-east-1:012345678912:function:Function"


def test_outside_sam_local_the_account_and_region_are_the_functions_arns(monkeypatch):
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    assert edge.own_account_and_region(SAM_PLACEHOLDER) == ("012345678912", "us-east-1")


def test_under_sam_local_they_come_from_the_credentials_and_aws_region_once(monkeypatch):
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    monkeypatch.setenv("AWS_REGION", "ap-southeast-1")
    sts = boto3.client("sts", region_name="ap-southeast-1")
    stubber = Stubber(sts)
    stubber.add_response("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/x"})
    stubber.activate()
    monkeypatch.setattr("ecr_governance.aws.clients.make_client", lambda service: sts)
    edge._sam_local_account_and_region.cache_clear()
    try:
        assert edge.own_account_and_region(SAM_PLACEHOLDER) == ("123456789012", "ap-southeast-1")
        assert edge.own_account_and_region(SAM_PLACEHOLDER) == ("123456789012", "ap-southeast-1")  # asked once
    finally:
        edge._sam_local_account_and_region.cache_clear()
    stubber.assert_no_pending_responses()


def test_an_unresolved_reference_is_refused_in_one_line_naming_the_env_vars_file():
    environ = {"ALERTS_TOPIC_ARN": "AlertsTopic", "IDEMPOTENCY_TABLE_NAME": "", "GOVERNANCE_ROLE_ARN": "Role.Arn"}
    with pytest.raises(SettingsError) as refused:
        edge.refuse_unresolved_references(environ)
    message = str(refused.value)
    assert message.startswith("ALERTS_TOPIC_ARN='AlertsTopic', GOVERNANCE_ROLE_ARN='Role.Arn': ")
    assert "\n" not in message and "--env-vars .local/sam-local/env.json" in message
    resolved = {"ALERTS_TOPIC_ARN": "arn:aws:sns:ap-southeast-1:123456789012:alerts", "SWEEP_QUEUE_URL": ""}
    edge.refuse_unresolved_references(resolved)  # values, or empty: nothing to say


def test_importing_a_handler_under_sam_local_without_the_env_file_fails_its_cold_start(monkeypatch):
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    monkeypatch.setenv("SWEEP_QUEUE_URL", "SweepQueue")
    with pytest.raises(SettingsError, match="SWEEP_QUEUE_URL='SweepQueue'"):
        importlib.reload(edge)
    monkeypatch.delenv("AWS_SAM_LOCAL")
    importlib.reload(edge)


def test_responses_are_camel_case_and_data_keys_stay():
    @edge.camel_case_response
    def handler(event, context):
        return {"status": "done", "summary": {"non_compliant_after": 1, "CRITICAL": 2}, "kept": {"too young": 3}}

    assert handler({}, None) == {
        "status": "done",
        "summary": {"nonCompliantAfter": 1, "CRITICAL": 2},
        "kept": {"tooYoung": 3},
    }


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_sweep_worker_that_cannot_reach_aws_fails_its_invocation_instead_of_answering_failures(monkeypatch):
    """No AWS call can succeed: every message comes back either way, and a failed invocation says why (an answer
    of batchItemFailures exits 0 and hides it)."""
    worker_module = importlib.import_module("handlers.sweep_worker")

    def unreachable(*args, **kwargs):
        raise EndpointUnreachable("cannot reach the ecr endpoint", code="EndpointConnectionError")

    monkeypatch.setattr(worker_module.worker, "handle", unreachable)
    monkeypatch.setattr(worker_module.metrics, "namespace", "ECRGovernance")
    with pytest.raises(EndpointUnreachable):
        worker_module.handler(load_event("sweep/repository-messages.json"), LocalLambdaContext("SweepWorkerFunction"))
