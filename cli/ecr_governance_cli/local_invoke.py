"""Run a function of a SAM template in-process, as `sam local invoke` would without Docker: the template's resolved
environment, a fresh import of the handler module (its cold start), logs on stderr and the result on stdout.

A function that fails - at its cold start or in its handler - raises FunctionError carrying the payload the Lambda
runtime (and so `sam local invoke`) reports: errorMessage, errorType, requestId, stackTrace."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import shlex
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

from ecr_governance import SERVICE_NAME
from ecr_governance.errors import GovernanceError, InputError

from ecr_governance_cli.inputs import EVENT_FILE_LIMIT, read_json_file
from ecr_governance_cli.template_env import function_spec, load_template

DEFAULT_TEMPLATE = "template.yaml"
SDK_VARIABLES = frozenset({"AWS_ENDPOINT_URL"})  # botocore's own: an empty value means unset
DEFAULT_REGION = "ap-southeast-1"
LOCAL_ACCOUNT_ID = "123456789012"


class LocalLambdaContext:
    """The attributes Powertools and handlers read from a Lambda context."""

    def __init__(
        self, function_name: str, region: str = DEFAULT_REGION, timeout_seconds: int = 900, memory_mb: int = 256
    ):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        # The account the emulator and the sample events use; handlers check events against it.
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionError(GovernanceError):
    """The function failed; `payload` is what the Lambda runtime reports for it."""

    def __init__(self, logical_id: str, payload: dict[str, Any]):
        super().__init__(f"{logical_id} failed: {payload['errorType']}: {payload['errorMessage']}")
        self.payload = payload


def error_payload(error: BaseException, request_id: str = "", error_type: str | None = None) -> dict[str, Any]:
    """What awslambdaric reports for an exception: its message, type and the stack from the function's own code."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__]
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def read_event(path: str | None) -> Any:
    """The event: a file (also `file://FILE`), `-` for stdin, or `{}` when none is given, as `sam local invoke`."""
    return {} if path is None else read_json_file(path, "event file", EVENT_FILE_LIMIT)


SAM_OVERRIDE = re.compile(r"ParameterKey=([^,]+),ParameterValue=(.*)")


def parse_overrides(tokens: list[str]) -> dict[str, str]:
    """Parameter overrides in either of SAM's spellings, `Key=Value` or `ParameterKey=Key,ParameterValue=Value`,
    as separate arguments or space-separated in one (quotes group a value with spaces)."""
    overrides = {}
    for token in tokens:
        try:
            pairs = shlex.split(token)
        except ValueError as error:
            raise InputError(f"parameter overrides {token!r}: {error}") from error
        for pair in pairs:
            match = SAM_OVERRIDE.fullmatch(pair)
            if match:
                key, value = match.groups()
            else:
                key, separator, value = pair.partition("=")
                if not separator or not key:
                    raise InputError(
                        f"parameter override {pair!r} is not Key=Value or ParameterKey=Key,ParameterValue=Value"
                    )
            overrides[key] = value
    return overrides


