"""Run a function of a SAM template in-process, as `sam local invoke` would without Docker: the template's resolved
environment, a fresh import of the handler module (its cold start), logs on stderr and the result on stdout."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import InputError

from ecr_governance_cli.template_env import function_spec, load_template

DEFAULT_TEMPLATE = "template.yaml"
DEFAULT_REGION = "ap-southeast-1"
LOCAL_ACCOUNT_ID = "123456789012"


class LocalLambdaContext:
    """The attributes Powertools and handlers read from a Lambda context."""

    def __init__(self, function_name: str, timeout_seconds: int = 900, memory_mb: int = 256):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:local:{LOCAL_ACCOUNT_ID}:function:{function_name}"
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
    template = load_template(template_path)
    region = extra_env.get("AWS_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
    spec = function_spec(
        template,
        logical_id,
        overrides,
        pseudo={"AWS::Region": region, "AWS::AccountId": LOCAL_ACCOUNT_ID, "AWS::Partition": "aws"},
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
            bind_log_handlers_to(sys.stdout)  # what the cold start logs (a handler of an earlier import)
            module = importlib.import_module(module_name)
            bind_log_handlers_to(sys.stdout)  # and a handler the import created
            return getattr(module, function_name)(event, LocalLambdaContext(logical_id))
    finally:
        sys.path.remove(code_dir)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def bind_log_handlers_to(stream: Any) -> None:
    """Powertools keeps the first handler of a service logger across re-imports; point it at this invocation's
    stream, as Lambda points every invocation's output at its log stream."""
    for handler in logging.getLogger(SERVICE_NAME).handlers:
        if isinstance(handler, logging.StreamHandler):
            # Not setStream(): it flushes the previous stream, which an earlier invocation may have closed.
            handler.stream = stream
