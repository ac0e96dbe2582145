"""A new user's first session, command by command: the seeded emulator in one process, the CLI in others."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "ecr_governance_cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def seeded_emulator() -> Iterator[dict[str, str]]:
    port = free_port()
    environment = {
        **os.environ,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "ECR_GOVERNANCE_LOCAL_ENDPOINT": f"http://127.0.0.1:{port}",
    }
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        environment.pop(name, None)
    process = subprocess.Popen(
        [*CLI, "emulator", "--seed", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "listening" in line and "sample registry" in line, line + process.stderr.read()
        yield environment
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(environment: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *argv], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=120)


def test_the_seeded_emulator_gives_local_audit_real_repositories(seeded_emulator):
    result = run(seeded_emulator, "audit", "--local", "--output", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary["repositories"] == 8 and summary["non_compliant_after"] > 0


def test_every_sample_event_does_real_work_on_the_seeded_emulator(seeded_emulator):
    statuses = {}
    for event in sorted((PROJECT_ROOT / "events" / "enforce").glob("*.json")):
        result = run(seeded_emulator, "--local", "invoke", "EnforceRepositoryFunction", "--event", str(event))
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert answer["status"] in ("done", "skipped"), answer
        if answer["status"] == "done":
            assert answer["summary"]["repository_gone"] == 0, event.name  # every event names a seeded repository
        statuses[event.name] = answer
    assert sum(answer.get("summary", {}).get("remediated", 0) for answer in statuses.values()) > 0


def test_enforce_in_audit_mode_says_nothing_was_written(seeded_emulator):
    result = run({**seeded_emulator, "GOVERNANCE_MODE": "audit"}, "enforce", "--local")
    assert result.returncode == 0
    assert "GOVERNANCE_MODE=audit: nothing was written" in result.stderr


def test_debug_logs_the_aws_wire_to_stderr_only(seeded_emulator):
    result = run(seeded_emulator, "--local", "--debug", "audit", "--repository", "mlops/retail-api", "--output", "json")
    assert result.returncode == 0
    assert "botocore" in result.stderr and "DescribeRepositories" in result.stderr
    json.loads(result.stdout)  # stdout stays the report


def test_a_region_the_emulator_does_not_know_is_still_one_line(seeded_emulator):
    result = run(seeded_emulator, "--region", "xx-fake-1", "--local", "audit")
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1)
