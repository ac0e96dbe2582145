"""The app served the way the image serves it: the Dockerfile's CMD and ENV, run by real uvicorn from server/,
called over HTTP on loopback."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from retail_support import (
    SERVER_DIR,
    SHIPPED_MODEL,
    VENV_BIN,
    RunningServer,
    dockerfile_stages,
    free_port,
    image_command_and_env,
    instructions,
    item,
    start_uvicorn,
    subprocess_env,
)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    port = free_port()
    command, image_env = image_command_and_env(port)
    assert command[1:3] == ["app.main:app", "--host"], command
    running = start_uvicorn(command, subprocess_env(**image_env), port)
    yield running
    if running.process.poll() is None:
        running.stop()


def test_probes_and_model_over_http(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=5.0) as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/ready").json()["status"] == "ready"
        shipped_version = json.loads(SHIPPED_MODEL.read_text())["version"]
        assert http.get("/v1/model").json()["version"] == shipped_version


def test_predict_over_http_with_keep_alive(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=5.0) as http:
        single = http.post("/v1/predict", json=item(), headers={"X-Request-ID": "uvicorn-single"})
        batch = http.post("/v1/predict", json={"items": [item(store_id=f"S00{n}") for n in range(1, 6)]})
        invalid = http.post("/v1/predict", json=item(price=-1))
        too_many = http.post("/v1/predict", json={"items": [item()] * 1001})
    assert single.status_code == 200 and single.headers["x-request-id"] == "uvicorn-single"
    assert [p["store_id"] for p in batch.json()["predictions"]] == ["S001", "S002", "S003", "S004", "S005"]
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["field"] == "price"
    assert too_many.status_code == 413
    assert all(r.headers.get("x-request-id") for r in (batch, invalid, too_many))


def test_docker_healthcheck_command_passes_against_the_running_app(server: RunningServer) -> None:
    [healthcheck] = instructions(dockerfile_stages()[-1], "HEALTHCHECK")
    probe = json.loads(healthcheck.split("CMD", 1)[1])
    code = probe[-1].replace("http://127.0.0.1:8000", server.base_url)
    assert code != probe[-1]
    result = subprocess.run([str(VENV_BIN / probe[0]), *probe[1:-1], code], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_shutdown_is_graceful_and_every_log_line_is_json(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=5.0) as http:
        http.get("/health", headers={"X-Request-ID": "last-call"})
    output = server.stop()
    # uvicorn finishes the shutdown, then re-raises SIGTERM so the exit status tells the supervisor why it stopped.
    assert server.process.returncode in (0, -signal.SIGTERM), output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # raises on any non-JSON line
    access = [line for line in lines if line["logger"] == "retail_api.access"]
    assert {"method", "path", "status", "duration_ms", "request_id"} <= set(access[-1])
    assert access[-1]["request_id"] == "last-call" and access[-1]["status"] == 200
    assert any(line["message"] == "model loaded" for line in lines)
    assert lines[-2]["message"] == "Application shutdown complete."
    assert not any("color_message" in line for line in lines)
    assert not any(line["logger"] == "uvicorn.access" for line in lines), "uvicorn's access log would double up"


def test_started_from_the_repository_root_it_says_where_to_run_it() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "uvicorn"), "server.app.main:app", "--port", str(free_port())],
        cwd=SERVER_DIR.parent,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "retail-api: this package is `app`, run from server/" in result.stderr
    assert "--app-dir server app.main:app" in result.stderr
