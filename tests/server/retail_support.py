"""Helpers shared by the retail API tests (importable because conftest.py puts this directory on sys.path)."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = REPO_ROOT / "server"
EVENTS_DIR = REPO_ROOT / "events" / "retail-api"
VENV_BIN = Path(sys.executable).parent
SHIPPED_MODEL = SERVER_DIR / "app" / "model" / "model.json"
EVENT_FILES = sorted(EVENTS_DIR.glob("*.json"))
# What each event in events/retail-api/ must get from the Lambda handler, in process and in the image under the
# Runtime Interface Emulator alike: event file -> (status, what the body must show).
EXPECTED = {
    "http-api-v2-health.json": (200, lambda body: body == {"status": "ok"}),
    "http-api-v2-predict-item.json": (200, lambda body: len(body["predictions"]) == 1),
    "function-url-predict-batch.json": (
        200,
        lambda body: [p["product_id"] for p in body["predictions"]] == ["P0001", "P0007"],
    ),
    "function-url-model.json": (200, lambda body: body["name"] and body["stores"] and body["products"]),
    "function-url-predict-unknown-store.json": (422, lambda body: body["detail"][0]["field"] == "store_id"),
}


def item(**overrides: object) -> dict[str, object]:
    """One valid prediction item for the shipped model; override fields to make it what a test needs."""
    return {
        "store_id": "S001",
        "product_id": "P0001",
        "date": "2026-01-09",
        "price": 2.79,
        "promotion": False,
    } | overrides


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningServer:
    """A uvicorn subprocess on loopback; stdout (the JSON logs) is kept for assertions."""

    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        self.process = process
        self.base_url = base_url

    def stop(self) -> str:
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate(timeout=10)
        return output


def start_uvicorn(command: list[str], env: dict[str, str], port: int, timeout: float = 20.0) -> RunningServer:
    """Start `command` in server/ and wait (bounded) until GET /health answers 200."""
    process = subprocess.Popen(
        command, cwd=SERVER_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    server = RunningServer(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"uvicorn exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    output = server.stop()
    raise AssertionError(f"uvicorn did not answer /health within {timeout}s:\n{output}")


def subprocess_env(**overrides: str) -> dict[str, str]:
    """A clean environment for child processes: the venv first on PATH, nothing inherited that could change them."""
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
    }
    env.update(overrides)
    return env


def dockerfile_stages(path: Path = SERVER_DIR / "Dockerfile") -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined and comments dropped.
    Instructions before the first FROM (global ARGs) form stage 0."""
    stages: list[list[tuple[str, str]]] = [[]]
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        instruction, _, arguments = logical.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), arguments.strip()))
        logical = ""
    return stages


def instructions(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [arguments for instruction, arguments in stage if instruction == name]


def image_command_and_env(port: int) -> tuple[list[str], dict[str, str]]:
    """The runtime stage's CMD with the host and port swapped for loopback, and its ENV (PATH aside)."""
    runtime = dockerfile_stages()[-1]
    [cmd] = instructions(runtime, "CMD")
    command = json.loads(cmd)
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    command[0] = str(VENV_BIN / command[0])
    env = {}
    for declaration in instructions(runtime, "ENV"):
        for pair in shlex.split(declaration):
            name, _, value = pair.partition("=")
            if name != "PATH":
                env[name] = value
    return command, env
