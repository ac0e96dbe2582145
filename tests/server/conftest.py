"""Fixtures for the retail API tests. The API is the package `app` inside server/, imported the way the image runs
it (working directory server/), so server/ goes on sys.path here instead of installing anything; this directory goes
there too, for the helpers in retail_support.py."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for _path in (_HERE.parents[1] / "server", _HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from app.main import create_app  # noqa: E402 - needs server/ on sys.path first
from app.settings import Settings  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from retail_support import SHIPPED_MODEL  # noqa: E402


@pytest.fixture(scope="session")
def shipped_model() -> dict:
    return json.loads(SHIPPED_MODEL.read_text())


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(model_path=SHIPPED_MODEL))) as test_client:
        yield test_client
