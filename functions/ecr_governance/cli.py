"""`ecr-governance`: the command line. Also `python -m ecr_governance`.

The CLI is a composition root like the handlers: it builds one boto3 session from the global options and hands
clients to the adapters. Every error a user can cause is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ProfileNotFound

from ecr_governance.errors import GovernanceError

# The embedded emulator's address: `ecr-governance emulator` serves it, `--local` points every client at it.
LOCAL_ENDPOINT = os.environ.get("ECR_GOVERNANCE_LOCAL_ENDPOINT", "http://127.0.0.1:5000")
LOCAL_REGION = "ap-southeast-1"
EXIT_ERROR = 1


@dataclass(frozen=True)
class AwsTarget:
    """Where API calls go: built from --region/--profile/--endpoint-url/--local, standard credential chain."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    local: bool = False

    def session(self) -> boto3.session.Session:
        if self.local:
            # The emulator accepts any credentials; fixed ones keep a developer's real keys out of local runs.
            return boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name=self.region or LOCAL_REGION,
            )
        try:
            return boto3.session.Session(profile_name=self.profile, region_name=self.region)
        except ProfileNotFound as error:
            raise GovernanceError(f"AWS profile not found: {self.profile}") from error

    @property
    def effective_endpoint(self) -> str | None:
        return LOCAL_ENDPOINT if self.local and not self.endpoint_url else self.endpoint_url

    def client(self, service: str) -> Any:
        session = self.session()
        if not session.region_name:
            raise GovernanceError("no AWS region configured: pass --region or set AWS_REGION")
        return session.client(
            service,
            endpoint_url=self.effective_endpoint,
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
        )

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
        if self.local:
            env["AWS_ACCESS_KEY_ID"] = env["AWS_SECRET_ACCESS_KEY"] = "testing"
        return env


def build_parser() -> argparse.ArgumentParser:
    from ecr_governance import cli_commands, lifecycle_cli

    parser = argparse.ArgumentParser(
        prog="ecr-governance",
        description="Governance for Amazon ECR: enforce repository settings, preview lifecycle policies.",
    )
    parser.add_argument("--region", help="AWS region (default: the standard AWS configuration)")
    parser.add_argument("--profile", help="AWS named profile")
    parser.add_argument("--endpoint-url", help="an AWS-compatible endpoint, e.g. a moto server")
    parser.add_argument(
        "--local",
        action="store_true",
        help=f"use the embedded emulator at {LOCAL_ENDPOINT} (start it with `ecr-governance emulator`)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Each command module adds its parsers and sets `func(args, target) -> exit code` on them.
    cli_commands.register(subparsers)
    lifecycle_cli.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    target = AwsTarget(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url, local=args.local)
    try:
        return int(args.func(args, target) or 0)
    except GovernanceError as error:
        print(f"ecr-governance: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BotoCoreError as error:  # configuration problems botocore reports before any call
        print(f"ecr-governance: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
