"""Reading settings from the environment: the helpers every capability's settings object uses.

Each capability has one typed, frozen settings object parsed once (at the handler's cold start, or by the CLI);
a bad value raises SettingsError naming the environment variable, so the function fails to start with that line.
`SettingDoc` lists say, per capability, which variable maps to which template Parameter (contract tests and the
README read them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ecr_governance.errors import SettingsError

Environ = Mapping[str, str]


@dataclass(frozen=True)
class SettingDoc:
    env: str
    parameter: str
    default: str
    doc: str


def text_setting(environ: Environ, name: str, default: str) -> str:
    return environ.get(name, default).strip()


def list_setting(environ: Environ, name: str, default: str) -> tuple[str, ...]:
    """A comma-separated list; blanks around items and empty items are ignored."""
    return tuple(item.strip() for item in environ.get(name, default).split(",") if item.strip())


def enum_setting[E: StrEnum](
    environ: Environ, name: str, default: str, enum: type[E], allowed: tuple[E, ...] | None = None
) -> E:
    allowed = tuple(enum) if allowed is None else allowed
    raw = text_setting(environ, name, default)
    try:
        value = enum(raw)
    except ValueError:
        value = None
    if value not in allowed:
        choices = ", ".join(str(choice) for choice in allowed)
        raise SettingsError(f"{name}={raw!r} is not valid: expected one of {choices}")
    return value


def bool_setting(environ: Environ, name: str, default: str) -> bool:
    raw = text_setting(environ, name, default).lower()
    if raw not in ("true", "false"):
        raise SettingsError(f"{name}={raw!r} is not valid: expected true or false")
    return raw == "true"


@dataclass(frozen=True)
class _Range[N: (int, float)]:
    parse: Callable[[str], N]
    minimum: N
    maximum: N
    kind: str


def _number_setting[N: (int, float)](environ: Environ, name: str, default: str, bounds: _Range[N]) -> N:
    parse, minimum, maximum, kind = bounds.parse, bounds.minimum, bounds.maximum, bounds.kind
    raw = text_setting(environ, name, default)
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:  # also refuses NaN
        raise SettingsError(f"{name}={raw!r} is not valid: expected {kind} from {minimum} to {maximum}")
    return value


def int_setting(environ: Environ, name: str, default: str, minimum: int, maximum: int) -> int:
    return _number_setting(environ, name, default, _Range(int, minimum, maximum, "a whole number"))


def float_setting(environ: Environ, name: str, default: str, minimum: float, maximum: float) -> float:
    return _number_setting(environ, name, default, _Range(float, minimum, maximum, "a number"))


def arn_setting(environ: Environ, name: str, service: str | None = None) -> str:
    """An ARN or empty (the feature is off); with `service`, the ARN must belong to that service."""
    raw = text_setting(environ, name, "")
    if not raw:
        return ""
    parts = raw.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or (service is not None and parts[2] != service):
        expected = f"an {service} ARN" if service else "an ARN"
        raise SettingsError(f"{name}={raw!r} is not valid: expected {expected} (arn:aws:{service or '...'}:...)")
    return raw
