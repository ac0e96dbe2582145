"""The sweep's messages: written and read back unchanged; anything malformed is an InvalidEvent, nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from ecr_governance.errors import InvalidEvent
from ecr_governance.sweep.messages import (
    MAX_MESSAGE_BYTES,
    PART_BUDGET_BYTES,
    ContinuationMessage,
    RepositoryMessage,
    continuation_body,
    parse_message,
    parse_sweep_trigger,
    repository_body,
    units_size,
)
from ecr_governance.sweep.plan import PlannedDeletion
from ecr_governance.sweep.settings import SweepMode, SweepRules
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from registry_builders import load_event

PLANNED = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
RULES = SweepRules(SweepMode.DELETE, timedelta(days=14), timedelta(days=30), True)
A, B, C = ("sha256:" + c * 64 for c in "abc")


def continuation() -> ContinuationMessage:
    units = ((PlannedDeletion(A, 10, (B,)), PlannedDeletion(B, 20, (A,))), (PlannedDeletion(C, 0, ()),))
    return ContinuationMessage("run-1", "team/app", RULES, PLANNED, "part-1", units)


def test_both_messages_round_trip():
    repository = RepositoryMessage("run-1", "team-a/service.api", RULES, PLANNED)
    assert parse_message(repository_body(repository)) == repository
    assert parse_message(continuation_body(continuation())) == continuation()
    assert repository.unit_id == "repository/team-a/service.api"
    assert continuation().unit_id == "part/part-1"


def test_fractions_of_days_survive_the_trip():
    rules = SweepRules(min_age=timedelta(seconds=3), min_idle=timedelta(0))
    message = RepositoryMessage("run-1", "team/app", rules, PLANNED)
    assert parse_message(repository_body(message)).rules == rules


def test_units_size_is_what_the_units_add_to_a_body():
    message = continuation()
    without = ContinuationMessage(**{**message.__dict__, "units": ()})
    assert len(continuation_body(message)) - len(continuation_body(without)) == units_size(message.units) - 1


def test_the_sample_events_parse():
    for name in ("repository-messages.json", "continuation.json"):
        for record in load_event(f"sweep/{name}")["Records"]:
            parse_message(record["body"])
    assert parse_sweep_trigger(load_event("sweep/schedule.json")).run_id


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.update(kind="other"), "kind"),
        (lambda d: d.update(version=True), "version"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.pop("runId"), "runId"),
        (lambda d: d.update(runId="x" * 129), "runId"),
        (lambda d: d.update(repository="Team/App"), "repository"),
        (lambda d: d.update(repository="a"), "repository"),
        (lambda d: d["rules"].update(mode="destroy"), "rules.mode"),
        (lambda d: d["rules"].update(minAgeDays=-1), "rules.minAgeDays"),
        (lambda d: d["rules"].update(minAgeDays=float("nan")), "rules.minAgeDays"),
        (lambda d: d["rules"].update(minIdleDays="30"), "rules.minIdleDays"),
        (lambda d: d["rules"].update(minIdleDays=True), "rules.minIdleDays"),
        (lambda d: d["rules"].update(sweepArchived="false"), "rules.sweepArchived"),
        (lambda d: d.update(rules=[]), "rules"),
        (lambda d: d.update(plannedAt="yesterday"), "plannedAt"),
        (lambda d: d.update(units=[]), "units"),
        (lambda d: d["units"][0][0].update(digest="latest"), "digest"),
        (lambda d: d["units"][0][0].update(sizeBytes=-1), "sizeBytes"),
        (lambda d: d["units"][0][0].update(sizeBytes=1.5), "sizeBytes"),
        (lambda d: d["units"][0][0].update(reaches="sha256:..."), "reaches"),
        (lambda d: d["units"][1].append(d["units"][0][0]), "listed twice"),
        (lambda d: d["units"].append([{"digest": A}] * 101), "units[2]"),
    ],
)
def test_each_malformed_field_is_named(change, named):
    document = json.loads(continuation_body(continuation()))
    change(document)
    with pytest.raises(InvalidEvent, match=named.replace("[", r"\[").replace(".", r"\.")):
        parse_message(json.dumps(document))


def test_bodies_that_are_not_json_objects_are_invalid_events():
    for raw in ("", "{", "[]", "null", b"\xff\xfe", "[" * 100_000, 42, None):
        with pytest.raises(InvalidEvent):
            parse_message(raw)


def test_the_planner_runs_on_its_schedule_only():
    with pytest.raises(InvalidEvent, match="schedule"):
        parse_sweep_trigger(load_event("enforce/create-repository.json"))
    with pytest.raises(InvalidEvent, match="id"):
        parse_sweep_trigger({"detail-type": "Scheduled Event", "source": "aws.events", "id": ""})


def test_a_part_filled_to_its_budget_fits_an_sqs_message_with_the_longest_envelope():
    units: list = []
    size = 0
    for i in range(10_000):
        unit = (PlannedDeletion(f"sha256:{i:064x}", 10**12, (f"sha256:{i + 1:064x}",)),)
        size += units_size([unit])
        if size > PART_BUDGET_BYTES:
            break
        units.append(unit)
    longest = ContinuationMessage("r" * 128, "a" * 256, RULES, PLANNED, "p" * 128, tuple(units))
    assert len(units) > 1000
    assert len(continuation_body(longest).encode()) <= MAX_MESSAGE_BYTES


# ---- mutations: whatever a message becomes, parsing raises InvalidEvent or returns a message -------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def mutated_messages(draw):
    document = json.loads(
        draw(
            st.sampled_from(
                [
                    continuation_body(continuation()),
                    repository_body(RepositoryMessage("run-1", "team/app", RULES, PLANNED)),
                ]
            )
        )
    )
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(document))))
        if not path:
            document = draw(JSON_VALUES)
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(("replace", "delete", "add")))
        if action == "replace" or (action == "delete" and isinstance(parent, list)):
            parent[path[-1]] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(JSON_VALUES)
        if not isinstance(document, (dict, list)):
            break
    return json.dumps(document) if draw(st.booleans()) else json.dumps(document)[: draw(st.integers(0, 500))]


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=mutated_messages())
def test_nothing_escapes_but_invalid_event(raw):
    try:
        message = parse_message(raw)
    except InvalidEvent:
        return
    assert isinstance(message, (RepositoryMessage, ContinuationMessage))
    assert (
        parse_message(
            continuation_body(message) if isinstance(message, ContinuationMessage) else repository_body(message)
        )
        == message
    )
