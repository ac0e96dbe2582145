"""A few of the console script's checks kept in the unit loop: it starts as a subprocess, every option explains
itself, counts read right. The rest (one-line errors, overrides, emulator ports...) run as subprocesses in
tests/integration/test_console_script.py."""

from __future__ import annotations

from console import run


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip().startswith("ecr-governance 0.")


def test_every_option_has_help_text():
    from ecr_governance_cli.main import _command_parsers, build_parser

    parser = build_parser()
    for command in [parser, *_command_parsers(parser)]:
        for action in command._actions:
            if action.option_strings and action.dest not in ("help", "version"):
                assert action.help, f"{command.prog} {action.option_strings} has no help text"


def test_counts_are_singular_when_one():
    from ecr_governance_cli.render import plural

    assert plural(1, "repository") == "1 repository" and plural(2, "repository") == "2 repositories"
    assert plural(1, "warning") == "1 warning" and plural(0, "error") == "0 errors"
