"""The CLI's one contract, held for every command: the same output options, the exit codes of docs/cli.md's one
table, one-line usage errors, options spelt in full, fast refusal when the emulator is not there, and Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ecr_governance_cli.exits import Exit
from ecr_governance_cli.main import _command_parsers, build_parser, main
from ecr_governance_cli.output import OUTPUTS, generic_table, text_lines
from local_ports import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "ecr_governance_cli"]
EVENT = "events/enforce/scheduled-reconcile.json"
POLICY = "examples/lifecycle/corrected-policy.json"
IMAGES = "examples/lifecycle/images.json"
# One invocation per command that runs when its arguments are right (the AWS ones need an endpoint).
COMMANDS = {
    "audit": ["audit"],
    "enforce": ["enforce", "--dry-run"],
    "invoke": ["invoke", "EnforceRepositoryFunction", "-e", EVENT],
    "emulator": ["emulator", "--port", "1"],
    "lifecycle validate": ["lifecycle", "validate", POLICY],
    "lifecycle preview": ["lifecycle", "preview", "--policy", POLICY, "--images", IMAGES],
    "findings show": ["findings", "show", "--repository", "team/app", "--tag", "v1"],
    "findings summary": ["findings", "summary"],
    "findings redrive": ["findings", "redrive", "--queue-url", "https://sqs.ap-southeast-1.amazonaws.com/1/Failures"],
    "sweep": ["sweep", "--all-repositories"],
    "scanners": ["scanners"],
}
NEEDS_AWS = ["audit", "enforce", "invoke", "findings show", "findings summary", "findings redrive", "sweep", "scanners"]


def leaf_parsers():
    return [parser for parser in _command_parsers(build_parser()) if not parser._subparsers]


def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        **(env or {}),
    }
    return subprocess.run(
        [*CLI, *argv], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=timeout
    )


def test_the_table_of_exit_codes_in_the_docs_is_the_code():
    text = (PROJECT_ROOT / "docs" / "cli.md").read_text()
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = [int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)]
    assert documented == [int(code) for code in Exit]
    assert text.count("| code | meaning |") == 1  # one table


def test_every_command_is_covered_here_and_has_the_output_options():
    leaves = leaf_parsers()
    assert {parser.prog.removeprefix("ecr-governance ") for parser in leaves} == set(COMMANDS)
    for parser in leaves:
        options = {option: action for action in parser._actions for option in action.option_strings}
        assert tuple(options["--output"].choices) == OUTPUTS, parser.prog
        assert "--query" in options, parser.prog
        assert not parser.allow_abbrev, parser.prog


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_a_usage_error_in_one_line_with_exit_2(command, capsys):
    for mistake in (["--no-such-option"], ["--output", "yaml"], ["--query", "repositories[?"]):
        code = main([*COMMANDS[command], *mistake])
        err = capsys.readouterr().err
        assert code == Exit.USAGE, (command, mistake, err)
        assert len(err.strip().splitlines()) == 1 and "error:" in err, err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["audit", "--repository", "Team/App"], "'Team/App' is not an ECR repository name"),
        (["sweep", "--repository", "a"], "'a' is not an ECR repository name"),
        (["findings", "show", "--repository", "team/app", "--tag", "v1;rm"], "is not an image tag"),
        (["findings", "show", "--repository", "team/app", "--digest", "abc"], "is not an image digest"),
        (["enforce", "--dry"], "unrecognized arguments: --dry"),  # an option is spelt in full
        (["audit", "--loc"], "unrecognized arguments: --loc"),
        (
            ["invoke", "-e", EVENT],
            "name the function to invoke, one of: EnforceMemberFunction, EnforceRepositoryFunction",
        ),
        (["lifecycle", "preview", "--policy", POLICY, "--images", IMAGES, "--now", "yesterday"], "--now"),
    ],
)
def test_names_and_values_are_checked_before_any_call(argv, expected, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing there: no call is made
    code = main(argv)
    err = capsys.readouterr().err
    assert code == Exit.USAGE and expected in err, err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", NEEDS_AWS)
def test_every_aws_command_refuses_at_once_when_nothing_listens_at_local(command):
    started = time.monotonic()
    result = run(
        "--local", *COMMANDS[command], env={"ECR_GOVERNANCE_LOCAL_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    )
    elapsed = time.monotonic() - started
    assert result.returncode == Exit.ERROR and elapsed < 2, (elapsed, result.stderr)
    errors = [line for line in result.stderr.splitlines() if not line.startswith("ecr-governance: note:")]
    assert len(errors) == 1 and "nothing answers at http://127.0.0.1:" in errors[0]
    assert errors[0].endswith("start it with `ecr-governance emulator`")


def test_a_violation_gate_exits_3_and_an_invalid_policy_too(tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"rules": [{"rulePriority": 0}]}))
    assert run("lifecycle", "validate", str(policy)).returncode == Exit.VIOLATIONS
    assert run("lifecycle", "validate", POLICY).returncode == Exit.OK


def test_ctrl_c_exits_130_without_a_traceback():
    process = subprocess.Popen(
        [*CLI, "emulator", "--port", str(free_port())],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert "listening" in process.stdout.readline()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == Exit.INTERRUPTED and "Traceback" not in err


def test_ctrl_c_while_the_cli_starts_ends_without_a_traceback():
    """The console script's imports run before main(): the package's excepthook keeps them quiet (status -SIGINT,
    which a shell reports as 130)."""
    code = "import ecr_governance_cli, time; time.sleep(30)"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGINT and "Traceback" not in err


def test_main_returns_the_exit_code_of_a_usage_error_and_of_help(capsys):
    assert main(["audit", "--frobnicate"]) == Exit.USAGE
    assert main(["--help"]) == Exit.OK
    capsys.readouterr()


# ---- the renderings ------------------------------------------------------------------------------------------
def test_text_output_is_the_aws_clis_text_form():
    document = {
        "summary": {"failed": 0, "repositories": 2},
        "repositories": [
            {"repositoryName": "a", "compliance": "COMPLIANT", "error": None, "decisions": [{"aspect": "x"}]},
            {"repositoryName": "b", "compliance": "ERROR", "error": {"code": "X", "message": "m"}, "decisions": []},
        ],
    }
    assert "".join(text_lines(document)) == (
        "REPOSITORIES\tCOMPLIANT\ta\nDECISIONS\tx\nREPOSITORIES\tERROR\tb\nERROR\tX\tm\nSUMMARY\t0\t2\n"
    )
    assert "".join(text_lines(["a", "b"])) == "a\tb\n" and "".join(text_lines(7)) == "7\n"


def test_a_query_result_is_laid_out_as_a_table():
    rows = [{"repositoryName": "a", "count": 1}, {"repositoryName": "bb", "count": None}]
    assert generic_table(rows).splitlines() == [
        "repositoryName  count",
        "--------------  -----",
        "a               1",
        "bb              -",
    ]
    assert generic_table(3) == "3"
