"""ECR's WILDCARD matching, shared by repository filters, exclusion filters and lifecycle tag patterns."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=512)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def wildcard_match(pattern: str, text: str) -> bool:
    """`*` matches any run of characters (`/` included); everything else is literal, and the whole text must match."""
    return _wildcard_regex(pattern).fullmatch(text) is not None
