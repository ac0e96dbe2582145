"""Hypothesis strategies that damage sample events field by field: dropped, nulled, or replaced by numbers, lists,
objects, long strings. Handlers must answer every one with a rejection, never an exception."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

DROP = object()  # with_field(..., DROP): the field is removed
REPLACEMENT_VALUES = st.one_of(
    st.just(DROP),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.text(min_size=3000, max_size=3000),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


def field_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a field or list item of a JSON document."""
    paths = []
    if isinstance(node, dict):
        for key, value in node.items():
            paths.append((*prefix, key))
            paths.extend(field_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths.append((*prefix, index))
            paths.extend(field_paths(value, (*prefix, index)))
    return paths


def with_field(event: Any, path: tuple, value: Any = DROP) -> Any:
    """A copy of `event` whose field at `path` holds `value`, or is removed (DROP)."""
    event = copy.deepcopy(event)
    node = event
    for key in path[:-1]:
        node = node[key]
    if value is DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return event


@st.composite
def mutated_events(draw: Any, samples: list[Any]) -> Any:
    """One of `samples` with one to three of its fields dropped or replaced."""
    event = draw(st.sampled_from(samples))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = field_paths(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        value = draw(REPLACEMENT_VALUES)
        if value is DROP and isinstance(path[-1], int):
            value = None
        event = with_field(event, path, value)
    return event
