"""`ecr-governance invoke FUNCTION --event FILE`: run a function of a template in-process (no Docker), with the
environment the template gives it - as `sam local invoke` does, with its `--env-vars` and `--parameter-overrides`."""

from __future__ import annotations

import argparse
import json

from ecr_governance.errors import InputError

from ecr_governance_cli.local_invoke import (
    DEFAULT_TEMPLATE,
    invoke_function,
    parse_overrides,
    read_env_vars,
    read_event,
)
from ecr_governance_cli.target import AwsTarget


def register(subparsers: argparse._SubParsersAction) -> None:
    invoke = subparsers.add_parser(
        "invoke",
        help="run a function of template.yaml in-process, with the environment the template gives it (no Docker)",
        description=(
            "Run a function of a SAM template in-process: the handler module is imported with the environment the "
            "template resolves (Parameter defaults or overrides, Conditions), as a cold start would, and called with "
            "the event. Logs go to stderr, the result to stdout. Image functions run their image's handler from "
            "the Docker context, with the packages of this environment."
        ),
    )
    invoke.add_argument(
        "function", metavar="FUNCTION", nargs="?", help="logical id in the template, e.g. EnforceRepositoryFunction"
    )
    invoke.add_argument("--event", required=True, metavar="FILE", help="event JSON (e.g. events/enforce/*.json)")
    invoke.add_argument("--template", default=DEFAULT_TEMPLATE, help=f"SAM template (default {DEFAULT_TEMPLATE})")
    invoke.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template Parameter values: Key=Value or ParameterKey=Key,ParameterValue=Value (as sam accepts them)",
    )
    invoke.add_argument(
        "--env-vars",
        metavar="FILE",
        help='environment in `sam local invoke` format: {"FunctionLogicalId": {"VAR": "value"}, "Parameters": {...}}, '
        "applied after the template's values (e.g. GOVERNANCE_ROLE_ARN, which only exists once deployed)",
    )
    invoke.set_defaults(func=run)


def _function_and_overrides(args: argparse.Namespace) -> tuple[str, list[str]]:
    """`--parameter-overrides A=1 FUNCTION` hands FUNCTION to the overrides: take it back."""
    tokens = list(args.parameter_overrides)
    function = args.function
    if function is None and tokens and "=" not in tokens[-1]:
        function = tokens.pop()
    if function is None:
        raise InputError("name the function to invoke, e.g. `invoke EnforceRepositoryFunction --event FILE`")
    return function, tokens


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    function, override_tokens = _function_and_overrides(args)
    event = read_event(args.event)
    env_vars = read_env_vars(args.env_vars, function) if args.env_vars else None
    result = invoke_function(
        args.template, function, event, parse_overrides(override_tokens), target.environment(), env_vars
    )
    print(json.dumps(result, indent=2, default=str))
    return 0
