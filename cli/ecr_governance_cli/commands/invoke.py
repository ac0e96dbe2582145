"""`ecr-governance invoke FUNCTION --event FILE`: run a function of the template in-process (no Docker)."""

from __future__ import annotations

import argparse
import json

from ecr_governance_cli.local_invoke import DEFAULT_TEMPLATE, invoke_function, parse_overrides, read_event
from ecr_governance_cli.target import AwsTarget


def register(subparsers: argparse._SubParsersAction) -> None:
    invoke = subparsers.add_parser(
        "invoke",
        help="run a function of template.yaml in-process, with the environment the template gives it (no Docker)",
    )
    invoke.add_argument(
        "function", metavar="FUNCTION", help="logical id in the template, e.g. EnforceRepositoryFunction"
    )
    invoke.add_argument("--event", required=True, metavar="FILE", help="event JSON (e.g. events/enforce/*.json)")
    invoke.add_argument("--template", default=DEFAULT_TEMPLATE, help=f"SAM template (default {DEFAULT_TEMPLATE})")
    invoke.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE", help="template Parameter values"
    )
    invoke.set_defaults(func=run)


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    event = read_event(args.event)
    result = invoke_function(
        args.template, args.function, event, parse_overrides(args.parameter_overrides), target.environment()
    )
    print(json.dumps(result, indent=2, default=str))
    return 0
