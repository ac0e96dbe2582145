"""Reading settings from the environment: each setting said once, and the helpers every capability's settings
object reads it with.

A `SettingDoc` is the one place a setting is written down: its environment variable, the template Parameter that
feeds it, its default, the values it allows and its doc line. The settings objects read through it (the default a
reader falls back to is the doc's), the contract tests hold template.yaml's Parameters to it (Default,
AllowedValues, AllowedPattern, MinValue/MaxValue, Description), and docs/parameters.md is generated from it
(`python -m ecr_governance_cli.parameter_reference`).

Each capability has one typed, frozen settings object parsed once (at the handler's cold start, or by the CLI);
a bad value raises SettingsError naming the environment variable, so the function fails to start with that line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ecr_governance.errors import SettingsError

Environ = Mapping[str, str]
BOOLEAN = ("true", "false")
_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")


@dataclass(frozen=True)
class SettingDoc:
    """One setting. `env` is empty for a template-only Parameter (nothing in the code reads it); `parameter` is the
    template Parameter, or a parenthesized phrase when the template sets the variable from its own resources."""

    env: str
    parameter: str
    default: str
    doc: str  # Markdown, one paragraph: the parameter reference's text; `description` is the template's
    allowed: tuple[str, ...] = ()  # the Parameter's AllowedValues (and all the code accepts)
    minimum: float | None = None  # a number's bounds: the code's, and MinValue/MaxValue of a Number Parameter
    maximum: float | None = None
    pattern: str = ""  # the Parameter's AllowedPattern
    unset: str | None = None  # what the code reads when the variable is absent, if not `default`
    feeds: str = ""  # how the template derives the variable from the Parameter, when it is not `!Ref` of it
    replaces: str = ""  # a deprecated Parameter that still decides the variable when it is set

    @property
    def has_parameter(self) -> bool:
        return not self.parameter.startswith("(")

    @property
    def absent(self) -> str:
        """The value read when the variable is not set."""
        return self.default if self.unset is None else self.unset

    @property
    def description(self) -> str:
        """The doc as plain text (no Markdown): the template Parameter's Description."""
        return _MARKDOWN_LINK.sub(r"\1", self.doc).replace("`", "")


def text_setting(environ: Environ, doc: SettingDoc) -> str:
    return environ.get(doc.env, doc.absent).strip()


def list_setting(environ: Environ, doc: SettingDoc) -> tuple[str, ...]:
    """A comma-separated list; blanks around items and empty items are ignored."""
    return tuple(item.strip() for item in environ.get(doc.env, doc.absent).split(",") if item.strip())


def enum_setting[E: StrEnum](environ: Environ, doc: SettingDoc, enum: type[E]) -> E:
    """One of the enum's values that the doc allows (all of them when it lists none)."""
    allowed = tuple(value for value in enum if not doc.allowed or value in doc.allowed)
    name, raw = doc.env, text_setting(environ, doc)
    try:
        value = enum(raw)
    except ValueError:
        value = None
    if value not in allowed:
        choices = ", ".join(str(choice) for choice in allowed)
        raise SettingsError(f"{name}={raw!r} is not valid: expected one of {choices}")
    return value


def bool_setting(environ: Environ, doc: SettingDoc) -> bool:
    name, raw = doc.env, text_setting(environ, doc).lower()
    if raw not in ("true", "false"):
        raise SettingsError(f"{name}={raw!r} is not valid: expected true or false")
    return raw == "true"


@dataclass(frozen=True)
class _Range[N: (int, float)]:
    parse: Callable[[str], N]
    minimum: N
    maximum: N
    kind: str


def _number_setting[N: (int, float)](environ: Environ, doc: SettingDoc, bounds: _Range[N]) -> N:
    parse, minimum, maximum, kind = bounds.parse, bounds.minimum, bounds.maximum, bounds.kind
    name, raw = doc.env, text_setting(environ, doc)
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:  # also refuses NaN
        raise SettingsError(f"{name}={raw!r} is not valid: expected {kind} from {minimum} to {maximum}")
    return value


def int_setting(environ: Environ, doc: SettingDoc) -> int:
    minimum, maximum = _bounds(doc)
    return _number_setting(environ, doc, _Range(int, int(minimum), int(maximum), "a whole number"))


def float_setting(environ: Environ, doc: SettingDoc) -> float:
    minimum, maximum = _bounds(doc)
    return _number_setting(environ, doc, _Range(float, minimum, maximum, "a number"))


def _bounds(doc: SettingDoc) -> tuple[float, float]:
    if doc.minimum is None or doc.maximum is None:
        raise SettingsError(f"{doc.env}: a number setting needs its bounds in its SettingDoc")
    return doc.minimum, doc.maximum


def arn_setting(environ: Environ, doc: SettingDoc, service: str | None = None) -> str:
    """An ARN or empty (the feature is off); with `service`, the ARN must belong to that service."""
    name, raw = doc.env, text_setting(environ, doc)
    if not raw:
        return ""
    parts = raw.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or (service is not None and parts[2] != service):
        expected = f"an {service} ARN" if service else "an ARN"
        raise SettingsError(f"{name}={raw!r} is not valid: expected {expected} (arn:aws:{service or '...'}:...)")
    return raw
