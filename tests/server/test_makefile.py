"""`make clean` and `make venv` run for real on a copy of the Makefile in a scratch directory (never on this work
tree: clean would remove the venv the tests run in)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from retail_support import REPO_ROOT, subprocess_env


def make(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", *args], cwd=directory, env=subprocess_env(), capture_output=True, text=True, timeout=60
    )


def test_clean_removes_build_output_caches_egg_info_and_pycache(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "Makefile", tmp_path)
    removed = [
        ".venv/bin",
        ".aws-sam/build",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        "functions/ecr_governance.egg-info",
        "functions/ecr_governance/__pycache__",
        "server/app/routers/__pycache__",
        "tests/server/__pycache__",
        "__pycache__",
    ]
    for directory in removed:
        (tmp_path / directory).mkdir(parents=True)
        (tmp_path / directory / "file").write_text("x")
    kept = [tmp_path / "functions/ecr_governance/config.py", tmp_path / "server/app/main.py", tmp_path / "README.md"]
    for path in kept:
        path.write_text("kept")
    result = make(tmp_path, "clean")
    assert result.returncode == 0, result.stderr
    assert [d for d in removed if (tmp_path / d).exists()] == []
    assert all(path.read_text() == "kept" for path in kept)


def test_venv_says_what_it_is_doing_before_the_silent_install(tmp_path: Path) -> None:
    """The pip installs take about 2 minutes the first time with --quiet (measured): the first line says so.
    python3.13 is a stub here that makes a venv whose python does nothing, so the recipe runs for real without
    installing anything."""
    for name in ("Makefile", "requirements-dev.txt", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path)
    stub = tmp_path / "python3.13"
    stub.write_text(
        "#!/bin/sh\nmkdir -p .venv/bin\nprintf '#!/bin/sh\\nexit 0\\n' > .venv/bin/python\nchmod +x .venv/bin/python\n"
    )
    stub.chmod(0o755)
    result = make(tmp_path, "venv", f"PYTHON313={stub}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "creating .venv (python3.13) and installing pinned dependencies (about 2 minutes the first time)..."
    )
    assert (tmp_path / ".venv/.installed").exists()
