"""The command line's habits, shared by every command: one-line usage errors, no abbreviated options, and names
checked against ECR's own patterns before any call (a bad name is a usage error, not an AWS error)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import NoReturn

from ecr_governance.errors import GovernanceError

from ecr_governance_cli.exits import Exit

# ECR's RepositoryName (2-256 characters), ImageTag (1-300) and the OCI digest grammar (algorithm:encoded).
REPOSITORY_NAME = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*")
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}")
IMAGE_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


class UsageError(GovernanceError):
    """The command line asks for something it cannot have (exit 2), found after argparse parsed it."""


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's habits: an option is spelt in full (`--dry` is not `--dry-run`), and a usage error
    is one line on stderr and exit 2."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(Exit.USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def repository_name(text: str) -> str:
    if not (2 <= len(text) <= 256 and REPOSITORY_NAME.fullmatch(text)):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ECR repository name (2-256 characters: lowercase letters and digits, "
            "separated by . _ - or /)"
        )
    return text


def image_tag(text: str) -> str:
    if not IMAGE_TAG.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an image tag (1-300 characters: letters, digits, _ . -, not starting with . or -)"
        )
    return text


def image_digest(text: str) -> str:
    if not IMAGE_DIGEST.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an image digest (e.g. sha256:<64 hex digits>)")
    return text


def whole_number(low: int, high: int | None = None, what: str = "a whole number") -> Callable[[str], int]:
    """An argparse type: a whole number (ASCII digits only) from `low` to `high`; the error names what and the range."""

    def parse(text: str) -> int:
        value = int(text) if text.isascii() and text.isdigit() else None
        if value is None or value < low or (high is not None and value > high):
            within = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} {within}")
        return value

    return parse
