"""ECR's WILDCARD rules, one implementation, named for what each use matches.

`*` stands for any run of characters (none included) and everything else is literal; the whole text must match -
for exemption patterns, tag-mutability exclusion filters and managed-signing filters (`wildcard_match`) and
lifecycle tagPatternList entries (`tag_pattern_regex`, one tag per line). Registry scanning filters differ (ECR user
guide, "Filters for scanning"): a filter WITHOUT `*` matches every repository whose name CONTAINS it; with `*`, the
whole name must match.
"""

from __future__ import annotations

import re
from functools import lru_cache


def tag_pattern_regex(pattern: str) -> str:
    """The regex source of a WILDCARD tag pattern, for one tag per line (a `*` never crosses a line break)."""
    return "[^\n]*".join(re.escape(part) for part in pattern.split("*"))


@lru_cache(maxsize=512)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def wildcard_match(pattern: str, text: str) -> bool:
    """`*` matches any run of characters (`/` included); everything else is literal, and the whole text must match."""
    return _wildcard_regex(pattern).fullmatch(text) is not None


def repository_pattern_matches(pattern: str, repository_name: str) -> bool:
    """An exemption pattern (ExemptRepositoryPatterns) against a repository name."""
    return wildcard_match(pattern, repository_name)


def exclusion_filter_matches(exclusion_filter: str, tag: str) -> bool:
    """A tag-mutability exclusion filter against a tag."""
    return wildcard_match(exclusion_filter, tag)


# ECR's syntax of a registry scanning repository filter (1-255 characters).
SCANNING_FILTER_SYNTAX = re.compile(r"^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$")
SCANNING_FILTER_MAX_LENGTH = 255


def scanning_filter_matches(scanning_filter: str, repository_name: str) -> bool:
    """A registry scanning rule's repository filter against a repository name: contains without `*`, whole-name
    WILDCARD match with it."""
    if "*" not in scanning_filter:
        return scanning_filter in repository_name
    return wildcard_match(scanning_filter, repository_name)


def is_valid_scanning_filter(scanning_filter: str) -> bool:
    return 0 < len(scanning_filter) <= SCANNING_FILTER_MAX_LENGTH and bool(
        SCANNING_FILTER_SYNTAX.match(scanning_filter)
    )


def signing_filter_matches(signing_filter: str, repository_name: str) -> bool:
    """A managed-signing rule's repository filter (WILDCARD_MATCH) against a repository name: whole-name match."""
    return wildcard_match(signing_filter, repository_name)


def suppression_pattern_matches(pattern: str, repository_name: str) -> bool:
    """A scan-finding suppression's repository pattern (its `repositories` entries) against a repository name."""
    return wildcard_match(pattern, repository_name)
