"""IAM declared once, on the adapter method that needs it (as Cloud Custodian's actions declare `permissions`).

A domain service states what it needs from AWS as a `typing.Protocol` port; the IAM actions a function needs are the
union of what the adapter methods serving its ports declare. The handlers publish that union and the contract tests
compare it with what template.yaml grants, per function.
"""

from __future__ import annotations

import typing
from collections.abc import Callable

IAM_ACTIONS_ATTRIBUTE = "iam_actions"


def requires[F: Callable[..., object]](*actions: str) -> Callable[[F], F]:
    """Mark an adapter method with the IAM actions its AWS call needs."""

    def mark(method: F) -> F:
        setattr(method, IAM_ACTIONS_ATTRIBUTE, frozenset(actions))
        return method

    return mark


def declared_actions(method: object) -> frozenset[str] | None:
    return getattr(method, IAM_ACTIONS_ATTRIBUTE, None)


def actions_for(port: type, adapter: type) -> frozenset[str]:
    """The IAM actions `adapter` needs to serve every method of `port`."""
    actions: set[str] = set()
    for name in sorted(typing.get_protocol_members(port)):
        method = getattr(adapter, name, None)
        if method is None:
            raise TypeError(f"{adapter.__name__} does not implement {port.__name__}.{name}")
        declared = declared_actions(method)
        if declared is None:
            raise TypeError(f"{adapter.__name__}.{name} declares no IAM action (@requires)")
        actions |= declared
    return frozenset(actions)


def actions_declared_by(adapter: type) -> frozenset[str]:
    """Every IAM action the methods `adapter` itself defines declare: for an adapter a library drives (Powertools
    Idempotency calls the persistence layer's methods), where no port of ours lists the methods used."""
    actions: set[str] = set()
    for name, member in vars(adapter).items():
        if not name.startswith("_") and callable(member):
            declared = declared_actions(member)
            if declared is None:
                raise TypeError(f"{adapter.__name__}.{name} declares no IAM action (@requires)")
            actions |= declared
    return frozenset(actions)
