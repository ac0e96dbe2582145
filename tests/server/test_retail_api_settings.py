"""A bad setting, as an operator meets it: the process the image runs (uvicorn, or awslambdaric under Lambda) stops
at start with one line naming the environment variable and what it accepts, exit status 1, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from app.settings import SettingsError, load_settings
from retail_support import SERVER_DIR, VENV_BIN, free_port, subprocess_env

BAD_SETTINGS = [
    ({"LOG_LEVEL": "LOUD"}, ["LOG_LEVEL='LOUD'", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"]),
    ({"MAX_BODY_BYTES": "12"}, ["MAX_BODY_BYTES='12'", "greater than or equal to 1024"]),
    ({"OPENTELEMETRY": "maybe"}, ["OPENTELEMETRY='maybe'", "valid boolean"]),
]


def start(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=SERVER_DIR, env=subprocess_env(**env), capture_output=True, text=True, timeout=30
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], expected: list[str]) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("retail-api: invalid setting ")
    for text in expected:
        assert text in line


@pytest.mark.parametrize(("env", "expected"), BAD_SETTINGS, ids=[next(iter(env)) for env, _ in BAD_SETTINGS])
def test_uvicorn_stops_with_one_line_naming_the_variable(env: dict[str, str], expected: list[str]) -> None:
    """What `cd server && LOG_LEVEL=LOUD uvicorn app.main:app` (and the image's CMD) prints."""
    command = [str(VENV_BIN / "uvicorn"), "app.main:app", "--host", "127.0.0.1", "--port", str(free_port())]
    assert_one_clear_line(start(command, **env), expected)


def test_lambda_runtime_stops_with_one_line_naming_the_variable() -> None:
    """The template's ImageConfig command: the handler module is imported during init, before any invocation."""
    command = [sys.executable, "-m", "awslambdaric", "app.lambda_handler.handler"]
    result = start(command, LOG_LEVEL="LOUD", AWS_LAMBDA_RUNTIME_API="127.0.0.1:9")
    assert_one_clear_line(result, ["LOG_LEVEL='LOUD'", "'ERROR'"])


def test_several_bad_settings_are_named_on_the_same_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    monkeypatch.setenv("MAX_BODY_BYTES", "lots")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    [line] = str(raised.value).splitlines()
    assert "LOG_LEVEL='LOUD'" in line and "MAX_BODY_BYTES='lots'" in line and "valid integer" in line
