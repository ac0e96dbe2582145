"""`ecr-governance audit|enforce|invoke|emulator`."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import InputError, RepositoryNotFound

if TYPE_CHECKING:
    from ecr_governance.cli import AwsTarget

EXIT_VIOLATIONS = 3
DEFAULT_TEMPLATE = "template.yaml"


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, help_text in (
        ("audit", "report every repository's compliance (no writes)"),
        ("enforce", "remediate violations (settings from the environment, as the function reads them)"),
    ):
        command = subparsers.add_parser(name, help=help_text, description=help_text)
        command.add_argument(
            "--repository", action="append", metavar="NAME", help="only this repository (repeatable; default: all)"
        )
        command.add_argument("--output", choices=("table", "json"), default="table")
        if name == "enforce":
            command.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
        else:
            command.add_argument(
                "--fail-on-violation",
                action="store_true",
                help=f"exit {EXIT_VIOLATIONS} when a repository is non-compliant (for CI gates)",
            )
        command.set_defaults(func=_run_enforcement, dry_run=name == "audit")

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
    invoke.set_defaults(func=_run_invoke)

    emulator = subparsers.add_parser("emulator", help="serve the embedded AWS emulator (moto) until Ctrl-C")
    emulator.add_argument("--port", type=int, default=5000)
    emulator.set_defaults(func=_run_emulator)


def _run_enforcement(args: argparse.Namespace, target: AwsTarget) -> int:
    from ecr_governance.enforce import Enforcer
    from ecr_governance.registry import EcrRegistry
    from ecr_governance.render import report_json, report_table
    from ecr_governance.settings import Settings

    settings = Settings.from_environ()
    _bind_log_handlers_to(sys.stderr)  # decision logs (if a logger is configured) never mix into the report
    enforcer = Enforcer(EcrRegistry(target.client("ecr")), settings)
    plan = enforcer.assess(args.repository)
    if plan.missing_repositories:  # a name the user typed, unlike an event's, must exist
        raise RepositoryNotFound(", ".join(plan.missing_repositories))
    report = enforcer.apply(plan, dry_run=args.dry_run)
    print(report_json(report) if args.output == "json" else report_table(report))
    if getattr(args, "fail_on_violation", False) and report.summary()["non_compliant_after"]:
        return EXIT_VIOLATIONS
    return 0


class LocalLambdaContext:
    """The attributes Powertools and handlers read from a Lambda context."""

    def __init__(self, function_name: str, timeout_seconds: int = 900, memory_mb: int = 256):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def read_event(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as error:
        raise InputError(f"cannot read event file {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise InputError(f"event file {path} is not valid JSON: {error.msg} at line {error.lineno}") from error


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise InputError(f"parameter override {pair!r} is not KEY=VALUE")
        overrides[key] = value
    return overrides


def invoke_function(
    template_path: str, logical_id: str, event: Any, overrides: dict[str, str], extra_env: dict[str, str]
) -> Any:
    """Import the function's handler with its template environment and call it; restores the environment."""
    from ecr_governance.template_env import function_spec, load_template

    template = load_template(template_path)
    region = extra_env.get("AWS_REGION") or os.environ.get("AWS_REGION") or "ap-southeast-1"
    spec = function_spec(
        template,
        logical_id,
        overrides,
        pseudo={"AWS::Region": region, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"},
    )
    if spec.unresolved:
        print(
            f"note: {', '.join(spec.unresolved)} name resources that exist only once deployed; left empty locally",
            file=sys.stderr,
        )
    module_name, _, function_name = spec.handler.rpartition(".")
    code_dir = str((Path(template_path).resolve().parent / spec.code_uri).resolve())
    environment = {**spec.environment, **{name: "" for name in spec.unresolved}, **extra_env}
    environment.setdefault("AWS_LAMBDA_FUNCTION_NAME", logical_id)
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    sys.path.insert(0, code_dir)
    try:
        # Re-import so module-level settings are parsed from this invocation's environment, as a cold start would.
        sys.modules.pop(module_name, None)
        # Lambda writes logs to its log stream; here they go to stderr so stdout carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            module = importlib.import_module(module_name)
            _bind_log_handlers_to(sys.stdout)
            return getattr(module, function_name)(event, LocalLambdaContext(logical_id))
    finally:
        sys.path.remove(code_dir)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _bind_log_handlers_to(stream: Any) -> None:
    """Powertools keeps the first handler of a service logger across re-imports; point it at this invocation's
    stream, as Lambda points every invocation's output at its log stream."""
    for handler in logging.getLogger(SERVICE_NAME).handlers:
        if isinstance(handler, logging.StreamHandler):
            # Not setStream(): it flushes the previous stream, which an earlier invocation may have closed.
            handler.stream = stream


def _run_invoke(args: argparse.Namespace, target: AwsTarget) -> int:
    event = read_event(args.event)
    result = invoke_function(
        args.template, args.function, event, parse_overrides(args.parameter_overrides), target.environment()
    )
    print(json.dumps(result, indent=2, default=str))
    return 0


def _run_emulator(args: argparse.Namespace, target: AwsTarget) -> int:
    from ecr_governance.emulator import start_emulator

    emulator = start_emulator(args.port)
    print(f"emulator listening on {emulator.endpoint_url} (use --local or --endpoint-url); Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        emulator.stop()
