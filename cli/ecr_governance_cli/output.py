"""One output contract for every command: `--output json|table|text` and `--query`, as the AWS CLI has them.

Each command builds one document: camelCase keys as AWS's APIs use them, AWS's own structures where AWS has one,
`null` where a value is unknown, rows sorted by repository then image. `json` prints it; `text` prints it as the AWS
CLI's text output does (tab-separated, one line per object); `table` is the command's own layout for people.
`--query` (JMESPath, as the AWS CLI's) selects from the document first; a table of a query's result is laid out
generically.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from typing import Any

import jmespath
from ecr_governance.casing import camel_keys
from jmespath.exceptions import JMESPathError

OUTPUTS = ("table", "json", "text")
__all__ = ["OUTPUTS", "add_output_options", "camel_keys", "emit", "generic_table", "table", "text_lines"]


def query_expression(text: str) -> Any:
    try:
        return jmespath.compile(text)
    except JMESPathError as error:
        position = getattr(error, "lex_position", None)
        where = f" at position {position}" if position is not None else ""
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a JMESPath expression ({type(error).__name__}{where})"
        ) from error


def add_output_options(parser: argparse.ArgumentParser, table: str, default: str = "table") -> None:
    """--output and --query; `table` says what the table shows."""
    parser.add_argument(
        "--output",
        choices=OUTPUTS,
        default=default,
        help=f"table: {table}; json: the document; text: the document tab-separated as the AWS CLI (default {default})",
    )
    parser.add_argument(
        "--query",
        type=query_expression,
        metavar="JMESPATH",
        help="a JMESPath expression applied to the JSON document before it is printed (as the AWS CLI's --query)",
    )


def emit(args: argparse.Namespace, document: Any, table: Callable[[], str]) -> None:
    """Print `document` as --output asks, after --query."""
    query = getattr(args, "query", None)
    if query is not None:
        document = query.search(document)
    if args.output == "json":
        print(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    elif args.output == "text":
        print("".join(text_lines(document)), end="")
    elif query is not None:
        print(generic_table(document))
    else:
        print(table())


# ---- text: the AWS CLI's text output ----------------------------------------------------------------------------
def _scalar(value: Any) -> str:
    return str(value)  # None prints as None, as the AWS CLI's text output has it


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def text_lines(value: Any, identifier: str | None = None, columns: list[str] | None = None) -> Iterable[str]:
    """An object's scalars on one tab-separated line (prefixed with its key in capitals when nested), then its
    lists and objects; the objects of one list share the columns of their scalar keys, sorted (a key that holds an
    object in any of them is printed as that object's own line instead, as `null` is where it has none)."""
    if isinstance(value, dict):
        yield from _object_lines(value, identifier, columns)
    elif isinstance(value, list):
        yield from _list_lines(value, identifier)
    else:
        yield _scalar(value) + "\n"


def _object_lines(value: dict[str, Any], identifier: str | None, columns: list[str] | None) -> Iterable[str]:
    keys = columns if columns is not None else sorted(k for k, v in value.items() if _is_scalar(v))
    cells = [_scalar(value.get(key)) for key in keys]
    if cells:
        yield "\t".join([identifier.upper(), *cells] if identifier else cells) + "\n"
    for key in sorted(value):
        if not _is_scalar(value[key]):
            yield from text_lines(value[key], key)


def _list_lines(value: list[Any], identifier: str | None) -> Iterable[str]:
    if any(isinstance(item, dict) for item in value):
        objects = [item for item in value if isinstance(item, dict)]
        nested = {k for item in objects for k, v in item.items() if not _is_scalar(v)}
        shared = sorted({k for item in objects for k in item} - nested)
        for item in value:
            yield from text_lines(item, identifier, shared if isinstance(item, dict) else None)
        return
    scalars = [item for item in value if _is_scalar(item)]
    if scalars and identifier:
        yield from (f"{identifier.upper()}\t{_scalar(item)}\n" for item in scalars)
    elif scalars:
        yield "\t".join(map(_scalar, scalars)) + "\n"
    for item in value:
        if not _is_scalar(item):
            yield from text_lines(item, identifier)


# ---- tables -----------------------------------------------------------------------------------------------------
def table(rows: list[tuple[str, ...]], right_aligned: frozenset[int] = frozenset()) -> list[str]:
    """Columns padded to their widest cell, a dashed line under the header row."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: tuple[str, ...]) -> str:
        cells = (
            cell.rjust(width) if i in right_aligned else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    return [line(rows[0]), "  ".join("-" * width for width in widths), *(line(row) for row in rows[1:])]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def generic_table(value: Any) -> str:
    """A query's result as a table: a list of objects by their scalar keys, an object as key/value rows."""
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        columns = list(dict.fromkeys(key for item in value for key in item))
        return "\n".join(table([tuple(columns), *(tuple(_cell(item.get(key)) for key in columns) for item in value)]))
    if isinstance(value, dict) and value:
        return "\n".join(table([("KEY", "VALUE"), *((str(key), _cell(item)) for key, item in value.items())]))
    if isinstance(value, list):
        return "\n".join(_cell(item) for item in value)
    return _cell(value)
