"""Every handler, fed its own sample events damaged field by field (dropped, null, numbers, lists, objects, long
strings): it rejects them in one line or hands a well-formed one to its service - no exception escapes the edge.

The services are replaced by a stand-in that raises `HandedOver`, so the property is about the edge alone (the
services are tested on their own, against fakes and the emulator). Enforcement's handler runs the same property with
its real service over an in-memory registry (tests/unit/enforce/test_handler.py); here it gets every sample."""

from __future__ import annotations

import importlib

import pytest
from ecr_governance_cli.local_invoke import LocalLambdaContext
from event_mutations import mutated_events
from hypothesis import HealthCheck, given, settings
from property_budget import examples
from registry_builders import EVENTS_DIR, load_event


class HandedOver(Exception):
    """The event passed the edge and reached the service."""


class Service:
    """Stands in for any service object: whatever the handler calls on it hands the event over."""

    def __call__(self, *args, **kwargs):
        raise HandedOver

    def __getattr__(self, name):
        return self


def samples(folder: str, pattern: str = "*.json", but: str = "\0") -> list:
    paths = sorted(path for path in (EVENTS_DIR / folder).glob(pattern) if not path.name.startswith(but))
    return [load_event(f"{folder}/{path.name}") for path in paths]


# handler module -> (its sample events, the module attribute that holds its service)
HANDLERS = {
    "handlers.enforce_repository": (samples("enforce"), "service"),
    "handlers.scan_findings": (samples("findings", but="inspector2-finding"), "handle"),
    # Its SQS batches; the bare finding event is in the list too, as a batch it is not (a one-line rejection).
    "handlers.inspector_findings": (samples("findings", "inspector2-finding*.json"), "alerter"),
    "handlers.sweep_planner": ([load_event("sweep/schedule.json")], "planner"),
    "handlers.sweep_worker": (
        [load_event(f"sweep/{name}.json") for name in ("repository-messages", "continuation-part", "deadline")],
        "worker",
    ),
}
ANSWERS = {"done", "rejected", "skipped", "scan_not_completed"}


@pytest.fixture
def edge(monkeypatch, request):
    module = importlib.import_module(request.param)
    monkeypatch.setattr(module, HANDLERS[request.param][1], Service())
    monkeypatch.setattr(module.metrics, "namespace", "ECRGovernance")  # the template sets it in Lambda
    return module


def _run(module, event):
    try:
        answer = module.handler(event, LocalLambdaContext("Function", "ap-southeast-1"))
    except HandedOver:
        return
    if "batchItemFailures" in answer:  # an SQS batch: failures are reported per message, never raised
        return
    assert answer["status"] in ANSWERS, answer


def _edge_test(module_name: str):
    events, _ = HANDLERS[module_name]

    @pytest.mark.parametrize("edge", [module_name], indirect=True)
    @settings(
        max_examples=examples(150),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(event=mutated_events(events))
    def test(edge, event):
        _run(edge, event)

    return test


test_enforcement_edge = _edge_test("handlers.enforce_repository")
test_scan_findings_edge = _edge_test("handlers.scan_findings")
test_inspector_findings_edge = _edge_test("handlers.inspector_findings")
test_sweep_planner_edge = _edge_test("handlers.sweep_planner")
test_sweep_worker_edge = _edge_test("handlers.sweep_worker")


@pytest.mark.parametrize("edge", sorted(HANDLERS), indirect=True)
def test_the_undamaged_samples_pass_the_edge(edge):
    for event in HANDLERS[edge.__name__][0]:
        _run(edge, event)
