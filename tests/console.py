"""The console script run as a user runs it (a subprocess), shared by the unit smoke tests and the integration ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "ecr_governance_cli"]


def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    environment.update(env or {})
    return subprocess.run(
        [*CLI, *argv], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=timeout
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], expected: str, code: int = 1) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("ecr-governance: note:")]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0], lines[0]
