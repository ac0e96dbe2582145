"""`ecr-governance`: the command line. Also `python -m ecr_governance_cli`.

The CLI is a composition root like the handlers: it builds clients from the global options (target.py) and hands
them to the adapters. Every error a user can cause is one line on stderr and a non-zero exit (1; usage errors 2);
the global options go before or after the command, as with the AWS CLI.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from ecr_governance import __version__
from ecr_governance.errors import EndpointUnreachable, GovernanceError

from ecr_governance_cli.commands import emulator, enforce, findings, invoke, lifecycle, sweep
from ecr_governance_cli.target import LOCAL_ENDPOINT, AwsTarget

EXIT_ERROR = 1
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what Unix tools exit with when their reader goes away
GLOBAL_OPTIONS = ("region", "profile", "endpoint_url", "local", "debug")


def _add_global_options(parser: argparse.ArgumentParser, after_command: bool) -> None:
    """The global options; after a command they default to SUPPRESS, so a value given before the command stays."""
    default: dict = {"default": argparse.SUPPRESS} if after_command else {}
    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument("--region", help="AWS region (default: the standard AWS configuration)", **default)
    group.add_argument("--profile", help="AWS named profile (default: the standard credential chain)", **default)
    group.add_argument("--endpoint-url", help="an AWS-compatible endpoint, e.g. a moto server", **default)
    group.add_argument(
        "--local",
        action="store_true",
        help=f"use the embedded emulator at {LOCAL_ENDPOINT} (start it with `ecr-governance emulator`)",
        **default,
    )
    group.add_argument(
        "--debug", action="store_true", help="log every AWS request and response (botocore) to stderr", **default
    )


def _command_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below `parser` (commands and their actions, e.g. `lifecycle preview`)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.append(child)
                found.extend(_command_parsers(child))
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecr-governance",
        description=(
            "Governance for Amazon ECR: enforce repository settings, preview lifecycle policies, read scan findings, "
            "sweep untagged images."
        ),
    )
    parser.add_argument("--version", action="version", version=f"ecr-governance {__version__}")
    _add_global_options(parser, after_command=False)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (enforce, invoke, emulator, lifecycle, findings, sweep):
        module.register(subparsers)
    for command in _command_parsers(parser):
        _add_global_options(command, after_command=True)
    return parser


def _log_aws_wire(enabled: bool) -> None:
    if not enabled:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("botocore", "urllib3"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly, and keep the interpreter's final flush from complaining.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    _log_aws_wire(args.debug)
    target = AwsTarget(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url, local=args.local)
    try:
        return int(args.func(args, target) or 0)
    except EndpointUnreachable as error:
        hint = " - is the emulator running? start it with `ecr-governance emulator`" if args.local else ""
        print(f"ecr-governance: error: {error}{hint}", file=sys.stderr)
        return EXIT_ERROR
    except GovernanceError as error:
        print(f"ecr-governance: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
