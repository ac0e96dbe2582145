"""Every port, held to what serves it: each `typing.Protocol` under functions/ecr_governance is found by itself, and
every adapter in ecr_governance.aws, every in-memory fake (tests/*_fakes.py, test modules, the CLI's stand-ins) and
every domain class that serves it must accept what the port's callers pass: each member present, each parameter by
the same name and kind in the same place, a default wherever the port has one, and any extra parameter optional.

A class serves a port when it defines every member of it (structurally, as a type checker sees it). A class that
defines most of a port's members but not all is a fake that drifted, and fails. A port that no adapter or no fake
serves is listed in UNSERVED with the reason, so the gap stays visible; a gap that closes fails until it is removed.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import ecr_governance
import pytest

TESTS = Path(__file__).resolve().parents[1]
CLI_PACKAGE = "ecr_governance_cli"
ADAPTERS = "ecr_governance.aws."
KIND = inspect.Parameter
# Ports some side does not serve, with the reason. Each entry is (port, "adapter" | "fake").
UNSERVED: dict[tuple[str, str], str] = {
    ("ecr_governance.findings.redrive.MessageSource", "fake"): "the redrive is tested on the emulator's SQS "
    "(tests/integration), through the adapter",
    ("ecr_governance.findings.redrive.EventSender", "fake"): "the redrive is tested on the emulator's SQS "
    "(tests/integration), through the adapter",
}
# Classes that define a port's member names for another purpose (not an implementation of the port).
NOT_IMPLEMENTATIONS: dict[tuple[str, str], str] = {
    ("ecr_governance.findings.ledger.GuardedPublisher", "ecr_governance.notice.NoticePublisher"): (
        "GuardedPublisher.publish publishes a notice under a ledger claim; it wraps a NoticePublisher, it is not one"
    ),
    ("ecr_governance.enforce.model.RegistryCheck", "ecr_governance.organization.membership.MemberAccess"): (
        "RegistryCheck.check is a field (a registry aspect's Check), not a member's reachability"
    ),
    ("ecr_governance.location.Location", "ecr_governance.organization.membership.MemberAccess"): (
        "Location.check checks an event's account, region and partition, not a member's reachability"
    ),
    ("ecr_governance.aws.runs_table.DynamoRunTally", "ecr_governance.sweep.ledger.RunLedger"): (
        "DynamoRunTally is the runs table's shared part (RunTally); DynamoRunLedger, its subclass, adds the sweep's "
        "delete calls and serves RunLedger"
    ),
}


@dataclass(frozen=True)
class Implementer:
    qualified_name: str
    side: str  # "adapter" (ecr_governance.aws), "fake" (tests, CLI stand-ins) or "domain"
    cls: type


def _import_package(package: ModuleType) -> Iterator[ModuleType]:
    yield package
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if not info.name.endswith(".__main__"):  # running it is the console script
            yield importlib.import_module(info.name)


def _import_test_module(path: Path) -> ModuleType:
    name = "conformance_" + "_".join(path.relative_to(TESTS).with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _classes(module: ModuleType) -> Iterator[type]:
    for value in vars(module).values():
        if inspect.isclass(value) and value.__module__ == module.__name__:
            yield value


@cache
def ports() -> dict[str, type]:
    found: dict[str, type] = {}
    for module in _import_package(ecr_governance):
        for cls in _classes(module):
            if typing.is_protocol(cls):
                found[f"{module.__name__}.{cls.__qualname__}"] = cls
    return found


def _side(module_name: str) -> str:
    if module_name.startswith(ADAPTERS):
        return "adapter"
    if module_name.startswith(("ecr_governance.", "handlers.")):
        return "domain"
    return "fake"


@cache
def implementers() -> tuple[Implementer, ...]:
    """Every class of the functions, the CLI and the tests (module level) that is not itself a port."""
    modules = [*_import_package(ecr_governance), *_import_package(importlib.import_module("handlers"))]
    modules += _import_package(importlib.import_module(CLI_PACKAGE))
    test_files = sorted({*TESTS.glob("*.py"), *TESTS.glob("unit/**/test_*.py"), *TESTS.glob("integration/test_*.py")})
    modules += [
        _import_test_module(path) for path in test_files if path.name not in ("conftest.py", Path(__file__).name)
    ]
    found = []
    for module in modules:
        for cls in _classes(module):
            if not typing.is_protocol(cls):
                name = f"{module.__name__}.{cls.__qualname__}"
                found.append(Implementer(name, _side(module.__name__), cls))
    return tuple(found)


def _defines(cls: type, member: str) -> bool:
    return any(member in vars(klass) or member in getattr(klass, "__annotations__", {}) for klass in cls.__mro__[:-1])


def serving(port_name: str) -> tuple[list[Implementer], list[Implementer]]:
    """(the classes that serve the port, those that define most of its members but not all)."""
    members = typing.get_protocol_members(ports()[port_name])
    full, partial = [], []
    for implementer in implementers():
        if (implementer.qualified_name, port_name) in NOT_IMPLEMENTATIONS:
            continue
        defined = {member for member in members if _defines(implementer.cls, member)}
        if defined == members:
            full.append(implementer)
        elif len(defined) >= 2 and len(defined) * 2 > len(members):
            partial.append(implementer)
    return full, partial


def _callable_parameters(owner: type, member: str) -> list[inspect.Parameter] | None:
    """The parameters a caller passes (self dropped), or None for a non-callable member (an attribute)."""
    static = inspect.getattr_static(owner, member, None)
    if isinstance(static, property) or static is None or not callable(getattr(owner, member)):
        return None
    parameters = list(inspect.signature(getattr(owner, member)).parameters.values())
    if not isinstance(static, (staticmethod, classmethod)):
        parameters = parameters[1:]
    return parameters


def incompatibilities(port: type, cls: type) -> list[str]:
    """Why a caller of the port could not call the class the same way (empty when it can)."""
    problems = []
    for member in sorted(typing.get_protocol_members(port)):
        expected = _callable_parameters(port, member)
        actual = _callable_parameters(cls, member)
        if expected is None or actual is None:
            if (expected is None) != (actual is None):
                problems.append(f"{member}: a method on one side, an attribute on the other")
            continue
        problems += [f"{member}: {problem}" for problem in _parameter_problems(expected, actual)]
    return problems


def _parameter_problems(expected: list[inspect.Parameter], actual: list[inspect.Parameter]) -> list[str]:
    by_name = {parameter.name: parameter for parameter in actual}
    takes_any_keyword = any(parameter.kind is KIND.VAR_KEYWORD for parameter in actual)
    problems = []
    for index, wanted in enumerate(expected):
        if wanted.kind in (KIND.VAR_POSITIONAL, KIND.VAR_KEYWORD):
            if not any(parameter.kind is wanted.kind for parameter in actual):
                problems.append(f"takes no {wanted}")
        elif wanted.name in by_name:
            problems += _mismatches(wanted, index, by_name[wanted.name], actual)
        elif not (takes_any_keyword and wanted.kind is KIND.KEYWORD_ONLY):
            problems.append(f"has no parameter {wanted.name!r}")
    wanted_names = {parameter.name for parameter in expected}
    for extra in actual:
        required = extra.default is KIND.empty and extra.kind not in (KIND.VAR_POSITIONAL, KIND.VAR_KEYWORD)
        if extra.name not in wanted_names and required:
            problems.append(f"requires {extra.name!r}, which the port never passes")
    return problems


def _mismatches(
    wanted: inspect.Parameter, index: int, given: inspect.Parameter, actual: list[inspect.Parameter]
) -> list[str]:
    """How the parameter a port's caller passes differs in the implementation (same name)."""
    positional = (KIND.POSITIONAL_ONLY, KIND.POSITIONAL_OR_KEYWORD)
    problems = []
    if wanted.kind in positional and (given.kind not in positional or actual.index(given) != index):
        problems.append(f"{wanted.name!r} is not positional parameter {index + 1}")
    if wanted.kind is KIND.KEYWORD_ONLY and given.kind not in (KIND.KEYWORD_ONLY, KIND.POSITIONAL_OR_KEYWORD):
        problems.append(f"{wanted.name!r} cannot be passed by keyword")
    if wanted.default is not KIND.empty and given.default is KIND.empty:
        problems.append(f"{wanted.name!r} is optional in the port, required here")
    return problems


