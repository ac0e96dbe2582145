"""Reading the files a user names: bounded in size, decoded as UTF-8 JSON, every failure one InputError line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ecr_governance.errors import InputError

MEBIBYTE = 1024 * 1024
# A lifecycle policy is at most 30,720 characters, an EventBridge event 256 KB and a Lambda payload 1 MB; an images
# file is what describe-images prints for a repository (about 1 KB an image).
POLICY_FILE_LIMIT = MEBIBYTE
EVENT_FILE_LIMIT = MEBIBYTE
IMAGES_FILE_LIMIT = 256 * MEBIBYTE


def read_json_file(path: str, what: str, limit_bytes: int) -> Any:
    """The JSON document in `path` (`file://PATH` as the AWS CLI spells it; `-` is stdin); `what` names the file in
    errors ("policy file", "event file", ...)."""
    path = path.removeprefix("file://")
    try:
        if path == "-":
            path = "(stdin)"
            data = sys.stdin.buffer.read(limit_bytes + 1)
        else:
            with Path(path).open("rb") as file:
                data = file.read(limit_bytes + 1)
    except OSError as error:
        raise InputError(f"cannot read {what} {path}: {error.strerror or error}") from error
    if len(data) > limit_bytes:
        raise InputError(f"{what} {path} is larger than {limit_bytes // MEBIBYTE} MiB: not one this command reads")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{what} {path} is not UTF-8 text") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{what} {path} is not valid JSON: {error.msg} at line {error.lineno}") from error
    except RecursionError as error:
        raise InputError(f"{what} {path} is nested too deeply to be a {what.split()[0]}") from error
