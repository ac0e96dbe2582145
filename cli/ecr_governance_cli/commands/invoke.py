"""`ecr-governance invoke [FUNCTION] [-e FILE]`: run a function of a template in-process (no Docker), with the
environment the template gives it - as `sam local invoke` does, with its spellings: `-e/--event` (a file,
`file://FILE`, or `-` for stdin; none: `{}`), `-t/--template-file`, `-n/--env-vars`, `--parameter-overrides`.

The function's response goes to stdout, its logs to stderr. A function error is reported as SAM reports it: the
runtime's payload (errorMessage, errorType, requestId, stackTrace) on stdout, one line on stderr, exit 1. So is an
SQS batch the function answers with batchItemFailures: those messages would come back.
"""

from __future__ import annotations

import argparse

from ecr_governance.errors import GovernanceError

from ecr_governance_cli.exits import Exit
from ecr_governance_cli.local_invoke import (
    DEFAULT_TEMPLATE,
    FunctionError,
    invoke_function,
    parse_overrides,
    read_env_vars,
    read_event,
)
from ecr_governance_cli.output import add_output_options, emit, generic_table
from ecr_governance_cli.parsing import UsageError
from ecr_governance_cli.target import AwsTarget
from ecr_governance_cli.template_env import function_ids, load_template


def register(subparsers: argparse._SubParsersAction) -> None:
    invoke = subparsers.add_parser(
        "invoke",
        help="run a function of template.yaml in-process, with the environment the template gives it (no Docker)",
        description=(
            "Run a function of a SAM template in-process: the handler module is imported with the environment the "
            "template resolves (Parameter defaults or overrides, Conditions), as a cold start would, and called with "
            "the event. Logs go to stderr, the response to stdout; a function error is the Lambda runtime's payload "
            "and exit 1, as `sam local invoke` reports it. Image functions run their image's handler from the Docker "
            "context, with the packages of this environment."
        ),
    )
    invoke.add_argument(
        "function",
        metavar="FUNCTION",
        nargs="?",
        help="logical id in the template, e.g. EnforceRepositoryFunction (optional when the template has one function)",
    )
    invoke.add_argument(
        "-e", "--event", metavar="FILE", help="event JSON: a file, file://FILE, or - for stdin (default: {}, as sam)"
    )
    invoke.add_argument(
        "-t",
        "--template-file",
        "--template",
        dest="template",
        default=DEFAULT_TEMPLATE,
        metavar="FILE",
        help=f"SAM template (default {DEFAULT_TEMPLATE})",
    )
    invoke.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template Parameter values: Key=Value or ParameterKey=Key,ParameterValue=Value (as sam accepts them)",
    )
    invoke.add_argument(
        "-n",
        "--env-vars",
        metavar="FILE",
        help='environment in `sam local invoke` format: {"FunctionLogicalId": {"VAR": "value"}, "Parameters": {...}}, '
        "applied after the template's values (e.g. GOVERNANCE_ROLE_ARN, which only exists once deployed)",
    )
    add_output_options(invoke, "the response's fields", default="json")
    invoke.set_defaults(func=run)


def _function_and_overrides(args: argparse.Namespace) -> tuple[str, list[str]]:
    """`--parameter-overrides A=1 FUNCTION` hands FUNCTION to the overrides: take it back. No function named: the
    template's only one, as sam picks it."""
    tokens = list(args.parameter_overrides)
    function = args.function
    if function is None and tokens and "=" not in tokens[-1]:
        function = tokens.pop()
    if function is None:
        functions = function_ids(load_template(args.template))
        if len(functions) != 1:
            raise UsageError(
                f"name the function to invoke, one of: {', '.join(functions) or 'none'} "
                "(e.g. `invoke EnforceRepositoryFunction -e FILE`)"
            )
        function = functions[0]
    return function, tokens


def _batch_failures(response: object) -> int:
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    return len(failures) if isinstance(failures, list) else 0


def run(args: argparse.Namespace, target: AwsTarget) -> int:
    function, override_tokens = _function_and_overrides(args)
    event = read_event(args.event)
    env_vars = read_env_vars(args.env_vars, function) if args.env_vars else None
    try:
        response = invoke_function(
            args.template, function, event, parse_overrides(override_tokens), target.environment(), env_vars
        )
    except FunctionError as error:
        payload = error.payload
        emit(args, payload, lambda: generic_table(payload))
        raise
    emit(args, response, lambda: generic_table(response))
    failed = _batch_failures(response)
    if failed:
        raise GovernanceError(f"{function}: {failed} message(s) in batchItemFailures: SQS would deliver them again")
    return Exit.OK
