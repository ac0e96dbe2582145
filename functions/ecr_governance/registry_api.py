"""How much of ECR's API the endpoint serves: every capability asks before calling what emulators lack."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from ecr_governance.config import SettingDoc, enum_setting


class RegistryApi(StrEnum):
    """AWS itself, or only the core an AWS-compatible emulator serves."""

    AWS = "aws"
    CORE = "core"


REGISTRY_API = SettingDoc(
    "REGISTRY_API",
    "RegistryApi",
    "aws",
    "How much of ECR's API the endpoint serves: `aws`, the whole API (exemption tags read in bulk through the Resource "
    "Groups Tagging API; creation templates, pull-through cache rules, pull-time update exclusions and managed signing "
    "read); `core`, only what AWS-compatible emulators serve (tags read one repository at a time, those newer settings "
    "not read). An explicit setting instead of guessing from the endpoint: `ecr-governance --local/--endpoint-url "
    "invoke`, `make demo` and the integration tests set `core`; a deployment never needs it.",
    allowed=tuple(RegistryApi),
)


def registry_api_setting(environ: Mapping[str, str]) -> RegistryApi:
    return enum_setting(environ, REGISTRY_API, RegistryApi)