# ---- the checker itself ----------------------------------------------------------------------------------------
class _Port(typing.Protocol):
    def read(self, name: str, limit: int = 10, *, strict: bool = False) -> list[str]: ...


class _Conforming:
    def read(self, name, limit=10, *, strict=False, trace=None):
        return []


class _Drifted:
    def read(self, limit, name, strict, trace):
        return []


def test_the_checker_accepts_a_conforming_class_and_names_each_fault_of_a_drifted_one():
    assert incompatibilities(_Port, _Conforming) == []
    assert incompatibilities(_Port, _Drifted) == [
        "read: 'name' is not positional parameter 1",
        "read: 'limit' is not positional parameter 2",
        "read: 'limit' is optional in the port, required here",
        "read: 'strict' is optional in the port, required here",
        "read: requires 'trace', which the port never passes",
    ]


def test_ports_are_found_in_every_room():
    rooms = {name.split(".")[1] for name in ports()}
    assert {"enforce", "findings", "sweep", "lifecycle", "organization"} <= rooms, rooms


# ---- every port ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("port_name", sorted(ports()))
def test_every_class_that_serves_the_port_accepts_what_its_callers_pass(port_name: str) -> None:
    full, partial = serving(port_name)
    assert [implementer.qualified_name for implementer in partial] == [], "a fake or adapter lost a member"
    faults = {
        implementer.qualified_name: problems
        for implementer in full
        if (problems := incompatibilities(ports()[port_name], implementer.cls))
    }
    assert faults == {}
    sides = {implementer.side for implementer in full}
    gaps = {side for side in ("adapter", "fake") if side not in sides}
    listed = {side for (port, side) in UNSERVED if port == port_name}
    assert gaps == listed, f"served by {sorted(i.qualified_name for i in full)}: update UNSERVED"


def test_the_lists_of_exceptions_name_real_ports_and_classes() -> None:
    assert {port for port, _ in UNSERVED} <= set(ports())
    names = {implementer.qualified_name for implementer in implementers()}
    for cls, port in NOT_IMPLEMENTATIONS:
        assert port in ports() and cls in names, (cls, port)


def test_conformance_reaches_every_adapter_module() -> None:
    """Each adapter module with a class serves some port (or is a helper the list below names)."""
    # The client factory, the error translator, IAM declarations, Powertools' idempotency wiring (a handler
    # decorator) and the caller's account the handlers' edge asks under SAM local: no port, the domain never sees them.
    helpers = {
        "ecr_governance.aws.clients",
        "ecr_governance.aws.errors",
        "ecr_governance.aws.iam",
        "ecr_governance.aws.idempotency",
        "ecr_governance.aws.sts",
    }
    serving_modules = {
        implementer.qualified_name.rpartition(".")[0]
        for port_name in ports()
        for implementer in serving(port_name)[0]
        if implementer.side == "adapter"
    }
    adapter_modules = {i.qualified_name.rpartition(".")[0] for i in implementers() if i.side == "adapter"}
    assert adapter_modules - serving_modules - helpers == set()
