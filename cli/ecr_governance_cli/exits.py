"""The exit-code contract every command keeps (docs/cli.md has the one table; a test holds the two together)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0  # done, and nothing failed
    ERROR = 1  # a runtime error, or any item or decision that failed (the others still printed)
    USAGE = 2  # the command line, or a name, value or file it names, cannot be used: refused before any AWS call
    VIOLATIONS = 3  # --fail-on-violation found a violation; lifecycle validate found a policy ECR would reject
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), without a traceback


# What Unix tools exit with when their reader goes away (`| head`): 128 + SIGPIPE. Not a result of the command.
BROKEN_PIPE = 141
