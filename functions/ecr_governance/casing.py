"""camelCase keys, as AWS's APIs spell them: what the functions answer and what the CLI prints as JSON. Logs keep the
snake_case Powertools and the domain use."""

from __future__ import annotations

import re
from typing import Any

# A key made of lowercase words joined by `_` or spaces (`non_compliant_after`, `too young`). Data used as a key - a
# digest, a severity (`CRITICAL`), a repository name with a `/` - never matches and is left as it is.
_WORDS = re.compile(r"[a-z][a-z0-9]*(?:[_ ][a-z0-9]+)+")


def camel(name: str) -> str:
    """`non_compliant_after` -> `nonCompliantAfter`, `too young` -> `tooYoung`."""
    head, *rest = re.split(r"[_ ]+", name)
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def camel_keys(value: Any) -> Any:
    """The same document with every snake_case (or spaced) key in camelCase; values and other keys untouched."""
    if isinstance(value, dict):
        return {
            camel(key) if isinstance(key, str) and _WORDS.fullmatch(key) else key: camel_keys(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [camel_keys(item) for item in value]
    return value
