"""The sweep's messages: written and read back unchanged; anything malformed is an InvalidEvent, nothing else."""

from __future__ import annotations

import json

import pytest
from ecr_governance.errors import InvalidEvent
from ecr_governance.sweep.messages import (
    DeadlineMessage,
    RepositoryMessage,
    body,
    parse_message,
    parse_sweep_trigger,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from property_budget import examples
from registry_builders import load_event


def test_every_message_round_trips_and_names_its_unit():
    for message in (RepositoryMessage("run-1", "team/app"), RepositoryMessage("run-1", "team/app", 4)):
        assert parse_message(body(message)) == message
    assert parse_message(body(DeadlineMessage("run-1"))) == DeadlineMessage("run-1")
    assert RepositoryMessage("r", "team/app").unit_id == "repository/team/app"
    assert RepositoryMessage("r", "team/app", 2).unit_id == "repository/team/app/part/2"
    assert RepositoryMessage("r", "team/app", 2).next_part() == RepositoryMessage("r", "team/app", 3)


def test_a_version_1_repository_message_is_still_swept_and_its_rules_ignored():
    old = {
        "kind": "repository",
        "version": 1,
        "runId": "run-0",
        "repository": "team/app",
        "rules": {"mode": "delete", "minAgeDays": 0, "minIdleDays": 0, "sweepArchived": True},
        "plannedAt": "2026-11-28T04:00:00Z",
    }
    assert parse_message(json.dumps(old)) == RepositoryMessage("run-0", "team/app")
    with pytest.raises(InvalidEvent, match="kind"):  # its continuations carried digests: not trusted
        parse_message(json.dumps({**old, "kind": "continuation", "units": [[{"digest": "sha256:" + "a" * 64}]]}))


def test_the_sample_events_parse():
    for name in ("repository-messages.json", "continuation-part.json", "deadline.json"):
        for record in load_event(f"sweep/{name}")["Records"]:
            parse_message(record["body"])
    assert parse_sweep_trigger(load_event("sweep/schedule.json")).run_id


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.update(kind="other"), "kind"),
        (lambda d: d.update(version=True), "version"),
        (lambda d: d.update(version=3), "version"),
        (lambda d: d.pop("runId"), "runId"),
        (lambda d: d.update(runId="x" * 129), "runId"),
        (lambda d: d.update(runId="a\nb"), "runId"),
        (lambda d: d.update(repository="Team/App"), "repository"),
        (lambda d: d.update(repository="a"), "repository"),
        (lambda d: d.update(part=-1), "part"),
        (lambda d: d.update(part=1.5), "part"),
        (lambda d: d.update(part=True), "part"),
    ],
)
def test_each_malformed_field_is_named(change, named):
    document = json.loads(body(RepositoryMessage("run-1", "team/app", 1)))
    change(document)
    with pytest.raises(InvalidEvent, match=named):
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
                    body(RepositoryMessage("run-1", "team/app", part=3)),
                    body(DeadlineMessage("run-1")),
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


@settings(max_examples=examples(500), deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=mutated_messages())
def test_nothing_escapes_but_invalid_event(raw):
    try:
        message = parse_message(raw)
    except InvalidEvent:
        return
    assert isinstance(message, (RepositoryMessage, DeadlineMessage))
    assert parse_message(body(message)) == message
