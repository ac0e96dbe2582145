"""The SAM CLI accepts the template and builds the functions without Docker, bundling runtime dependencies only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ecr_governance_cli.template_env import function_spec, load_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAM = Path(sys.executable).parent / "sam"
REGION = "ap-southeast-1"
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
# Development-only distributions that must never reach a Lambda package (import name, distribution prefix).
DEV_ONLY = {"moto": "moto-", "yaml": "pyyaml-", "pytest": "pytest-", "samcli": "aws_sam_cli-"}
# Variables naming deployed resources that are not role ARNs, as they look once deployed.
DEPLOYED_SHAPES = {
    "SWEEP_QUEUE_URL": "https://sqs.ap-southeast-1.amazonaws.com/123456789012/ecr-governance-SweepQueue",
    "SWEEP_RUNS_TABLE": "ecr-governance-SweepRunsTable",
}


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


@pytest.mark.slow
@pytest.mark.parametrize("template", ["template.yaml", "server/repository.yaml"])
def test_sam_validate_lint_accepts_the_template(tool_env: Any, template: str) -> None:
    result = subprocess.run(
        [str(SAM), "validate", "--lint", "--template", template, "--region", REGION],
        cwd=PROJECT_ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory, tool_env: Any) -> Path:
    """`sam build` into a private directory, with a private cache: it must work from nothing, without Docker."""
    root = tmp_path_factory.mktemp("sam-build")
    result = subprocess.run(
        [
            str(SAM),
            "build",
            "--template",
            str(PROJECT_ROOT / "template.yaml"),
            "--build-dir",
            str(root / "build"),
            "--cache-dir",
            str(root / "cache"),
        ],
        cwd=root,  # SAM writes build.toml and dependency caches under the working directory: not the project's
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "build"


@pytest.mark.slow
def test_sam_build_bundles_the_code_and_runtime_dependencies_only(
    build_dir: Path, template: dict[str, Any], function_ids: list[str]
) -> None:
    runtime_pins = _pins(PROJECT_ROOT / "functions" / "requirements.txt")
    for logical_id in function_ids:
        function_dir = build_dir / logical_id
        handler_module = function_spec(template, logical_id, pseudo=PSEUDO).handler.rpartition(".")[0]
        assert (function_dir / Path(*handler_module.split("."))).with_suffix(".py").is_file(), logical_id
        assert (function_dir / "ecr_governance" / "lifecycle" / "policies" / "standard-lifecycle.json").is_file()
        # The developer tools (CLI, demo, emulator, template reader) live in cli/, outside CodeUri.
        ours = [path.relative_to(function_dir) for path in (function_dir / "ecr_governance").rglob("*.py")]
        tools = [path for path in ours if path.stem in {"cli", "demo", "emulator", "callcount", "template_env"}]
        assert tools == [], f"{logical_id} bundles developer tools: {tools}"
        assert not (function_dir / "ecr_governance_cli").exists()
        for package in ("aws_lambda_powertools", "boto3", "botocore"):
            assert (function_dir / package / "__init__.py").is_file(), f"{logical_id}: {package} not bundled"
        entries = {entry.name.lower() for entry in function_dir.iterdir()}
        for module, distribution in DEV_ONLY.items():
            assert module not in entries, f"{logical_id} bundles {module}"
            assert not any(entry.startswith(distribution) for entry in entries), f"{logical_id} bundles {distribution}"
        # The bundled versions are the pinned ones (the runtime's own boto3 may predate what the code calls).
        for name, version in runtime_pins.items():
            distribution = name.replace("-", "_")
            assert f"{distribution}-{version}.dist-info" in entries, f"{logical_id}: {name}=={version} not bundled"
    built = load_template(build_dir / "template.yaml")
    for logical_id in function_ids:
        assert built["Resources"][logical_id]["Properties"]["CodeUri"] == logical_id


@pytest.mark.slow
def test_built_package_imports_its_handler_with_nothing_but_itself(
    build_dir: Path, template: dict[str, Any], function_ids: list[str], tool_env: Any, deployed_values: dict[str, str]
) -> None:
    """`python -S`: no site-packages, so every import the cold start makes must be satisfied by the package."""
    for logical_id in function_ids:
        spec = function_spec(template, logical_id, pseudo=PSEUDO)
        function_dir = build_dir / logical_id
        module_name, _, attribute = spec.handler.rpartition(".")
        probe = (
            "import importlib, sys; "
            f"handler = getattr(importlib.import_module({module_name!r}), {attribute!r}); "
            "assert callable(handler); "
            f"outside = sorted(m for m, mod in sys.modules.items() if getattr(mod, '__file__', None) "
            f"and 'site-packages' in mod.__file__); "
            "assert not outside, outside; "
            f"leaked = sorted(m for m in {sorted(DEV_ONLY)!r} if m in sys.modules); "
            "assert not leaked, leaked; "
            "print('ok')"
        )
        deployed = {name: deployed_values[name] for name in spec.unresolved}
        result = subprocess.run(
            [sys.executable, "-S", "-c", probe],
            cwd=function_dir,
            env=tool_env(PYTHONPATH=str(function_dir), **spec.environment, **deployed),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0 and result.stdout.strip() == "ok", f"{logical_id}: {result.stderr}"
