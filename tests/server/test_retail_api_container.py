"""The built image run as a real container (podman): who it runs as, its HEALTHCHECK, the API over HTTP, a read-only
root filesystem, a clean stop on SIGTERM, nothing left to install or compile with, its size, and its dependencies
available for arm64 (the Lambda's architecture). `make image-test`; each check is one test."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from container_support import REPORT, inspect, logs, podman, running, wait_until
from retail_support import SERVER_DIR, dockerfile_stages, free_port, instructions, item

pytestmark = pytest.mark.container

APP_UID = 10001
SIZE_BUDGET_MB = 200  # measured 142 MB on the Debian stand-in base; the official slim base is about the same
STOP_GRACE_SECONDS = 10  # podman/docker stop's default; ECS and Kubernetes allow 30
# Lambda runs python3.13 arm64 on Amazon Linux 2023 (glibc 2.34): a wheel for any manylinux up to 2.34 installs.
LAMBDA_PLATFORMS = ["manylinux2014_aarch64", *(f"manylinux_2_{minor}_aarch64" for minor in range(17, 35))]


def published_port() -> tuple[str, str]:
    """A free loopback port for the container's 8000: (base URL, --publish value)."""
    port = free_port()
    return f"http://127.0.0.1:{port}", f"127.0.0.1:{port}:8000"


@pytest.fixture(scope="module")
def api(retail_image: str) -> Iterator[tuple[str, str]]:
    """(container name, base URL): the image's default command with a read-only root filesystem."""
    base_url, publish = published_port()
    with running(retail_image, "--read-only", "--publish", publish) as name:
        wait_until(lambda: httpx.get(f"{base_url}/health", timeout=1).status_code == 200, 30, "GET /health")
        yield name, base_url


def test_image_size_is_within_budget(retail_image: str) -> None:
    size_mb = inspect(retail_image, "image")["Size"] / 1e6
    REPORT["image size"] = f"{size_mb:.0f} MB (budget {SIZE_BUDGET_MB} MB)"
    assert size_mb < SIZE_BUDGET_MB


def test_runs_as_a_non_root_user(retail_image: str, api: tuple[str, str]) -> None:
    name, _ = api
    assert inspect(retail_image, "image")["Config"]["User"] == f"{APP_UID}:{APP_UID}"
    status = podman("exec", name, "cat", "/proc/1/status").stdout
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert uids == [str(APP_UID)] * 4, "uvicorn (PID 1) runs as the app user, real and effective"


def test_healthcheck_is_declared_and_passes(retail_image: str, api: tuple[str, str]) -> None:
    name, _ = api
    healthcheck = inspect(retail_image, "image")["Healthcheck"]
    assert healthcheck and "http://127.0.0.1:8000/health" in healthcheck["Test"][-1], "built with --format docker"
    result = podman("healthcheck", "run", name, check=False)
    status = inspect(name)["State"]["Health"]["Status"]
    REPORT["health check"] = f"{status} (podman healthcheck run: exit {result.returncode})"
    assert result.returncode == 0 and status == "healthy", result.stdout + result.stderr


def test_health_and_a_prediction_are_answered(api: tuple[str, str]) -> None:
    _, base_url = api
    with httpx.Client(base_url=base_url, timeout=5) as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/ready").json()["status"] == "ready"
        answer = http.post("/v1/predict", json=item())
        assert answer.status_code == 200, answer.text
        [prediction] = answer.json()["predictions"]
        assert prediction["store_id"] == "S001" and prediction["predicted_units"] > 0


def test_root_filesystem_is_read_only(api: tuple[str, str]) -> None:
    name, _ = api
    assert inspect(name)["HostConfig"]["ReadonlyRootfs"] is True
    for path in ("/srv/retail-api/app/injected.py", "/opt/venv/injected.pth", "/injected"):
        attempt = podman("exec", name, "python", "-c", f"open({path!r}, 'w')", check=False)
        assert attempt.returncode != 0 and "Read-only file system" in attempt.stderr, path


def test_sigterm_stops_the_server_cleanly_within_the_grace_period(retail_image: str) -> None:
    base_url, publish = published_port()
    with running(retail_image, "--read-only", "--publish", publish) as name:
        wait_until(lambda: httpx.get(f"{base_url}/health", timeout=1).status_code == 200, 30, "GET /health")
        started = time.monotonic()
        podman("kill", "--signal", "TERM", name)
        exit_code = podman("wait", name, timeout=STOP_GRACE_SECONDS).stdout.strip()
        elapsed = time.monotonic() - started
        output = logs(name)
    REPORT["SIGTERM"] = f"exit {exit_code} after {elapsed:.1f} s (grace {STOP_GRACE_SECONDS} s)"
    assert exit_code == "0", output
    assert elapsed < STOP_GRACE_SECONDS
    assert "Application shutdown complete." in output and "Traceback" not in output


NO_TOOLS_PROBE = r"""
import importlib.util, json, os, shutil, sys
found = []
for python in ("/usr/local/bin/python", "/opt/venv/bin/python"):
    import subprocess
    if subprocess.run([python, "-c", "import pip"], capture_output=True).returncode == 0:
        found.append(python + ": import pip")
tools = {"pip", "pip3", "pip3.13", "cc", "gcc", "g++", "c++", "clang", "clang++", "tcc", "ld", "as", "make"}
for directory in ("/usr/local/bin", "/usr/bin", "/bin", "/opt/venv/bin", "/usr/local/sbin", "/usr/sbin"):
    if os.path.isdir(directory):
        found += [os.path.join(directory, name) for name in os.listdir(directory)
                  if name in tools or name.startswith(("gcc-", "x86_64-linux-gnu-gcc", "aarch64-linux-gnu-gcc"))]
for root in ("/usr", "/opt"):
    for folder, dirs, files in os.walk(root):
        found += [os.path.join(folder, d) for d in dirs if d == "pip" and folder.endswith("-packages")]
        found += [os.path.join(folder, f) for f in files if f.startswith("pip-") and f.endswith(".whl")]
print(json.dumps(found))
"""


def test_no_installer_or_compiler_is_left_in_the_runtime_image(retail_image: str) -> None:
    probe = podman("run", "--rm", "--read-only", retail_image, "python", "-c", NO_TOOLS_PROBE)
    assert json.loads(probe.stdout) == []


def test_every_pinned_dependency_has_an_arm64_wheel(tmp_path: Path) -> None:
    """The Lambda is arm64 and the Dockerfile installs wheels only: each pin must have one for Lambda's platform."""
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            *(option for platform in LAMBDA_PLATFORMS for option in ("--platform", platform)),
            "--python-version", "3.13", "--implementation", "cp",
            "--dest", str(tmp_path), "--requirement", str(SERVER_DIR / "requirements.txt"),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    pins = [line.split("#")[0].strip() for line in (SERVER_DIR / "requirements.txt").read_text().splitlines()]
    wheels = sorted(path.name for path in tmp_path.glob("*.whl"))
    assert len(wheels) == len([pin for pin in pins if pin]), wheels
    native = [wheel for wheel in wheels if "aarch64" in wheel]
    REPORT["arm64 wheels"] = f"{len(wheels)} pins, all available ({len(native)} native aarch64, the rest pure Python)"


def test_the_image_runs_the_dockerfile_command(retail_image: str) -> None:
    """What the container tests above ran is the Dockerfile's CMD, not something a test passed in."""
    [cmd] = instructions(dockerfile_stages()[-1], "CMD")
    assert inspect(retail_image, "image")["Config"]["Cmd"] == json.loads(cmd)
