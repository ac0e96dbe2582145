"""The CLI's one logging setup: what the libraries log reaches the terminal as one line with its context.

The domain logs structured records (Powertools, `extra={...}`); without a handler Python's last-resort one would print
only the message ("exemption tag names no aspect": no repository, no value). Here every WARNING or worse becomes
`ecr-governance: warning: MESSAGE (key=value, ...)` on stderr, Python warnings included (their file paths left out).
Records that restate what the command prints anyway (each decision, each repository's sweep report) are folded
into its output and not repeated. `--debug` adds every AWS request and response (botocore) with timestamps.
"""

from __future__ import annotations

import logging
import sys
import warnings

from ecr_governance.exemptions import ExemptAspect

PROGRAM = "ecr-governance"
# Records whose content the command's own output already shows, row by row.
FOLDED_INTO_OUTPUT = frozenset(
    {"enforcement decision", "repository left partially remediated", "sweep report", "sweep run planned"}
)
# What a record leaves out that the user needs to act on it.
HINTS = {"exemption tag names no aspect": f"aspects: {', '.join(map(str, ExemptAspect))}"}
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Powertools adds these to every record of its loggers; they say nothing to a terminal user.
_POWERTOOLS_ATTRIBUTES = frozenset({"location", "timestamp", "service", "sampling_rate", "xray_trace_id"})
VALUE_LIMIT = 200


def _value(value: object) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, (list, tuple, set, frozenset)) else str(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 3] + "..."


class OneLineFormatter(logging.Formatter):
    """`ecr-governance: warning: message (key=value, ...)`, the context from the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "py.warnings":
            return f"{PROGRAM}: warning: {_warning_text(record.getMessage())}"
        context = [
            f"{key}={_value(value)}"
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRIBUTES and key not in _POWERTOOLS_ATTRIBUTES and not key.startswith("_")
        ]
        message = record.getMessage()
        if message in HINTS:
            context.append(HINTS[message])
        suffix = f" ({'; '.join(context)})" if context else ""
        return f"{PROGRAM}: {record.levelname.lower()}: {message}{suffix}"


def _warning_text(formatted: str) -> str:
    """logging.captureWarnings hands over the formatted warning (with its file path): keep the category and text."""
    text = (formatted.strip().splitlines() or [""])[0]
    # ".../site-packages/aws_lambda_powertools/metrics/base.py:213: UserWarning: message"
    #   -> "UserWarning from aws_lambda_powertools: message"
    where, separator, rest = text.partition(": ")
    if not separator or ".py:" not in where:
        return text
    category, _, message = rest.partition(": ")
    path = where.rsplit(":", 1)[0].replace("\\", "/")
    inside = path.split("site-packages/", 1)[1] if "site-packages/" in path else path.rsplit("/", 1)[-1]
    return f"{category} from {inside.split('/', 1)[0].removesuffix('.py')}: {message}"


class _CurrentStderr(logging.StreamHandler):
    """Writes to sys.stderr as it is when a record comes, not as it was when the handler was made (the demo and the
    tests redirect it)."""

    @property
    def stream(self):  # noqa: ANN201 - logging.StreamHandler's attribute
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001 - StreamHandler.__init__ assigns it
        pass


class _NotFolded(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in FOLDED_INTO_OUTPUT


def setup(debug: bool = False) -> None:
    """Install the CLI's handler on the root logger (once)."""
    root = logging.getLogger()
    if any(isinstance(handler.formatter, OneLineFormatter) for handler in root.handlers):
        return
    handler = _CurrentStderr()
    handler.setFormatter(OneLineFormatter())
    handler.setLevel(logging.WARNING)
    handler.addFilter(_NotFolded())
    root.addHandler(handler)
    logging.captureWarnings(True)
    warnings.simplefilter("default")  # each distinct warning once, through the handler above
    if debug:
        wire = logging.StreamHandler(sys.stderr)
        wire.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        for name in ("botocore", "urllib3"):
            logger = logging.getLogger(name)
            logger.setLevel(logging.DEBUG)
            logger.addHandler(wire)
            logger.propagate = False
