"""The scan-findings function's settings: the shared ones (settings.py) and the ones only the scan path reads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ecr_governance.config import BOOLEAN, SettingDoc, bool_setting, list_setting, text_setting
from ecr_governance.findings import settings as shared
from ecr_governance.findings.settings import FindingsSettings, common_settings
from ecr_governance.registry_api import REGISTRY_API, RegistryApi, registry_api_setting
from ecr_governance.signing import SIGNED_REPOSITORY_PATTERNS

IMPORT_FINDINGS_TO_SECURITY_HUB = SettingDoc(
    "IMPORT_FINDINGS_TO_SECURITY_HUB",
    "ImportBasicFindingsToSecurityHub",
    "false",
    "`true` also imports the alerted basic-scan findings into Security Hub (after the alert, never blocking it), "
    "archives the ones a rescan no longer reports, and routes `ECR Image Action` DELETE events to archive a deleted "
    "image's findings; enhanced findings already reach it through Amazon Inspector.",
    allowed=BOOLEAN,
)
IDEMPOTENCY_TABLE_NAME = SettingDoc(
    "IDEMPOTENCY_TABLE_NAME",
    "(the stack's idempotency table)",
    "",
    "DynamoDB table of Powertools Idempotency records (a scan event delivered twice is handled once). Empty (a local "
    "run) = idempotency off, with a WARNING line.",
)
SETTINGS_DOCS: tuple[SettingDoc, ...] = (
    *shared.SETTINGS_DOCS,
    IMPORT_FINDINGS_TO_SECURITY_HUB,
    IDEMPOTENCY_TABLE_NAME,
    # A completed scan in a repository that must be signed also reads the image's signing status (signing_status.py).
    SIGNED_REPOSITORY_PATTERNS,
    REGISTRY_API,
)


@dataclass(frozen=True)
class ScanFindingsSettings(FindingsSettings):
    import_to_security_hub: bool = False
    idempotency_table_name: str = ""
    signed_repository_patterns: tuple[str, ...] = ()
    registry_api: RegistryApi = RegistryApi.AWS

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ScanFindingsSettings:
        environ = os.environ if environ is None else environ
        return cls(
            **common_settings(environ),
            import_to_security_hub=bool_setting(environ, IMPORT_FINDINGS_TO_SECURITY_HUB),
            idempotency_table_name=text_setting(environ, IDEMPOTENCY_TABLE_NAME),
            signed_repository_patterns=list_setting(environ, SIGNED_REPOSITORY_PATTERNS),
            registry_api=registry_api_setting(environ),
        )
