"""The one client factory, for the handlers and the CLI: one retry policy, region and endpoint handling.

ECR publishes no rate quotas for its management APIs, so every client uses botocore's adaptive retry mode (client-side
rate limiting on throttles, exponential backoff) with enough attempts to ride out a burst. A local endpoint (the
embedded emulator) is never throttled: there a refused connection fails at once instead of being retried for
half a minute. That holds wherever the endpoint comes from: an argument, or AWS_ENDPOINT_URL (what `ecr-governance
invoke --local` and `sam local invoke --env-vars` give a function; the template declares it empty, hence unused, for
a deployed function).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ProfileNotFound

from ecr_governance import __version__
from ecr_governance.aws.endpoints import configured_endpoint, is_local_endpoint
from ecr_governance.errors import SettingsError

MAX_ATTEMPTS = 8
USER_AGENT = f"ecr-governance/{__version__}"
AWS_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
    connect_timeout=10,
    read_timeout=60,
    # botocore has had user_agent_appid since 1.31; botocore-stubs (1.43.126) does not declare it yet.
    user_agent_appid="ecr-governance",  # type: ignore[call-arg]
    user_agent_extra=USER_AGENT,
)
LOCAL_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=2,
    read_timeout=30,
    user_agent_extra=USER_AGENT,
)


def make_session(
    profile: str | None = None, region: str | None = None, static_credentials: tuple[str, str] | None = None
) -> boto3.session.Session:
    """A session for the CLI: a named profile and region, or fixed credentials (the emulator accepts any)."""
    try:
        if static_credentials:
            key, secret = static_credentials
            return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
        return boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as error:
        raise SettingsError(f"AWS profile not found: {profile}") from error
    except BotoCoreError as error:
        raise SettingsError(f"cannot read the AWS configuration: {error}") from error


def make_client(
    service: str,
    *,
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
    local: bool = False,
    region: str | None = None,
    credentials: Mapping[str, str] | None = None,
) -> Any:
    """A boto3 client with the project's retry policy. Without a session: the default credential chain and region
    (AWS_REGION, as in Lambda); AWS_ENDPOINT_URL is honoured by botocore itself. A loopback endpoint gets the local
    configuration (no retries, a 2 s connect timeout) however it was named. `region` overrides the session's;
    `credentials` (AccessKeyId, SecretAccessKey, SessionToken: an AssumeRole answer) the session's credentials, so
    clients for many roles share one session's loaded service models."""
    session = session or boto3.session.Session()
    endpoint = configured_endpoint(service, endpoint_url)
    local = local or (endpoint is not None and is_local_endpoint(endpoint))
    # botocore reads AWS_DEFAULT_REGION; Lambda and many shells set AWS_REGION (the AWS CLI reads both).
    region = region or session.region_name or os.environ.get("AWS_REGION")
    if not region:
        raise SettingsError("no AWS region configured: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    keys = {}
    if credentials is not None:
        keys = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
    try:
        # The stubs type each service by its literal name; adapters take the client as they declare it.
        create_client: Callable[..., Any] = session.client
        return create_client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            config=LOCAL_CONFIG if local else AWS_CONFIG,
            **keys,
        )
    except ValueError as error:  # botocore's answer to an endpoint URL it cannot use
        raise SettingsError(f"cannot use endpoint URL {endpoint_url!r}: {error}") from error


class LazyClient:
    """A client built on first use: a function that needs a service only now and then (a reconcile continuing, a bulk
    tag read) does not pay for building its client at every cold start."""

    def __init__(self, service: str, **options: Any):
        self._service = service
        self._options = options
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = make_client(self._service, **self._options)
        return getattr(self._client, name)


def client_maker(lazy: bool = False) -> Callable[[str], Any]:
    """`make_client` bound to one new default session, for a composition root that builds several clients: the
    session loads its endpoint, partition and credential data once instead of once a client (a cold start saves
    tens of milliseconds a client). `lazy=True` hands out LazyClients of that session, built on first use."""
    session = boto3.session.Session()
    if lazy:
        return lambda service: LazyClient(service, session=session)
    return lambda service: make_client(service, session=session)
