"""The Lambda side of the image: the Mangum handler with API Gateway HTTP API (v2) and Function URL events from
events/retail-api/ (the files `sam local invoke -e` takes), and the template's ImageConfig command run for real by
awslambdaric against a stand-in Lambda Runtime API on loopback."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from retail_support import (
    EVENT_FILES,
    EVENTS_DIR,
    EXPECTED,
    SERVER_DIR,
    dockerfile_stages,
    instructions,
    subprocess_env,
)
from samcli.yamlhelper import yaml_parse


@dataclass
class FakeLambdaContext:
    aws_request_id: str = "3f1c2b9e-8d7a-4c6b-9e5f-0a1b2c3d4e5f"
    function_name: str = "retail-api-RetailApiFunction-AbCdEf123456"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:ap-southeast-1:123456789012:function:retail-api-RetailApiFunction-AbCdEf123456"
    )


def load_event(path: Path) -> dict:
    return json.loads(path.read_text())


def test_every_event_file_has_an_expectation() -> None:
    assert {path.name for path in EVENT_FILES} == set(EXPECTED)


@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda path: path.stem)
def test_mangum_handler_answers_each_event(event_file: Path) -> None:
    from app.lambda_handler import handler

    event = load_event(event_file)
    response = handler(event, FakeLambdaContext())
    status, body_ok = EXPECTED[event_file.name]
    assert response["statusCode"] == status
    assert response["isBase64Encoded"] is False
    assert response["headers"]["content-type"] == "application/json"
    assert body_ok(json.loads(response["body"]))
    client_id = event["headers"].get("x-request-id")
    assert response["headers"]["x-request-id"] == (client_id or FakeLambdaContext.aws_request_id)


def test_function_url_and_http_api_events_are_both_version_2() -> None:
    versions = {path.name.split("-")[0]: load_event(path)["version"] for path in EVENT_FILES}
    assert versions == {"http": "2.0", "function": "2.0"}
    url_event = load_event(EVENTS_DIR / "function-url-predict-batch.json")
    assert url_event["requestContext"]["domainName"].endswith(".lambda-url.ap-southeast-1.on.aws")
    assert "iam" in url_event["requestContext"]["authorizer"]  # AuthType AWS_IAM, the template's default


class FakeRuntimeApi:
    """Just enough of the Lambda Runtime API (2018-06-01) to hand out events and collect the responses."""

    def __init__(self, events: list[dict]) -> None:
        self.pending: queue.Queue[tuple[str, dict]] = queue.Queue()
        for number, event in enumerate(events):
            self.pending.put((f"invoke-{number}", event))
        self.responses: dict[str, dict] = {}
        self.errors: list[dict] = []
        self.all_answered = threading.Event()
        self.expected = len(events)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                request_id, event = api.pending.get()  # blocks once every event is handed out
                payload = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", "32503680000000")
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", FakeLambdaContext.invoked_function_arn)
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-6747a3b1-0d3c1f4e5a6b7c8d9e0f1a2b;Sampled=0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                parts = self.path.strip("/").split("/")
                if parts[-1] == "response":
                    api.responses[parts[-2]] = body
                else:
                    api.errors.append({"path": self.path, "body": body})
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if len(api.responses) + len(api.errors) >= api.expected:
                    api.all_answered.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeRuntimeApi:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def image_config() -> dict:
    template = yaml_parse((SERVER_DIR / "template.yaml").read_text())
    return template["Resources"]["RetailApiFunction"]["Properties"]["ImageConfig"]


@pytest.fixture
def runtime_api() -> Iterator[FakeRuntimeApi]:
    with FakeRuntimeApi([load_event(path) for path in EVENT_FILES]) as api:
        yield api


def test_template_command_runs_under_awslambdaric(runtime_api: FakeRuntimeApi) -> None:
    """EntryPoint + Command from template.yaml, run in WorkingDirectory (server/ is /srv/retail-api in the image)."""
    config = image_config()
    [workdir] = instructions(dockerfile_stages()[-1], "WORKDIR")
    assert config["WorkingDirectory"] == workdir
    entry_point = config["EntryPoint"]
    assert entry_point[0] == "/opt/venv/bin/python", "the venv the Dockerfile builds"
    command = [sys.executable, *entry_point[1:], *config["Command"]]
    env = subprocess_env(
        AWS_LAMBDA_RUNTIME_API=runtime_api.address,
        AWS_LAMBDA_FUNCTION_NAME=FakeLambdaContext.function_name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/retail-api",
        AWS_LAMBDA_LOG_STREAM_NAME="2026/11/27/[$LATEST]0123456789abcdef",
        AWS_REGION="ap-southeast-1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    process = subprocess.Popen(
        command, cwd=SERVER_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        answered = runtime_api.all_answered.wait(timeout=20)
    finally:
        process.kill()
        output = process.communicate(timeout=10)[0]
    assert answered, f"awslambdaric did not answer every event:\n{output}"
    assert runtime_api.errors == [], output
    for number, path in enumerate(EVENT_FILES):
        response = runtime_api.responses[f"invoke-{number}"]
        status, body_ok = EXPECTED[path.name]
        assert response["statusCode"] == status, (path.name, response)
        assert body_ok(json.loads(response["body"]))
    # The invocation id becomes the request id when the client sent none: API logs line up with Lambda's REPORT.
    assert '"request_id":"invoke-0"' in output