def read_env_vars(path: str, logical_id: str) -> dict[str, str]:
    """`sam local invoke --env-vars` files: {"Parameters": {...}} for every function, {"<LogicalId>": {...}} for one;
    the function's own entries win."""
    document = read_json_file(path, "env-vars file", EVENT_FILE_LIMIT)
    if not isinstance(document, dict):
        raise InputError(f'env-vars file {path} must be an object like {{"{logical_id}": {{"VAR": "value"}}}}')
    variables: dict[str, str] = {}
    for section in ("Parameters", logical_id):
        entries = document.get(section, {})
        if not isinstance(entries, dict):
            raise InputError(f"env-vars file {path}: {section} must be an object of VAR: value")
        for name, value in entries.items():
            if not isinstance(value, (str, int, float, bool)):
                raise InputError(f"env-vars file {path}: {section}.{name} must be a string, number or boolean")
            variables[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return variables


def invoke_function(  # noqa: PLR0917 - issue 18 reworks the CLI; split there
    template_path: str,
    logical_id: str,
    event: Any,
    overrides: dict[str, str],
    extra_env: dict[str, str],
    env_vars: dict[str, str] | None = None,
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
    env_vars = env_vars or {}
    unresolved = [name for name in spec.unresolved if name not in env_vars]
    if unresolved:
        print(
            f"ecr-governance: note: {', '.join(unresolved)} name resources that exist only once deployed; left empty "
            "locally (set them with --env-vars)",
            file=sys.stderr,
        )
    module_name, _, function_name = spec.handler.rpartition(".")
    code_dir = str((Path(template_path).resolve().parent / spec.code_uri).resolve())
    if not Path(code_dir).is_dir():
        raise InputError(f"{logical_id}: its code directory {code_dir} does not exist")
    # The template declares AWS_ENDPOINT_URL empty (unused when deployed); empty here means "not set", so an endpoint
    # this process already points boto3 at (the tests', the demo's) stays.
    template_environment = {k: v for k, v in spec.environment.items() if not (k in SDK_VARIABLES and v == "")}
    environment = {**template_environment, **{name: "" for name in spec.unresolved}, **env_vars, **extra_env}
    environment.setdefault("AWS_LAMBDA_FUNCTION_NAME", logical_id)
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    sys.path.insert(0, code_dir)
    # The module this process had before (a test's, a library user's) comes back afterwards: the invocation's import
    # was parsed from the invocation's environment and must not outlive it.
    earlier_module = sys.modules.get(module_name)
    try:
        # Re-import so module-level settings are parsed from this invocation's environment, as a cold start would.
        sys.modules.pop(module_name, None)
        # Lambda writes logs to its log stream; here they go to stderr so stdout carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            bind_log_handlers_to(sys.stdout)  # what the cold start logs (a handler of an earlier import)
            module = _import_handler_module(logical_id, module_name, code_dir)
            bind_log_handlers_to(sys.stdout)  # and a handler the import created
            handler = getattr(module, function_name, None)
            if not callable(handler):
                message = f"Handler '{function_name}' missing on module '{module_name}'"
                raise FunctionError(logical_id, error_payload(AttributeError(message), "", "Runtime.HandlerNotFound"))
            context = LocalLambdaContext(logical_id, region)
            try:
                return handler(event, context)
            except Exception as error:  # noqa: BLE001 - whatever the function raises is its error payload
                raise FunctionError(logical_id, error_payload(error, context.aws_request_id)) from error
    finally:
        sys.path.remove(code_dir)
        if earlier_module is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = earlier_module
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _import_handler_module(logical_id: str, module_name: str, code_dir: str) -> Any:
    """Import the handler module as a cold start would; a failed start-up is the function's error (a SettingsError
    naming the variable, or Runtime.ImportModuleError as the Lambda runtime names a module it cannot import)."""
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        if isinstance(error, ModuleNotFoundError) and error.name and module_name.startswith(error.name):
            reason = f"handler module {module_name} not found under {code_dir}"
        elif isinstance(error, ModuleNotFoundError):
            reason = f"{module_name} needs {error.name}, which is not installed: run `make venv`"
        else:
            reason = f"Unable to import module '{module_name}': {error}"
        payload = error_payload(error, "", "Runtime.ImportModuleError")
        raise FunctionError(logical_id, {**payload, "errorMessage": reason}) from error
    except Exception as error:  # noqa: BLE001 - a cold start that raises is the function's error
        raise FunctionError(logical_id, error_payload(error)) from error


def bind_log_handlers_to(stream: Any) -> None:
    """Powertools keeps the first handler of a service logger across re-imports; point it at this invocation's
    stream, as Lambda points every invocation's output at its log stream."""
    for handler in logging.getLogger(SERVICE_NAME).handlers:
        if isinstance(handler, logging.StreamHandler):
            # Not setStream(): it flushes the previous stream, which an earlier invocation may have closed.
            handler.stream = stream
