"""`ecr-governance`: the command line. Also `python -m ecr_governance_cli`.

The CLI is a composition root like the handlers: it builds clients from the global options (target.py) and hands
them to the adapters. Every error a user can cause is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ecr_governance.errors import GovernanceError

from ecr_governance_cli.commands import emulator, enforce, invoke, lifecycle, sweep
from ecr_governance_cli.target import LOCAL_ENDPOINT, AwsTarget

EXIT_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecr-governance",
        description=(
            "Governance for Amazon ECR: enforce repository settings, preview lifecycle policies, sweep untagged images."
        ),
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
    for module in (enforce, invoke, emulator, lifecycle, sweep):
        module.register(subparsers)
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
    except KeyboardInterrupt:
        return 130
