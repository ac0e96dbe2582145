"""The same image as a Lambda function: the template's ImageConfig run under the AWS Lambda Runtime Interface Emulator
(it ships inside the SAM CLI package), every event in events/retail-api/ answered as the in-process tests say, the
cold start's INIT duration measured; `sam build` of server/template.yaml through podman's Docker API; and the
stand-in Lambda base image that a local `sam local invoke` of zip functions needs. `make image-test`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from container_support import REPORT, inspect, logs, running, wait_until
from ecr_governance_cli import containers
from retail_support import EVENT_FILES, EXPECTED, REPO_ROOT, SERVER_DIR, VENV_BIN, free_port
from samcli.yamlhelper import yaml_parse

pytestmark = pytest.mark.container

INVOCATIONS = "/2015-03-31/functions/function/invocations"
RIE_IN_CONTAINER = "/usr/local/bin/aws-lambda-rie"


def function_properties() -> dict:
    template = yaml_parse((SERVER_DIR / "template.yaml").read_text())
    return template["Resources"]["RetailApiFunction"]["Properties"]


def rie_options(port: int) -> list[str]:
    """The emulator mounted read-only as the entrypoint, Lambda's read-only root, the function's memory and timeout."""
    return [
        "--read-only",
        "--publish", f"127.0.0.1:{port}:8080",
        "--volume", f"{containers.rie_binary()}:{RIE_IN_CONTAINER}:ro",
        "--entrypoint", RIE_IN_CONTAINER,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def lambda_function(retail_image: str) -> Iterator[tuple[str, str]]:
    """(container name, invocation URL): the image with the template's EntryPoint, Command and WorkingDirectory."""
    properties = function_properties()
    config = properties["ImageConfig"]
    port = free_port()
    options = [
        *rie_options(port),
        "--workdir", config["WorkingDirectory"],
        "--env", f"AWS_LAMBDA_FUNCTION_MEMORY_SIZE={properties['MemorySize']}",
        "--env", f"AWS_LAMBDA_FUNCTION_TIMEOUT={properties['Timeout']}",
    ]  # fmt: skip
    with running(retail_image, *options, command=(*config["EntryPoint"], *config["Command"])) as name:
        url = f"http://127.0.0.1:{port}{INVOCATIONS}"
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=1) is not None, 30, "the emulator")
        yield name, url


@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda path: path.stem)
def test_each_event_is_answered_as_in_process(lambda_function: tuple[str, str], event_file: Path) -> None:
    name, url = lambda_function
    response = httpx.post(url, content=event_file.read_bytes(), timeout=30).json()
    status, body_ok = EXPECTED[event_file.name]
    assert response.get("statusCode") == status, (response, logs(name)[-2000:])
    assert response["headers"]["content-type"] == "application/json"
    assert body_ok(json.loads(response["body"]))


def test_cold_start_init_duration_is_reported(lambda_function: tuple[str, str]) -> None:
    """The emulator initialises on the first invocation and reports it as INIT REPORT (its REPORT line's own
    `Init Duration` stays near 0 under the emulator)."""
    name, url = lambda_function
    health = next(path for path in EVENT_FILES if path.name == "http-api-v2-health.json")
    assert httpx.post(url, content=health.read_bytes(), timeout=30).json()["statusCode"] == 200
    match = re.search(r"INIT REPORT\(durationMs: ([\d.]+)\)", logs(name))
    assert match, logs(name)[-2000:]
    REPORT["Lambda INIT duration"] = f"{float(match.group(1)):.0f} ms (Runtime Interface Emulator, cold start)"
    assert 0 < float(match.group(1)) < 10_000


@pytest.fixture(scope="module")
def docker_host() -> Iterator[str]:
    """podman's Docker API on a unix socket; stopped afterwards unless it was already running."""
    was_running = containers._socket_answers(containers.socket_path())
    try:
        host = containers.start_socket()
    except containers.ContainerError as error:
        pytest.fail(f"cannot start podman's Docker API: {error}", pytrace=False)
    yield host
    if not was_running:
        containers.stop_socket()


def test_sam_build_of_the_template_through_podman(docker_host: str, tmp_path: Path) -> None:
    """A local variant of server/template.yaml (this machine's architecture: arm64 needs CPU emulation, which this
    machine kind lacks; the base and package index as build arguments) built by the real `sam build` over
    DOCKER_HOST. The deployed template stays arm64."""
    pip = containers.pip_index()
    template = containers.local_template(
        SERVER_DIR / "template.yaml",
        tmp_path / "local",
        build_args={"PYTHON_IMAGE": containers.python_base(), **pip.build_args()},
    )
    env = {**os.environ, "DOCKER_HOST": docker_host, "SAM_CLI_TELEMETRY": "0"}
    result = subprocess.run(
        [str(VENV_BIN / "sam"), "build", "--template", str(template), "--build-dir", str(tmp_path / "build")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    built = yaml_parse((tmp_path / "build" / "template.yaml").read_text())
    function = built["Resources"]["RetailApiFunction"]["Properties"]
    assert function["Architectures"] == [containers.architecture()]
    image = function["ImageUri"]
    assert image == "retailapifunction:python3.13-v1"
    assert inspect(image, "image")["Config"]["Cmd"][:2] == ["uvicorn", "app.main:app"]
    REPORT["sam build"] = f"{image} ({containers.architecture()} variant of server/template.yaml, via {docker_host})"


def test_lambda_base_stand_in_runs_a_python_handler(tmp_path: Path) -> None:
    """What `sam local invoke` of a python3.13 zip function runs (SAM adds the emulator on top): bootstrap ->
    awslambdaric -> the handler in /var/task."""
    try:
        image = containers.lambda_base()
    except containers.ContainerError as error:
        pytest.fail(f"cannot make the Lambda base image: {error}", pytrace=False)
    (tmp_path / "handler.py").write_text("def handle(event, context):\n    return {'echo': event['value']}\n")
    port = free_port()
    options = [*rie_options(port), "--volume", f"{tmp_path}:/var/task:ro", "--env", "_HANDLER=handler.handle"]
    with running(image, *options, command=("/var/runtime/bootstrap",)) as name:
        url = f"http://127.0.0.1:{port}{INVOCATIONS}"
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=1) is not None, 30, "the emulator")
        answer = httpx.post(url, json={"value": 42}, timeout=30)
        assert answer.json() == {"echo": 42}, logs(name)[-2000:]
