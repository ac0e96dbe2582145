"""Pull-through cache repositories: ECR creates them on the first pull through a cache rule, named after the rule's
repository prefix (`docker-hub/library/nginx` under the prefix `docker-hub`; ECR reads a prefix as `prefix/`, and
`ROOT` as every repository). Workloads pull them by digest, so their images are untagged and in use: enforcement
gives them their own lifecycle class, and the sweep should treat them as in use unless Inspector says otherwise.

Pure: the prefixes come from DescribePullThroughCacheRules (EcrRegistry.pull_through_cache_prefixes).
"""

from __future__ import annotations

from collections.abc import Iterable

ROOT_PREFIX = "ROOT"


def cache_prefix_of(repository_name: str, prefixes: Iterable[str]) -> str | None:
    """The cache rule prefix a repository belongs to (the longest that matches), or None."""
    matching = [
        prefix for prefix in prefixes if prefix == ROOT_PREFIX or repository_name.startswith(prefix.rstrip("/") + "/")
    ]
    return max(matching, key=lambda prefix: (prefix != ROOT_PREFIX, len(prefix)), default=None)


def is_pull_through_cache(repository_name: str, prefixes: Iterable[str]) -> bool:
    """Whether ECR created (or would create) this repository for a pull-through cache rule."""
    return cache_prefix_of(repository_name, prefixes) is not None
