"""Every `ecr-governance` command the README and docs/ show, run as written, in order, as a new user would: each must
exit as its page says (0 unless its comment says `exit N`). The pages are parsed, so docs and code cannot drift.

A page's `emulator ... &` line (re)starts the emulator with that very command and `kill %1` stops it; a command with
no emulator running gets a seeded one. The commands run in bash from the project root with the endpoint the walk
chose (ECR_GOVERNANCE_LOCAL_ENDPOINT) and AWS_ENDPOINT_URL pointing there too, so an example written for an account
(`$E findings summary`) reads the seeded emulator. Lines of other kinds in those blocks (make, sam, export) are
named in NOT_WALKED - anything else fails the test, so no new kind of example escapes it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from local_ports import free_port

pytestmark = pytest.mark.integration
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# docs/index.md is the README, copied by `make docs`: not a page of its own.
PAGES = [PROJECT_ROOT / "README.md", *sorted(p for p in (PROJECT_ROOT / "docs").glob("*.md") if p.name != "index.md")]
CLI = re.compile(r"(\.venv/bin/ecr-governance|\$E)\b")
EMULATOR_START = re.compile(r"ecr-governance emulator\b.*&\s*$")
HELPERS = ("E=", "mkdir -p .local", "kill %1")
# Lines of a command block the walk does not run, and why: make targets (the tests cover them), the real sam CLI
# (tests/integration/test_sam_local_invoke.py), and shell set-up for it.
NOT_WALKED = ("make ", ".venv/bin/sam ", "export DOCKER_HOST=")
EXPECTED_EXIT = re.compile(r"#.*\bexit (\d+)")


@dataclass(frozen=True)
class Example:
    page: str
    line: str
    expected: int


def _blocks(text: str) -> list[list[str]]:
    """The shell blocks of a page (fenced without a language, or as sh/bash/shell), continuation lines joined."""
    blocks, current, fenced = [], None, False
    for line in text.splitlines():
        if line.startswith("```"):
            if fenced and current is not None:
                blocks.append(current)
            current = [] if not fenced and line.strip() in ("```", "```sh", "```bash", "```shell") else None
            fenced = not fenced
        elif current is not None:
            if current and current[-1].endswith("\\"):
                current[-1] = current[-1][:-1] + " " + line.strip()
            else:
                current.append(line)
    return blocks


def documented_examples() -> list[Example]:
    examples = []
    for page in PAGES:
        for block in _blocks(page.read_text()):
            if not any(CLI.search(line) for line in block):
                continue
            for line in block:
                command = line.split(" #", 1)[0].strip()
                if not command:
                    continue
                if CLI.search(command) or command.startswith(HELPERS):
                    match = EXPECTED_EXIT.search(line)
                    examples.append(Example(page.name, line.strip(), int(match.group(1)) if match else 0))
                else:
                    assert command.startswith(NOT_WALKED), f"{page.name}: a command the walk does not know: {line}"
    return examples


def test_the_walk_finds_the_examples_of_every_page_with_commands():
    pages = {example.page for example in documented_examples()}
    assert {"README.md", "cli.md", "findings.md", "lifecycle.md", "sweep.md"} <= pages
    assert sum(1 for example in documented_examples() if example.expected == 2) >= 3  # usage errors shown too


class Walk:
    def __init__(self) -> None:
        endpoint = f"http://127.0.0.1:{free_port()}"
        self.environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "ECR_GOVERNANCE_LOCAL_ENDPOINT": endpoint,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "ap-southeast-1",
        }
        self.emulator: subprocess.Popen | None = None
        self.variables = ""  # E=... lines, as the shell would keep them

    def start(self, command: str) -> None:
        self.stop()
        self.emulator = subprocess.Popen(
            ["bash", "-c", f"{self.variables}exec {command.rstrip().removesuffix('&')}"],
            cwd=PROJECT_ROOT,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert "listening" in (self.emulator.stdout.readline() if self.emulator.stdout else ""), command

    def stop(self) -> None:
        if self.emulator is not None:
            self.emulator.terminate()
            self.emulator.wait(timeout=30)
            self.emulator = None

    def run(self, example: Example) -> subprocess.CompletedProcess:
        command = example.line.split(" #", 1)[0].strip()
        if command.startswith("E="):
            self.variables += f"{command}; "
        if EMULATOR_START.search(command):
            self.start(command)
            return subprocess.CompletedProcess(command, 0, "", "")
        if command == "kill %1":
            self.stop()
            return subprocess.CompletedProcess(command, 0, "", "")
        if self.emulator is None and CLI.search(command):
            self.start(".venv/bin/ecr-governance emulator --seed &")
        return subprocess.run(
            ["bash", "-c", f"{self.variables}{command}"],
            cwd=PROJECT_ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=120,
        )


def test_every_documented_command_exits_as_its_page_says():
    walk, failures = Walk(), []
    try:
        for example in documented_examples():
            result = walk.run(example)
            if result.returncode != example.expected or "Traceback" in result.stderr:
                failures.append(
                    f"{example.page}: {example.line}\n  exit {result.returncode}, expected {example.expected}: "
                    f"{result.stderr.strip()[-600:]}"
                )
    finally:
        walk.stop()
    assert not failures, "\n".join(failures)


def test_expected_exit_codes_are_read_from_the_comment():
    assert EXPECTED_EXIT.search("$E audit --local   # exit 3: 7 non-compliant").group(1) == "3"
    assert EXPECTED_EXIT.search("$E audit --local   # the exit code") is None
