"""One version of each dependency: what `sam build` bundles, what pyproject declares and what `make` installs agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def _normalized(name: str) -> str:
    """PEP 503 name normalization: `aws_lambda_powertools` and `AWS-Lambda-Powertools` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in requirements:
        match = PIN.match(line.split("#", 1)[0])
        if match:
            name = _normalized(match.group(1))
            assert name not in pins, f"{name} is pinned twice"
            pins[name] = match.group(3)
    return pins


def _file_pins(relative: str) -> dict[str, str]:
    return _pins((PROJECT_ROOT / relative).read_text().splitlines())


def _pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


def test_pin_reader_reads_names_extras_and_comments() -> None:
    assert _pins(["moto[server]==5.2.5  # emulator", "# boto3==0", "aws_lambda_powertools==3.37.0", "x>=1"]) == {
        "moto": "5.2.5",
        "aws-lambda-powertools": "3.37.0",
    }


def test_every_bundled_pin_is_the_declared_and_installed_version() -> None:
    bundled = _file_pins("functions/requirements.txt")
    declared = _pins(_pyproject()["project"]["dependencies"])
    installed = _file_pins("requirements-dev.txt")
    assert bundled, "functions/requirements.txt pins nothing"
    for name, version in bundled.items():
        assert declared.get(name) == version, f"{name}: bundled {version}, pyproject says {declared.get(name)}"
        assert installed.get(name) == version, (
            f"{name}: bundled {version}, requirements-dev.txt has {installed.get(name)}"
        )


def test_every_declared_dependency_is_pinned_and_installed_at_that_version() -> None:
    project = _pyproject()["project"]
    installed = _file_pins("requirements-dev.txt")
    for group, requirements in [("dependencies", project["dependencies"]), *project["optional-dependencies"].items()]:
        pins = _pins(requirements)
        assert len(pins) == len(requirements), f"[project].{group} has an unpinned requirement: {requirements}"
        for name, version in pins.items():
            assert installed.get(name) == version, (
                f"{group}: {name}=={version}, requirements-dev.txt: {installed.get(name)}"
            )


def test_checkov_has_its_own_complete_lock() -> None:
    """checkov pins boto3 and networkx versions the project's lock cannot hold: requirements-checkov.txt locks its own
    venv (make lint), every line pinned."""
    lines = [
        line.strip()
        for line in (PROJECT_ROOT / "requirements-checkov.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = _pins(lines)
    assert len(pins) == len(lines), "requirements-checkov.txt has an unpinned line"
    assert "checkov" in pins
