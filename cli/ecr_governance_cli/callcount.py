"""Counting the ECR requests a piece of code sends, for the demo, the tests and the API-call benchmark.

A botocore `before-call.ecr` hook counts one per request actually sent (pagination included), by operation.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import botocore.session

WRITE_PREFIXES = ("Put", "Delete", "Batch", "Create", "Tag", "Untag", "Set", "Start")


class EcrCallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    @property
    def writes(self) -> Counter[str]:
        return Counter({name: count for name, count in self.calls.items() if name.startswith(WRITE_PREFIXES)})

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.ecr", self)

    def detach(self, client: Any) -> None:
        client.meta.events.unregister("before-call.ecr", self)


@contextlib.contextmanager
def counting_new_clients(counter: EcrCallCounter) -> Iterator[EcrCallCounter]:
    """Attach the counter to every botocore client created inside the block - e.g. the one a handler module builds
    when it is imported - without touching the code under measurement."""
    original = botocore.session.Session.create_client

    def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        counter.attach(client)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        botocore.session.Session.create_client = original  # type: ignore[method-assign]
