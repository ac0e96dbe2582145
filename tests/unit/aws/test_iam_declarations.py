"""Each adapter method declares the IAM actions of the AWS calls it sends - checked by running it, not by reading it.

A botocore `before-call` hook records every operation a method sends and answers it with an empty response, so
every method runs without network; the recorded operations, as IAM actions, must be exactly what it declares.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError
from ecr_governance.aws.alert_ledger import DynamoAlertLedger
from ecr_governance.aws.cloudtrail import CloudTrailEvents
from ecr_governance.aws.dynamodb import DynamoRunLedger
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.failures_queue import FailuresQueue
from ecr_governance.aws.iam import actions_declared_by, declared_actions
from ecr_governance.aws.idempotency import IdempotencyTable
from ecr_governance.aws.inspector import InspectorUsage
from ecr_governance.aws.lambda_invoke import LambdaInvoker
from ecr_governance.aws.organizations import OrganizationsDirectory
from ecr_governance.aws.securityhub import SecurityHubImporter
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.sqs import FifoWorkQueue, SqsQueue
from ecr_governance.aws.ssm import SsmSuppressions
from ecr_governance.aws.tagging import TaggingApi
from ecr_governance.enforce.registry_model import CreationTemplate
from ecr_governance.enforce.scanning import RegistryScanning, ScanningRule
from ecr_governance.errors import GovernanceError
from ecr_governance.findings.ledger import EntryState, LedgerEntry
from ecr_governance.findings.redrive import QueuedMessage
from ecr_governance.notice import Notice
from ecr_governance.organization.work import WorkMessage
from ecr_governance.repositories import Repository
from ecr_governance.sweep.ledger import DeletionCall, RunStart, UnitRef
from ecr_governance.sweep.plan import PlannedDeletion
from ecr_governance.sweep.settings import SweepMode
from findings_builders import asff_documents

TOPIC = "arn:aws:sns:ap-southeast-1:123456789012:alerts"
QUEUE = "https://sqs.ap-southeast-1.amazonaws.com/123456789012/sweep"
# Operations whose IAM actions are not named after them (AWS's Service Authorization Reference): a batch send is
# sqs:SendMessage; a transaction is authorized per item (TRANSACTION_ITEM_ACTIONS); Invoke is lambda:InvokeFunction.
ACTION_OF_OPERATION: dict[str, frozenset[str]] = {
    "ecr:ListImageReferrers": frozenset({"ecr:BatchGetImage"}),
    "sqs:SendMessageBatch": frozenset({"sqs:SendMessage"}),
    "lambda:Invoke": frozenset({"lambda:InvokeFunction"}),
    # A creation template with a lifecycle policy is authorized as the repositories it creates (ECR's user guide);
    # the first one creates ECR's service-linked role for templates.
    "ecr:CreateRepositoryCreationTemplate": frozenset(
        {
            "ecr:CreateRepositoryCreationTemplate",
            "ecr:CreateRepository",
            "ecr:PutLifecyclePolicy",
            "iam:CreateServiceLinkedRole",
        }
    ),
    "ecr:UpdateRepositoryCreationTemplate": frozenset(
        {"ecr:UpdateRepositoryCreationTemplate", "ecr:CreateRepository", "ecr:PutLifecyclePolicy"}
    ),
}
TRANSACTION_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Services whose IAM prefix differs from their signing name.
IAM_PREFIX_OF_SIGNING_NAME = {"tagging": "tag"}
SAMPLE_ARGUMENTS: dict[str, Any] = {
    "name": "team/app",
    "repository_name": "team/app",
    "repository": Repository("team/app", "arn:aws:ecr:ap-southeast-1:123456789012:repository/team/app", "MUTABLE"),
    "digests": ["sha256:" + "a" * 64],
    "repository_names": ["team/app"],
    "include_archived": True,
    "mutability": "IMMUTABLE",
    "exclusion_filters": ("sha256-*",),
    "scanning": RegistryScanning("BASIC", (ScanningRule("SCAN_ON_PUSH", ("*",)),)),
    "policy": {"rules": [{"rulePriority": 1, "description": "x" * 100}]},
    "tag_key": "ecr-governance:exempt",
    "function_name": "arn:aws:lambda:ap-southeast-1:123456789012:function:f",
    "payload": {"detail": {}},
    "notice": Notice(subject="s", text="t", bodies={"email": "e"}, attributes={"severity": "HIGH"}),
    "image_digest": "sha256:" + "b" * 64,
    "digest": "sha256:" + "b" * 64,
    "findings": asff_documents(1),
    # Powertools Idempotency's persistence methods: the payload, the function's result, the failure.
    "data": {"repository": "team/app", "digest": "sha256:" + "b" * 64},
    "result": {"status": "alerted"},
    "exception": RuntimeError("publish failed"),
    "remaining_time_in_millis": 60_000,
    "bodies": ["{}"],
    "run": RunStart(
        "run-1",
        SweepMode.DELETE,
        datetime(2026, 6, 1, tzinfo=UTC),
        datetime(2026, 6, 1, 6, tzinfo=UTC),
        (UnitRef("repository/team/app", "team/app"),),
    ),
    "run_id": "run-1",
    "kind": "reconcile",
    "unit": UnitRef("repository/team/app/part/1", "team/app"),
    "units": [UnitRef("repository/team/app", "team/app")],
    "call": DeletionCall(
        "call-1", "repository/team/app", "team/app", (PlannedDeletion("sha256:" + "a" * 64, 1, "standard"),)
    ),
    "call_id": "call-1",
    "deleted": [PlannedDeletion("sha256:" + "a" * 64, 1, "standard")],
    "now": datetime(2026, 6, 1, tzinfo=UTC),
    "closing": False,
    "counts": {"examined": 1},
    "account_id": "123456789012",
    "since": datetime(2026, 5, 1, tzinfo=UTC),
    "delay_seconds": 900,
    "parents": ["ou-ab12-cdefghij"],
    "messages": [WorkMessage("111111111111-0", "event-1", "{}")],
    # The alert ledger and Security Hub's read-back.
    "entries": [LedgerEntry("team/app@sha256:" + "b" * 64, "vulnerability#CVE-1", EntryState.ACTIVE, "2026-11-20")],
    "owner": "scan:event-1",
    "product_arn": "arn:aws:securityhub:ap-southeast-1:123456789012:product/123456789012/default",
    "resource_id": "arn:aws:ecr:ap-southeast-1:123456789012:repository/team/app/sha256:" + "b" * 64,
    "generator_prefix": "ecr-governance/basic-scan/",
    # A failures queue being redriven.
    "max_messages": 10,
    "hold_seconds": 60,
    "message": QueuedMessage("m-1", "receipt-1", "{}"),
    "body": "{}",
    "template": CreationTemplate("ROOT", ("CREATE_ON_PUSH",), "IMMUTABLE", lifecycle_policy='{"rules": []}'),
    "principal_arn": "arn:aws:iam::123456789012:role/scanner",
    "max_events": 10,
}


class _Ok:
    status_code = 200
    headers: dict[str, str] = {}


class OperationRecorder:
    """Answers every call of a client with an empty response and remembers it as an IAM action."""

    def __init__(self, client: Any):
        self.client = client
        self.actions: set[str] = set()
        signing_name = client.meta.service_model.signing_name
        self._prefix = IAM_PREFIX_OF_SIGNING_NAME.get(signing_name, signing_name)
        client.meta.events.register_first("before-call.*.*", self)

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[_Ok, dict[str, Any]]:
        action = f"{self._prefix}:{model.name}"
        if action == "dynamodb:TransactWriteItems":
            items = json.loads(params["body"])["TransactItems"]  # the serialized request
            self.actions |= {TRANSACTION_ITEM_ACTIONS[kind] for item in items for kind in item}
        else:
            self.actions |= ACTION_OF_OPERATION.get(action, {action})
        return _Ok(), {}


def _adapters() -> Iterator[tuple[str, Any, OperationRecorder]]:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="ap-southeast-1"
    )
    factories = (
        (EcrRegistry, "ecr"),
        (lambda client: SnsPublisher(client, TOPIC), "sns"),
        (lambda client: SsmSuppressions(client, "/ecr-governance/suppressions", max_age_seconds=0), "ssm"),
        (SecurityHubImporter, "securityhub"),
        (lambda client: DynamoAlertLedger(client, "alert-ledger", retention_seconds=86400), "dynamodb"),
        (TaggingApi, "resourcegroupstaggingapi"),
        (LambdaInvoker, "lambda"),
        (lambda client: SqsQueue(client, QUEUE), "sqs"),
        (lambda client: DynamoRunLedger(client, "runs"), "dynamodb"),
        (InspectorUsage, "inspector2"),
        (lambda client: FailuresQueue(client, QUEUE), "sqs"),
        (OrganizationsDirectory, "organizations"),
        (lambda client: FifoWorkQueue(client, QUEUE + ".fifo"), "sqs"),
        (CloudTrailEvents, "cloudtrail"),
    )
    for factory, service in factories:
        recorder = OperationRecorder(session.client(service))
        adapter = factory(recorder.client)
        # The methods the adapter class itself defines: a library base class's bookkeeping sends nothing.
        for name, member in vars(type(adapter)).items():
            if inspect.isfunction(member) and not name.startswith("_"):
                yield f"{type(adapter).__name__}.{name}", getattr(adapter, name), recorder


ADAPTER_METHODS = list(_adapters())


def test_every_public_adapter_method_declares_its_iam_actions():
    undeclared = [name for name, method, _ in ADAPTER_METHODS if declared_actions(method) is None]
    assert undeclared == []


@pytest.mark.parametrize(("name", "method", "recorder"), ADAPTER_METHODS, ids=[m[0] for m in ADAPTER_METHODS])
def test_each_adapter_method_sends_exactly_the_operations_it_declares(name, method, recorder):
    recorder.actions.clear()
    arguments = {
        parameter: SAMPLE_ARGUMENTS[parameter]
        for parameter in inspect.signature(method).parameters
        if parameter in SAMPLE_ARGUMENTS
    }
    # Empty answers make some methods fail while reading them: the request was recorded before that.
    with contextlib.suppress(KeyError, IndexError, TypeError, GovernanceError, IdempotencyItemNotFoundError):
        result = method(**arguments)
        if inspect.isgenerator(result):
            list(result)
    assert recorder.actions, f"{name} sent no AWS request"
    assert recorder.actions == declared_actions(method), name


def test_the_idempotency_tables_declaration_covers_every_call_powertools_sends():
    """Powertools Idempotency drives the persistence layer (claim, record, release, read back): run each of its
    calls through the recorder and compare with what IdempotencyTable.persistence_layer declares."""
    recorder = OperationRecorder(boto3.session.Session(region_name="ap-southeast-1").client("dynamodb"))
    layer = IdempotencyTable(recorder.client, "idempotency").persistence_layer()
    layer.configure(IdempotencyConfig(event_key_jmespath="digest"), function_name="handlers.scan_findings.handle")
    data = SAMPLE_ARGUMENTS["data"]
    layer.save_inprogress(data, remaining_time_in_millis=60_000)
    layer.save_success(data, result={"status": "alerted"})
    layer.delete_record(data, exception=RuntimeError("publish failed"))
    with contextlib.suppress(IdempotencyItemNotFoundError):
        layer.get_record(data)
    assert recorder.actions == declared_actions(IdempotencyTable.persistence_layer)


def test_actions_declared_by_an_adapter_a_library_drives_are_its_own_methods_union():
    assert actions_declared_by(IdempotencyTable) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
