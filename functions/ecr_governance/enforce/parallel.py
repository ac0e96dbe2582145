"""Bounded parallelism for the reads and writes of a reconcile (boto3 clients are thread-safe)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor


def bounded_map[T, R](work: Callable[[T], R], items: Sequence[T], concurrency: int) -> list[R]:
    """`work` over `items`, at most `concurrency` at once, results in the order of `items`."""
    if concurrency <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
        return list(pool.map(work, items))
