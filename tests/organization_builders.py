"""An organization on the emulator: member accounts created through Organizations, their clients through STS
AssumeRole (the emulator keeps each assumed account's resources apart), and members whose role cannot be assumed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import boto3
import pytest
from ecr_governance.aws.accounts import MemberSessions
from ecr_governance.errors import MemberUnreachable

ROLE = "ecr-governance-member"
SETUP_REGION = "ap-southeast-1"


def member_client(service: str, account: str, region: str, endpoint_url: str | None = None) -> Any:
    """A client in the member's account, through its governance role (the emulator admits every AssumeRole)."""
    sts = boto3.client("sts", region_name=SETUP_REGION, endpoint_url=endpoint_url)
    role = f"arn:aws:iam::{account}:role/{ROLE}"
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="test-setup")["Credentials"]
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def create_members(organizations: Any, count: int) -> list[str]:
    """`count` member accounts named team-0, team-1, ...: their ids, in that order."""
    return [
        organizations.create_account(Email=f"team-{n}@example.com", AccountName=f"team-{n}")["CreateAccountStatus"][
            "AccountId"
        ]
        for n in range(count)
    ]


def refuse_roles(monkeypatch: pytest.MonkeyPatch, accounts: Iterable[str]) -> None:
    """These accounts' governance role cannot be assumed (the StackSet has not reached them), as STS refuses: the
    emulator itself never refuses an AssumeRole."""
    refused = set(accounts)
    original = MemberSessions.assume

    def assume(self: MemberSessions, account_id: str) -> Any:
        if account_id in refused:
            raise MemberUnreachable(
                f"cannot assume arn:aws:iam::{account_id}:role/{ROLE}: AccessDenied", code="AccessDenied"
            )
        return original(self, account_id)

    monkeypatch.setattr(MemberSessions, "assume", assume)
