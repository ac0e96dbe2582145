"""ECR's answer to a delete batch, as the sweep reads it (the ECR adapter builds it; kept free of the sweep's
settings so the adapter imports nothing else of the sweep)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

# BatchDeleteImage's per-image failure codes the sweep reads as something other than a failure.
REFERENCED_BY_MANIFEST_LIST = "ImageReferencedByManifestList"
IMAGE_NOT_FOUND = "ImageNotFound"


class DeleteFailure(NamedTuple):
    digest: str
    code: str
    reason: str


@dataclass(frozen=True)
class BatchDeleteResult:
    """BatchDeleteImage's answer: the call succeeds while single images fail, each with a code."""

    deleted: tuple[str, ...]
    failures: tuple[DeleteFailure, ...] = ()
