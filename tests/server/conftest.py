"""Fixtures for the retail API tests. The API is the package `app` inside server/, imported the way the image runs
it (working directory server/), so server/ goes on sys.path here instead of installing anything; this directory goes
there too, for the helpers in retail_support.py."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for _path in (_HERE.parents[1] / "server", _HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# The app configures logging for its process (JSON on stdout, through the root logger). In this shared pytest process
# that is put back after each use, so the other suites keep the logging they expect.
_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


def _logging_state() -> list[tuple[logging.Logger, list[logging.Handler], int, bool]]:
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    return [(logger, logger.handlers[:], logger.level, logger.propagate) for logger in loggers]


def _restore(state: list[tuple[logging.Logger, list[logging.Handler], int, bool]]) -> None:
    for logger, handlers, level, propagate in state:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


_before_import = _logging_state()
from app.main import create_app  # noqa: E402 - needs server/ on sys.path first; builds (and logs) the module's app
from app.settings import Settings  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from retail_support import SHIPPED_MODEL  # noqa: E402

_restore(_before_import)


@pytest.fixture(autouse=True)
def _app_logging_is_put_back() -> Iterator[None]:
    state = _logging_state()
    yield
    _restore(state)


@pytest.fixture(scope="session")
def shipped_model() -> dict:
    return json.loads(SHIPPED_MODEL.read_text())


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(model_path=SHIPPED_MODEL))) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def retail_image() -> str:
    """The retail API image in podman's storage: RETAIL_API_IMAGE when given, else built now (cached layers make
    a rebuild take seconds). Tools and bases come from ecr_governance_cli.containers; what cannot be had fails the
    test with that one line, never a skip."""
    from container_support import REPORT
    from ecr_governance_cli import containers

    started = time.monotonic()
    try:
        image = os.environ.get("RETAIL_API_IMAGE") or containers.build_retail_image(engine="podman")
    except containers.ContainerError as error:
        pytest.fail(f"cannot build the retail API image: {error}", pytrace=False)
    REPORT["image"] = f"{image} (ready in {time.monotonic() - started:.0f} s)"
    return image


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from container_support import REPORT

    if REPORT:
        terminalreporter.section("retail API image")
        for name, value in REPORT.items():
            terminalreporter.write_line(f"{name}: {value}")
