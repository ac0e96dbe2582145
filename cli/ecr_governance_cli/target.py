"""Where the CLI's API calls go: --region/--profile/--endpoint-url/--local, the standard credential chain."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ecr_governance.aws.clients import make_client, make_session
from ecr_governance.registry_api import RegistryApi

# The embedded emulator's address: `ecr-governance emulator` serves it, `--local` points every client at it.
LOCAL_ENDPOINT = os.environ.get("ECR_GOVERNANCE_LOCAL_ENDPOINT", "http://127.0.0.1:5000")
LOCAL_REGION = "ap-southeast-1"
EMULATOR_CREDENTIALS = ("testing", "testing")


@dataclass(frozen=True)
class AwsTarget:
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    local: bool = False

    def session(self) -> Any:
        if self.local:
            # Fixed credentials keep a developer's real keys out of local runs.
            return make_session(region=self.region or LOCAL_REGION, static_credentials=EMULATOR_CREDENTIALS)
        return make_session(profile=self.profile, region=self.region)

    @property
    def effective_endpoint(self) -> str | None:
        return LOCAL_ENDPOINT if self.local and not self.endpoint_url else self.endpoint_url

    def client(self, service: str) -> Any:
        return make_client(service, session=self.session(), endpoint_url=self.effective_endpoint, local=self.local)

    @property
    def registry_api(self) -> RegistryApi:
        """An AWS-compatible endpoint (the emulator) serves ECR's core API only."""
        return RegistryApi.CORE if self.effective_endpoint else RegistryApi.AWS

    def environment(self) -> dict[str, str]:
        """Environment variables that make code run in-process (invoke) target the same place."""
        env: dict[str, str] = {}
        session = self.session()
        if session.region_name:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = session.region_name
        if self.profile:
            env["AWS_PROFILE"] = self.profile
        if self.effective_endpoint:
            env["AWS_ENDPOINT_URL"] = self.effective_endpoint
            env["REGISTRY_API"] = str(self.registry_api)
        if self.local:
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = EMULATOR_CREDENTIALS
        return env
