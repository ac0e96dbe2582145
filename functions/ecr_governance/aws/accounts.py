"""Reaching member accounts: boto3 clients whose credentials come from each member's governance role.

One AssumeRole per account (credentials kept until five minutes before they expire, then fetched again), and one
client per account, region and service for the function's lifetime. Each client has its own adaptive retry state,
so one account's ECR throttling never slows another account's calls. A role that cannot be assumed raises
MemberUnreachable, which the caller reports as `not-onboarded` and goes on with the other accounts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    ):
        self._base = base_session
        self._role_name = role_name
        # The hub's own partition (aws, aws-cn, aws-us-gov): members share it.
        self._partition = partition or base_session.get_partition_for_region(base_session.region_name or "us-east-1")
        self._clock = clock
        self._sts: Any = None
        self._sessions: dict[str, tuple[boto3.session.Session, datetime]] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_default_session(cls, role_name: str) -> MemberSessions:
        """Member sessions whose AssumeRole calls use the function's own credentials."""
        return cls(boto3.session.Session(), role_name)

    def check(self, account_id: str) -> None:
        """Raise MemberUnreachable unless the member's role can be assumed (the MemberAccess port)."""
        self._session(account_id)

    @property
    def partition(self) -> str:
        return self._partition

    def role_arn(self, account_id: str) -> str:
        return f"arn:{self._partition}:iam::{account_id}:role/{self._role_name}"

    def client(self, service: str, account_id: str, region: str) -> Any:
        """A client in the member account and region (raises MemberUnreachable)."""
        session = self._session(account_id)
        key = (account_id, region, service)
        with self._lock:
            if key not in self._clients or self._clients[key][1] is not session:
                self._clients[key] = (make_client(service, session=session, region=region), session)
            return self._clients[key][0]

    def _session(self, account_id: str) -> boto3.session.Session:
        with self._lock:
            cached = self._sessions.get(account_id)
            if cached is not None and cached[1] - REFRESH_BEFORE > self._clock():
                return cached[0]
        session, expires = self.assume(account_id)
        with self._lock:
            self._sessions[account_id] = (session, expires)
        return session

    @requires("sts:AssumeRole")
    def assume(self, account_id: str) -> tuple[boto3.session.Session, datetime]:
        """A session as the member's governance role, and when its credentials expire."""
        if self._sts is None:
            self._sts = make_client("sts", session=self._base)
        try:
            with translated("AssumeRole", "sts", self.role_arn(account_id)):
                credentials = self._sts.assume_role(
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
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self._base.region_name,
        )
        return session, credentials["Expiration"]
