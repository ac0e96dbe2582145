"""Each adapter method declares the IAM actions of the AWS calls it sends - checked by running it, not by reading it.

A botocore `before-call` hook records every operation a method sends and answers it with an empty response, so
every method runs without network; the recorded operations, as IAM actions, must be exactly what it declares.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from ecr_governance.aws.dynamodb import DynamoRunLedger
from ecr_governance.aws.ecr import EcrRegistry
from ecr_governance.aws.iam import declared_actions
from ecr_governance.aws.sns import SnsPublisher
from ecr_governance.aws.sqs import SqsQueue
from ecr_governance.enforce.model import RegistryScanning, Repository, ScanningRule
from ecr_governance.errors import GovernanceError
from ecr_governance.notice import Notice
from ecr_governance.sweep.report import RunStart
from ecr_governance.sweep.settings import SweepMode

TOPIC = "arn:aws:sns:ap-southeast-1:123456789012:alerts"
QUEUE = "https://sqs.ap-southeast-1.amazonaws.com/123456789012/sweep"
# Operations whose IAM actions are not named after them (AWS's Service Authorization Reference): a batch send is
# sqs:SendMessage; a transaction is authorized per item (ours: a Put and an Update).
ACTION_OF_OPERATION: dict[str, frozenset[str]] = {
    "ecr:ListImageReferrers": frozenset({"ecr:BatchGetImage"}),
    "sqs:SendMessageBatch": frozenset({"sqs:SendMessage"}),
    "dynamodb:TransactWriteItems": frozenset({"dynamodb:PutItem", "dynamodb:UpdateItem"}),
}
SAMPLE_ARGUMENTS: dict[str, Any] = {
    "name": "team/app",
    "repository_name": "team/app",
    "repository": Repository("team/app", "arn:aws:ecr:ap-southeast-1:123456789012:repository/team/app", "MUTABLE"),
    "digests": ["sha256:" + "a" * 64],
    "include_archived": True,
    "mutability": "IMMUTABLE",
    "exclusion_filters": ("sha256-*",),
    "scanning": RegistryScanning("BASIC", (ScanningRule("SCAN_ON_PUSH", ("*",)),)),
    "policy": {"rules": [{"rulePriority": 1, "description": "x" * 100}]},
    "notice": Notice(subject="s", text="t", bodies={"email": "e"}, attributes={"severity": "HIGH"}),
    "bodies": ["{}"],
    "run": RunStart("run-1", SweepMode.DELETE, datetime(2026, 6, 1, tzinfo=UTC), expected=3),
    "run_id": "run-1",
    "count": 2,
    "unit_id": "repository/team/app",
    "counts": {"deleted": 1},
}


class _Ok:
    status_code = 200
    headers: dict[str, str] = {}


class OperationRecorder:
    """Answers every call of a client with an empty response and remembers it as an IAM action."""

    def __init__(self, client: Any):
        self.client = client
        self.actions: set[str] = set()
        self._prefix = client.meta.service_model.signing_name
        client.meta.events.register_first("before-call.*.*", self)

    def __call__(self, model: Any, **_: Any) -> tuple[_Ok, dict[str, Any]]:
        action = f"{self._prefix}:{model.name}"
        self.actions |= ACTION_OF_OPERATION.get(action, {action})
        return _Ok(), {}


def _adapters() -> Iterator[tuple[str, Any, OperationRecorder]]:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="ap-southeast-1"
    )
    factories = (
        (EcrRegistry, "ecr"),
        (lambda client: SnsPublisher(client, TOPIC), "sns"),
        (lambda client: SqsQueue(client, QUEUE), "sqs"),
        (lambda client: DynamoRunLedger(client, "runs"), "dynamodb"),
    )
    for factory, service in factories:
        recorder = OperationRecorder(session.client(service))
        adapter = factory(recorder.client)
        for name, _function in inspect.getmembers(type(adapter), inspect.isfunction):
            if not name.startswith("_"):
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
    with contextlib.suppress(KeyError, IndexError, TypeError, GovernanceError):
        result = method(**arguments)
        if inspect.isgenerator(result):
            list(result)
    assert recorder.actions, f"{name} sent no AWS request"
    assert recorder.actions == declared_actions(method), name
