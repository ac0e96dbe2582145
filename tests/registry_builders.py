"""Helpers that build registries and load event files for the tests (importable: pytest pythonpath = tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = PROJECT_ROOT / "events"
TEMPLATE = PROJECT_ROOT / "template.yaml"
REGION = "ap-southeast-1"


def create_repository(
    ecr: Any,
    name: str,
    mutability: str = "MUTABLE",
    scan_on_push: bool = False,
    exclusions: tuple[str, ...] = (),
    lifecycle_policy: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    params: dict[str, Any] = {
        "repositoryName": name,
        "imageTagMutability": mutability,
        "imageScanningConfiguration": {"scanOnPush": scan_on_push},
    }
    if exclusions:
        params["imageTagMutabilityExclusionFilters"] = [{"filterType": "WILDCARD", "filter": f} for f in exclusions]
    if tags:
        params["tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    ecr.create_repository(**params)
    if lifecycle_policy is not None:
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(lifecycle_policy))


def load_event(relative: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / relative).read_text())
