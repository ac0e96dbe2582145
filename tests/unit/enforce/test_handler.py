"""EnforceRepositoryFunction's handler, without network: in-memory registry, recording invoker and publisher.

Nothing escapes the handler but AWS errors worth a retry: malformed or foreign events are one `event rejected`
line; a reconcile that runs out of time queues its own continuation; a notice that cannot be sent is not a failure.
"""

from __future__ import annotations

import copy
import importlib

import pytest
from ecr_governance.enforce.events import Provenance, parse_enforcement_trigger
from ecr_governance.enforce.invocation import EnforcementService
from ecr_governance.enforce.service import Enforcer
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import AccessDenied
from ecr_governance_cli.local_invoke import LocalLambdaContext
from enforce_fakes import InMemoryRegistry
from event_mutations import mutated_events
from hypothesis import HealthCheck, given, settings
from property_budget import examples
from registry_builders import load_event

HERE = Provenance("123456789012", "ap-southeast-1")


class RecordingInvoker:
    def __init__(self):
        self.invocations = []

    def invoke_async(self, function_name, payload):
        self.invocations.append((function_name, payload))


class FailingPublisher:
    def __init__(self):
        self.attempts = 0

    def publish(self, notice):
        self.attempts += 1
        raise AccessDenied("access denied: Publish", code="AuthorizationError")


class ShortOnTime(LocalLambdaContext):
    """A context whose remaining time drops below the handler's reserve after a few checks."""

    def __init__(self, checks_left: int):
        super().__init__("EnforceRepositoryFunction", "ap-southeast-1")
        self.checks_left = checks_left

    def get_remaining_time_in_millis(self):
        self.checks_left -= 1
        return 900_000 if self.checks_left > 0 else 1_000


@pytest.fixture
def handler_module():
    """Imported once (the test environment provides region and credentials; sys.modules keeps it)."""
    return importlib.import_module("handlers.enforce_repository")


@pytest.fixture
def wired(handler_module, monkeypatch):
    registry = InMemoryRegistry()
    for i in range(40):
        registry.add(f"team/r{i:02}", "MUTABLE")
    invoker = RecordingInvoker()
    settings = EnforceSettings.from_environ({"RECONCILE_CONCURRENCY": "1"})  # chunks of 4 repositories
    monkeypatch.setattr(handler_module, "service", EnforcementService(Enforcer(registry, settings), settings, invoker))
    monkeypatch.setattr(handler_module.metrics, "namespace", "ECRGovernance")  # the template sets it in Lambda
    return handler_module, registry, invoker


def test_a_reconcile_short_on_time_queues_its_continuation_until_every_repository_is_done(wired):
    module, registry, invoker = wired
    event = load_event("enforce/scheduled-reconcile.json")
    pieces = 0
    while True:
        pieces += 1
        result = module.handler(event, ShortOnTime(checks_left=3))
        assert result["status"] == "done"
        if "continuesAfter" not in result:
            break
        function_arn, event = invoker.invocations[-1]
        assert function_arn.endswith(":function:EnforceRepositoryFunction")
        assert parse_enforcement_trigger(event, HERE).progress.after == result["continuesAfter"]
    assert pieces > 3 and len(invoker.invocations) == pieces - 1
    assert all(r.tag_mutability == "IMMUTABLE" for r in registry.repositories.values())
    assert registry.calls["put_tag_mutability"] == 40  # each repository handled once


def test_a_failed_notice_is_logged_and_counted_not_raised(wired, monkeypatch):
    module, registry, invoker = wired
    publisher = FailingPublisher()
    settings = EnforceSettings.from_environ({})
    service = EnforcementService(Enforcer(registry, settings), settings, invoker, publisher)
    monkeypatch.setattr(module, "service", service)
    result = module.handler(load_event("enforce/create-repository.json") | {}, LocalLambdaContext("F"))
    assert result["status"] == "done" and publisher.attempts == 0  # nothing remediated for a missing repository
    event = copy.deepcopy(load_event("enforce/create-repository.json"))
    event["detail"]["requestParameters"]["repositoryName"] = "team/r01"
    result = module.handler(event, LocalLambdaContext("F"))
    assert result["status"] == "done" and publisher.attempts == 1


def test_an_event_from_another_account_is_rejected_before_any_call(wired):
    module, registry, _ = wired
    event = load_event("enforce/tag-resource.json")
    event["account"] = "999999999999"
    result = module.handler(event, LocalLambdaContext("F"))
    assert result["status"] == "rejected" and "account" in result["reason"]
    assert sum(registry.calls.values()) == 0


SAMPLES = [load_event(f"enforce/{name}") for name in ("create-repository.json", "tag-resource.json")]


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(event=mutated_events(SAMPLES))
def test_mutated_events_never_escape_the_handler(wired, event):
    module, _, _ = wired
    result = module.handler(event, LocalLambdaContext("F"))
    assert result["status"] in {"done", "rejected", "skipped"}
