"""Where the CLI's API calls go: --region/--profile/--endpoint-url/--local, the standard credential chain.

`--local` is the embedded emulator with its own region and credentials: the sample registry `emulator --seed` makes
lives in LOCAL_REGION, so that is the region unless --region says otherwise, and the CLI says which one it uses (one
note on stderr). A local endpoint nothing listens on is refused before any command runs, in well under 2 s: this
module loads no boto3 until a client is asked for, so main() can check before it loads the commands.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from ecr_governance.aws.endpoints import configured_endpoint, is_local_endpoint
from ecr_governance.errors import EndpointUnreachable
from ecr_governance.registry_api import RegistryApi

# The embedded emulator's address: `ecr-governance emulator` serves it, `--local` points every client at it.
LOCAL_ENDPOINT = os.environ.get("ECR_GOVERNANCE_LOCAL_ENDPOINT", "http://127.0.0.1:5000")
LOCAL_REGION = "ap-southeast-1"
EMULATOR_CREDENTIALS = ("testing", "testing")
REACHABLE_WITHIN_SECONDS = 1.0


class CommandTarget(Protocol):
    """What a command works through: the configured account and region (AwsTarget), or one account-region of many
    (fleet.MemberTarget)."""

    @property
    def registry_api(self) -> RegistryApi: ...

    def client(self, service: str) -> Any: ...


def local_port() -> int:
    """The port of LOCAL_ENDPOINT: where `emulator` listens unless told otherwise, so the two always agree."""
    return urlsplit(LOCAL_ENDPOINT).port or 80


@dataclass
class AwsTarget:
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    local: bool = False
    _checked: bool = field(default=False, compare=False, repr=False)

    def session(self) -> Any:
        from ecr_governance.aws.clients import make_session

        if self.local:
            # Fixed credentials keep a developer's real keys out of local runs.
            return make_session(region=self.region or LOCAL_REGION, static_credentials=EMULATOR_CREDENTIALS)
        return make_session(profile=self.profile, region=self.region)

    @property
    def effective_endpoint(self) -> str | None:
        return LOCAL_ENDPOINT if self.local and not self.endpoint_url else self.endpoint_url

    def client(self, service: str) -> Any:
        from ecr_governance.aws.clients import make_client

        self.check_reachable()
        return make_client(service, session=self.session(), endpoint_url=self.effective_endpoint, local=self.local)

    @property
    def registry_api(self) -> RegistryApi:
        """An AWS-compatible endpoint (the emulator) serves ECR's core API only: one named on the command line or in
        botocore's environment variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_ECR)."""
        return RegistryApi.CORE if configured_endpoint("ecr", self.effective_endpoint) else RegistryApi.AWS

    def environment(self) -> dict[str, str]:
        """Environment variables that make code run in-process (invoke) target the same place."""
        self.check_reachable()
        env: dict[str, str] = {}
        session = self.session()
        if session.region_name:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = session.region_name
        if self.profile and not self.local:
            env["AWS_PROFILE"] = self.profile
        if self.effective_endpoint:
            env["AWS_ENDPOINT_URL"] = self.effective_endpoint
            env["REGISTRY_API"] = str(self.registry_api)
        if self.local:
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = EMULATOR_CREDENTIALS
        return env

    def check_reachable(self) -> None:
        """Once per run: say where --local goes, and refuse a loopback endpoint nothing listens on (a connection
        there is refused at once; waiting on retries would only delay the same answer)."""
        if self._checked:
            return
        self._checked = True
        if self.local:
            print(f"ecr-governance: note: {self.local_note()}", file=sys.stderr)
        endpoint = self.effective_endpoint
        if not endpoint or not is_local_endpoint(endpoint):
            return
        parts = urlsplit(endpoint)
        try:
            with socket.create_connection((parts.hostname, parts.port or 80), timeout=REACHABLE_WITHIN_SECONDS):
                pass
        except OSError as error:
            raise EndpointUnreachable(
                f"nothing answers at {endpoint} ({error.strerror or error})", code="EndpointUnreachable"
            ) from error

    def local_note(self) -> str:
        where = f"--local: the emulator at {self.effective_endpoint}"
        if self.region:
            region = f"region {self.region} (from --region; the sample registry is in {LOCAL_REGION})"
        else:
            region = f"region {LOCAL_REGION} (the emulator's sample registry; --region picks another)"
        used = self.region or LOCAL_REGION
        ignored = [f"AWS_PROFILE={os.environ['AWS_PROFILE']}"] if os.environ.get("AWS_PROFILE") else []
        ignored += [f"{name}={os.environ[name]}" for name in ("AWS_REGION",) if os.environ.get(name, used) != used]
        ignored += [f"--profile {self.profile}"] if self.profile else []
        unused = f"; {', '.join(ignored)} not used: the emulator has its own region and credentials" if ignored else ""
        return f"{where}, {region}{unused}"
