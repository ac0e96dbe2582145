"""Shared fixtures: the embedded emulator (moto server over real HTTP) and registry builders."""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import property_budget  # noqa: F401 - loads the hypothesis profile (HYPOTHESIS_PROFILE) for every test
import pytest
from ecr_governance_cli.emulator import Emulator, emulator_environment, start_emulator
from registry_builders import REGION


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real account: no profile, no instance metadata, fixed dummy credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    server = start_emulator()
    yield server
    server.stop()


@pytest.fixture
def emulator_endpoint(emulator: Emulator) -> Iterator[str]:
    """A clean emulator for each test, with boto3 pointed at it through AWS_ENDPOINT_URL."""
    request = urllib.request.Request(f"{emulator.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - loopback emulator
    with emulator_environment(emulator.endpoint_url, REGION):
        yield emulator.endpoint_url


@pytest.fixture
def ecr(emulator_endpoint: str) -> Any:
    return boto3.client("ecr", region_name=REGION, endpoint_url=emulator_endpoint)


# `make unit` sets FAST_EXIT=1: once pytest has reported, the process ends with pytest's exit status instead of
# spending 2-3 s tearing its heap down (CPython finalizes every module and object at exit; measured here, it was a
# fifth of the unit loop). Nothing is lost: reports, caches and logs are written before pytest_unconfigure.
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[EXIT_STATUS] = int(exitstatus)


EXIT_STATUS = pytest.StashKey[int]()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if os.environ.get("FAST_EXIT") == "1" and EXIT_STATUS in config.stash:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.stash[EXIT_STATUS])
