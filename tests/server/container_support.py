"""Helpers for the tests that build and run the retail API image with podman (marker `container`, `make image-test`).
The plumbing itself (podman's configuration here, the base images, the socket) is ecr_governance_cli.containers."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from ecr_governance_cli import containers

# Figures the image tests measured, printed at the end of the run (tests/server/conftest.py).
REPORT: dict[str, str] = {}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args], env=containers.podman_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} failed ({result.returncode}):\n{result.stderr}")
    return result


def inspect(name: str, kind: str = "container") -> dict:
    return json.loads(podman(kind, "inspect", name).stdout)[0]


def wait_until(probe, timeout: float, what: str) -> None:
    """Call probe() until it returns true (bounded); transport errors count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout:.0f}s")


@contextmanager
def running(image: str, *options: str, command: tuple[str, ...] = ()) -> Iterator[str]:
    """`podman run -d` a uniquely named container; removed (with its logs on failure kept in the exception) after."""
    name = f"retail-api-test-{uuid.uuid4().hex[:8]}"
    podman("run", "--detach", "--name", name, *options, image, *command)
    try:
        yield name
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def logs(name: str) -> str:
    result = podman("logs", name, check=False)
    return result.stdout + result.stderr
