"""`ecr-governance`: the command line. Also `python -m ecr_governance_cli`.

The CLI is a composition root like the handlers: it builds clients from the global options (target.py) and hands
them to the adapters. The global options go before or after the command, as with the AWS CLI. Every command keeps
one exit-code contract (exits.py) and one output contract (output.py); every error a user can cause is one line on
stderr. The command modules (and boto3 with them) are imported only once main() runs, so a Ctrl-C at any moment
ends with exit 130 and no traceback. With --accounts, --organization or --regions, the commands that can (audit,
enforce, sweep, findings summary) run in every account-region chosen (fleet.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from ecr_governance import __version__
from ecr_governance.errors import EndpointUnreachable, GovernanceError, InputError

from ecr_governance_cli import fleet
from ecr_governance_cli.exits import BROKEN_PIPE, Exit
from ecr_governance_cli.parsing import Parser, UsageError
from ecr_governance_cli.target import LOCAL_ENDPOINT, AwsTarget

GLOBAL_OPTIONS = ("region", "profile", "endpoint_url", "local", "debug")


# Commands that may run without AWS (an offline preview, the emulator itself): their target is checked when they
# first ask for a client. Every other command checks it before it loads.
OFFLINE_CAPABLE = frozenset({"emulator", "lifecycle"})


def _add_global_options(parser: argparse.ArgumentParser, after_command: bool, checked: bool = True) -> None:
    """The global options; after a command they default to SUPPRESS, so a value given before the command stays.
    `checked=False` (the early look at the command line) takes the fleet options' values as typed."""
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if after_command else {}
    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument("--region", help="AWS region (default: the standard AWS configuration)", **default)
    group.add_argument("--profile", help="AWS named profile (default: the standard credential chain)", **default)
    group.add_argument("--endpoint-url", help="an AWS-compatible endpoint, e.g. a moto server", **default)
    group.add_argument(
        "--local",
        action="store_true",
        help=f"use the embedded emulator at {LOCAL_ENDPOINT} and its region (start it with `ecr-governance emulator`)",
        **default,
    )
    group.add_argument(
        "--debug", action="store_true", help="log every AWS request and response (botocore) to stderr", **default
    )
    across = parser.add_argument_group(
        "across accounts and regions (audit, enforce, sweep, findings summary; before or after the command)"
    )
    fleet.add_fleet_options(across, default, checked)


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
    from ecr_governance_cli.commands import emulator, enforce, findings, invoke, lifecycle, scanners, sweep

    parser = Parser(
        prog="ecr-governance",
        description=(
            "Governance for Amazon ECR: enforce repository settings, preview lifecycle policies, read scan findings, "
            "sweep untagged images."
        ),
    )
    parser.add_argument("--version", action="version", version=f"ecr-governance {__version__}")
    _add_global_options(parser, after_command=False)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (enforce, invoke, emulator, lifecycle, findings, sweep, scanners):
        module.register(subparsers)
    for command in _command_parsers(parser):
        _add_global_options(command, after_command=True)
        if not command._subparsers:  # a command that runs (`findings summary`, not `findings`): its name in errors
            command.set_defaults(command_name=command.prog.removeprefix(f"{parser.prog} "))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly, and keep the interpreter's final flush from complaining.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE


def _error(message: str, code: Exit) -> int:
    print(f"ecr-governance: error: {message}", file=sys.stderr)
    return code


def _early_target(argv: list[str]) -> AwsTarget:
    """The target from the global options alone, wherever they stand; for a command that needs AWS, a local
    endpoint nothing listens on is refused now, before the command modules (and boto3) load."""
    globals_parser = Parser(add_help=False)
    _add_global_options(globals_parser, after_command=False, checked=False)
    options, rest = globals_parser.parse_known_args(argv)
    target = AwsTarget(
        region=options.region, profile=options.profile, endpoint_url=options.endpoint_url, local=options.local
    )
    command = next((token for token in rest if not token.startswith("-")), None)
    asks_for_help = any(token in ("-h", "--help", "--version") for token in rest)
    if command is not None and command not in OFFLINE_CAPABLE and not asks_for_help:
        target.check_reachable()
    return target


def _run(argv: Sequence[str] | None) -> int:
    from ecr_governance_cli import logs

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        target = _early_target(argv)
        args = build_parser().parse_args(argv)
        logs.setup(debug=args.debug)
        options = fleet.FleetOptions.of(args)  # options that mean nothing together: a usage error, before any call
        if options.requested:
            return fleet.run(args, target, options)
        return int(args.func(args, target) or 0)
    except SystemExit as stop:  # --help, --version, or a usage error argparse printed (one line)
        return int(stop.code or 0)
    except (UsageError, InputError) as error:
        return _error(str(error), Exit.USAGE)
    except EndpointUnreachable as error:
        hint = " - is the emulator running? start it with `ecr-governance emulator`" if "--local" in argv else ""
        return _error(f"{error}{hint}", Exit.ERROR)
    except GovernanceError as error:
        return _error(str(error), Exit.ERROR)
