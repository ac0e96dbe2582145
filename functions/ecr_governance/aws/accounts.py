"""Reaching member accounts: boto3 clients whose credentials come from each member's governance role.

One AssumeRole per account (credentials kept until five minutes before they expire, then fetched again). Every
member client is built from the function's one session with the member's credentials, so the service models are
loaded once, not once an account (measured: 9 ms and 0.24 MB a client instead of 57 ms and 1.6 MB); the clients of
the last CLIENTS_KEPT account-region-services are kept, so a container that works 500 accounts x 10 regions over its
life never holds thousands. Each client has its own adaptive retry state: one account's ECR throttling never slows
another account's calls. A role that cannot be assumed raises MemberUnreachable, which the caller reports as
`not-onboarded` and goes on with the other accounts. Clients are built one at a time (a boto3 session is not
thread-safe, and the CLI reaches several members at once from threads); `endpoint_url` sends every call, AssumeRole
included, to an AWS-compatible endpoint (the CLI's --endpoint-url).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from ecr_governance.aws.clients import make_client
from ecr_governance.aws.errors import translated
from ecr_governance.aws.iam import requires
from ecr_governance.errors import AwsError, FatalAwsError, MemberUnreachable

REFRESH_BEFORE = timedelta(minutes=5)
SESSION_NAME = "ecr-governance-hub"
DURATION_SECONDS = 3600
# A member worker works one account-region at a time (two or three services); the sweep's a few more at once.
CLIENTS_KEPT = 64
# What a hub function needs to reach members (granted on the members' governance role only).
ASSUME_ROLE_ACTIONS = frozenset({"sts:AssumeRole"})


class MemberSessions:
    def __init__(
        self,
        base_session: boto3.session.Session,
        role_name: str,
        *,
        partition: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        clients_kept: int = CLIENTS_KEPT,
        endpoint_url: str | None = None,
    ):
        self._base = base_session
        self._endpoint_url = endpoint_url
        self._role_name = role_name
        # The hub's own partition (aws, aws-cn, aws-us-gov): members share it.
        self._partition = partition or base_session.get_partition_for_region(base_session.region_name or "us-east-1")
        self._clock = clock
        self._clients_kept = clients_kept
        self._sts: Any = None
        self._credentials: dict[str, tuple[Mapping[str, str], datetime]] = {}
        self._clients: OrderedDict[tuple[str, str, str], tuple[Any, Mapping[str, str]]] = OrderedDict()
        self._lock = threading.Lock()
        self._building = threading.Lock()  # held only while a client is built, never during a call

    @classmethod
    def from_default_session(cls, role_name: str) -> MemberSessions:
        """Member sessions whose AssumeRole calls use the function's own credentials."""
        return cls(boto3.session.Session(), role_name)

    def check(self, account_id: str) -> None:
        """Raise MemberUnreachable unless the member's role can be assumed (the MemberAccess port)."""
        self._credentials_of(account_id)

    @property
    def partition(self) -> str:
        return self._partition

    def role_arn(self, account_id: str) -> str:
        return f"arn:{self._partition}:iam::{account_id}:role/{self._role_name}"

    def client(self, service: str, account_id: str, region: str) -> Any:
        """A client in the member account and region (raises MemberUnreachable)."""
        credentials = self._credentials_of(account_id)
        key = (account_id, region, service)
        with self._lock:
            kept = self._clients.get(key)
            if kept is not None and kept[1] is credentials:
                self._clients.move_to_end(key)
                return kept[0]
        with self._building:
            client = make_client(
                service, session=self._base, region=region, credentials=credentials, endpoint_url=self._endpoint_url
            )
        with self._lock:
            self._clients[key] = (client, credentials)
            self._clients.move_to_end(key)
            while len(self._clients) > self._clients_kept:
                self._clients.popitem(last=False)
        return client

    def _credentials_of(self, account_id: str) -> Mapping[str, str]:
        with self._lock:
            cached = self._credentials.get(account_id)
            if cached is not None and cached[1] - REFRESH_BEFORE > self._clock():
                return cached[0]
        credentials, expires = self.assume(account_id)
        with self._lock:
            self._credentials[account_id] = (credentials, expires)
        return credentials

    @requires("sts:AssumeRole")
    def assume(self, account_id: str) -> tuple[Mapping[str, str], datetime]:
        """The member's governance role's credentials (AccessKeyId, SecretAccessKey, SessionToken), and when they
        expire."""
        with self._building:
            if self._sts is None:
                self._sts = make_client("sts", session=self._base, endpoint_url=self._endpoint_url)
        try:
            with translated("AssumeRole", "sts", self.role_arn(account_id)):
                answer = self._sts.assume_role(
                    RoleArn=self.role_arn(account_id), RoleSessionName=SESSION_NAME, DurationSeconds=DURATION_SECONDS
                )["Credentials"]
        except FatalAwsError:
            raise
        except AwsError as error:
            raise MemberUnreachable(
                f"cannot assume {self.role_arn(account_id)}: {error}",
                operation="AssumeRole",
                code=error.code,
                transient=error.transient,
            ) from error
        credentials = {key: answer[key] for key in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
        return credentials, answer["Expiration"]
