"""Exemptions, per aspect: which parts of the standard a repository is left out of, and why.

A repository tagged `ExemptTagKey=true` (the `ExemptTagValue` word), or named by `ExemptRepositoryPatterns`, is exempt
from what a team relies on: tag mutability and lifecycle expiry (the sweep leaves it alone too). Scanning on push
changes nothing a team relies on, so it is exempt from scan on push only when asked: the tag's value can list aspects
(`tag-mutability`, `lifecycle`, `scan-on-push`, `encryption`, `signing`, separated by spaces - tag values cannot
hold commas), and `ScanExemptRepositoryPatterns` names repositories left out of scan on push.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ecr_governance.config import SettingDoc, list_setting, text_setting
from ecr_governance.errors import SettingsError
from ecr_governance.wildcard import repository_pattern_matches


class ExemptAspect(StrEnum):
    TAG_MUTABILITY = "tag-mutability"
    LIFECYCLE = "lifecycle"
    SCAN_ON_PUSH = "scan-on-push"
    ENCRYPTION = "encryption"
    SIGNING = "signing"


# What the plain exemption (the tag's `true`, a name pattern) exempts from.
DEFAULT_EXEMPT_ASPECTS = frozenset({ExemptAspect.TAG_MUTABILITY, ExemptAspect.LIFECYCLE})
# Tag values that lift an exemption without being a typo worth reporting.
NOT_EXEMPT_VALUES = frozenset({"", "false", "no", "none"})

EXEMPT_TAG_KEY = SettingDoc(
    "EXEMPT_TAG_KEY", "ExemptTagKey", "ecr-governance:exempt", "Repository tag key that exempts a repository."
)
EXEMPT_TAG_VALUE = SettingDoc(
    "EXEMPT_TAG_VALUE",
    "ExemptTagValue",
    "true",
    "Value of that tag (case-insensitive) that exempts a repository from tag mutability and lifecycle; the tag may "
    "instead list aspects (`tag-mutability lifecycle scan-on-push encryption signing`, space-separated).",
)
EXEMPT_REPOSITORY_PATTERNS = SettingDoc(
    "EXEMPT_REPOSITORY_PATTERNS",
    "ExemptRepositoryPatterns",
    "",
    "Comma-separated repository name patterns (`*` matches any characters, `/` included) exempt from tag mutability "
    "and lifecycle.",
)
SCAN_EXEMPT_REPOSITORY_PATTERNS = SettingDoc(
    "SCAN_EXEMPT_REPOSITORY_PATTERNS",
    "ScanExemptRepositoryPatterns",
    "",
    "Comma-separated repository name patterns (`*` wildcard) left out of scan on push.",
)
EXEMPTION_SETTINGS_DOCS: tuple[SettingDoc, ...] = (
    EXEMPT_TAG_KEY,
    EXEMPT_TAG_VALUE,
    EXEMPT_REPOSITORY_PATTERNS,
    SCAN_EXEMPT_REPOSITORY_PATTERNS,
)


@dataclass(frozen=True)
class ExemptionSettings:
    tag_key: str = EXEMPT_TAG_KEY.default
    tag_value: str = EXEMPT_TAG_VALUE.default
    repository_patterns: tuple[str, ...] = ()
    scan_exempt_patterns: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ExemptionSettings:
        environ = os.environ if environ is None else environ
        tag_key = text_setting(environ, EXEMPT_TAG_KEY)
        if not tag_key:
            raise SettingsError("EXEMPT_TAG_KEY must not be empty")
        tag_value = text_setting(environ, EXEMPT_TAG_VALUE)
        if not tag_value or tag_value.lower() in NOT_EXEMPT_VALUES or tag_value.lower() in set(ExemptAspect):
            raise SettingsError(
                f"EXEMPT_TAG_VALUE={tag_value!r} is not valid: it must be a word such as `true` that is neither empty, "
                "`false` nor an aspect name"
            )
        return cls(
            tag_key=tag_key,
            tag_value=tag_value,
            repository_patterns=list_setting(environ, EXEMPT_REPOSITORY_PATTERNS),
            scan_exempt_patterns=list_setting(environ, SCAN_EXEMPT_REPOSITORY_PATTERNS),
        )


@dataclass(frozen=True)
class Exemption:
    """The aspects a repository is exempt from, each reason, and tag words that named no aspect (typos to report)."""

    aspects: frozenset[ExemptAspect] = frozenset()
    reasons: tuple[str, ...] = ()
    unrecognized: tuple[str, ...] = field(default=())

    def covers(self, aspect: ExemptAspect) -> bool:
        return aspect in self.aspects

    @property
    def complete(self) -> bool:
        return self.aspects == frozenset(ExemptAspect)

    def __bool__(self) -> bool:
        return bool(self.aspects)

    def __str__(self) -> str:
        return "; ".join(self.reasons)

    def __or__(self, other: Exemption) -> Exemption:
        return Exemption(
            self.aspects | other.aspects, self.reasons + other.reasons, self.unrecognized + other.unrecognized
        )


NO_EXEMPTION = Exemption()


def exemption_by_name(repository_name: str, settings: ExemptionSettings) -> Exemption:
    exemption = NO_EXEMPTION
    for pattern in settings.repository_patterns:
        if repository_pattern_matches(pattern, repository_name):
            exemption |= Exemption(DEFAULT_EXEMPT_ASPECTS, (f"name matches exempt pattern {pattern!r}",))
            break
    for pattern in settings.scan_exempt_patterns:
        if repository_pattern_matches(pattern, repository_name):
            exemption |= Exemption(frozenset({ExemptAspect.SCAN_ON_PUSH}), (f"name matches scan-exempt {pattern!r}",))
            break
    return exemption


def exemption_by_tags(tags: Mapping[str, str], settings: ExemptionSettings) -> Exemption:
    """The exemption the repository's exemption tag grants: its `true` word, or a list of aspects."""
    value = tags.get(settings.tag_key)
    if value is None:
        return NO_EXEMPTION
    words = value.strip().lower().split()
    if not words or " ".join(words) in NOT_EXEMPT_VALUES:
        return NO_EXEMPTION
    if words == [settings.tag_value.lower()]:
        return Exemption(DEFAULT_EXEMPT_ASPECTS, (f"tagged {settings.tag_key}={value.strip()}",))
    aspects = frozenset(ExemptAspect(word) for word in words if word in set(ExemptAspect))
    unrecognized = tuple(word for word in words if word not in set(ExemptAspect))
    reasons = (f"tagged {settings.tag_key}={value.strip()}",) if aspects else ()
    return Exemption(aspects, reasons, unrecognized)


def tags_can_change(name_exemption: Exemption) -> bool:
    """Whether the repository's tags could exempt it from more than its name already does (so they must be read)."""
    return not name_exemption.complete
