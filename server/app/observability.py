"""JSON logs (one object per line on stdout) and the request middleware: request id, body limit, access log."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# A client-sent id is echoed only if it is short and made of safe characters (it ends up in logs and headers).
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# LogRecord attributes that are not `extra` fields (uvicorn's color_message duplicates message with ANSI codes).
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}

access_logger = logging.getLogger("retail_api.access")


class JsonFormatter(logging.Formatter):
    """Every record becomes one JSON object; `extra={...}` fields become top-level keys."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._second = (-1, "")  # the last formatted second: one strftime per second, not per line

    def _timestamp(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._timestamp(record),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        attributes = record.__dict__
        for key in attributes.keys() - _RESERVED:
            if not key.startswith("_"):
                entry[key] = attributes[key]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def configure_logging(level: str, service: str) -> None:
    """Route our loggers and uvicorn's through one JSON handler on stdout; silence uvicorn's own access log.

    Thread, process and asyncio-task names are not collected for records (the JSON lines do not carry them, and
    gathering them is a large part of the cost of a log line on the request path)."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    # Our middleware writes the one access line per request; uvicorn's would be a second, unstructured one.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def request_id_of(scope: Scope) -> str | None:
    return scope.get("state", {}).get("request_id")


class RequestContextMiddleware:
    """Pure ASGI (no per-request task or body buffering): assigns the request id, adds it to the response and logs
    one line per request with method, path, status, duration and request id. It is the outermost user middleware,
    so the app's answers (including 413 from the body limit and 422) pass through it; an unhandled error's 500 is
    sent outside it by errors.unexpected, which adds the same request id (and this line logs status 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or _lambda_request_id(scope) or os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client gets if the app raises before responding

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            if access_logger.isEnabledFor(logging.INFO):
                # makeRecord + handle: the same record and handlers as .info(), without the caller lookup
                # (a stack walk) that a per-request line does not need.
                access_logger.handle(
                    access_logger.makeRecord(
                        access_logger.name,
                        logging.INFO,
                        __file__,
                        0,
                        "request",
                        None,
                        None,
                        extra={
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "duration_ms": round((time.perf_counter() - started) * 1000.0, 3),
                            "request_id": request_id,
                        },
                    )
                )


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if VALID_REQUEST_ID.fullmatch(candidate) else None
    return None


def _lambda_request_id(scope: Scope) -> str | None:
    """Under Lambda (Mangum puts the context in the scope) the invocation's id, so our lines match Lambda's own."""
    candidate = getattr(scope.get("aws.context"), "aws_request_id", None)
    return candidate if isinstance(candidate, str) and VALID_REQUEST_ID.fullmatch(candidate) else None
