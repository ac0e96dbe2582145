"""Exception handlers: every error answer has one shape, `{"detail": [{"field", "reason", "type"}]}` - what a client
caused (404, 405, 408, 413, 415, 422) and what the server could not do (500, 503) - never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.observability import REQUEST_ID_HEADER, request_id_of
from app.schemas import BatchTooLargeError

logger = logging.getLogger("retail_api.errors")
# Parts of a pydantic location that are not field names: where the value came from and which request shape it was.
_NOT_FIELDS = frozenset({"body", "item", "batch"})


class ModelNotReadyError(Exception):
    """No model is loaded (MODEL_PATH missing or invalid); /ready says why."""


class UnsupportedMediaTypeError(Exception):
    """The JSON endpoint got a body of another media type (text/plain, a form, multipart, XML, or none named)."""

    def __init__(self, content_type: str | None) -> None:
        got = f"got {content_type!r}" if content_type else "no Content-Type was sent"
        super().__init__(f"send the body as JSON with Content-Type: application/json; {got}")


def problems(status: int, *entries: tuple[str, str, str], headers: dict[str, str] | None = None) -> JSONResponse:
    """Every error has the same shape: {"detail": [{"field", "reason", "type"}, ...]}."""
    detail = [{"field": field, "reason": reason, "type": error_type} for field, reason, error_type in entries]
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


# What an HTTP error raised by the framework (a route or method that does not exist) is about.
_HTTP_PROBLEMS = {404: ("path", "not_found"), 405: ("method", "method_not_allowed")}


async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    """404, 405 and any other HTTP error the framework raises, in the one shape (the Allow header of a 405 kept)."""
    field, error_type = _HTTP_PROBLEMS.get(error.status_code, ("request", "http_error"))
    if error.status_code == 404:
        reason = f"no route {request.url.path}: see /docs for the routes"
    elif error.status_code == 405:
        allowed = (error.headers or {}).get("Allow")
        reason = f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})"
    else:
        reason = str(error.detail)
    return problems(error.status_code, (field, reason, error_type), headers=error.headers)


def field_path(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for index, part in enumerate(location) if not (index < 2 and part in _NOT_FIELDS)]
    return ".".join(parts) or "body"


async def validation_failed(request: Request, error: RequestValidationError) -> JSONResponse:
    return problems(422, *((field_path(tuple(item["loc"])), item["msg"], item["type"]) for item in error.errors()))


async def batch_too_large(request: Request, error: BatchTooLargeError) -> JSONResponse:
    return problems(413, ("items", str(error), "too_many_items"))


async def unsupported_media_type(request: Request, error: UnsupportedMediaTypeError) -> JSONResponse:
    return problems(415, ("content-type", str(error), "unsupported_media_type"))


async def model_not_ready(request: Request, error: ModelNotReadyError) -> JSONResponse:
    return problems(503, ("model", str(error), "model_not_ready"), headers={"Retry-After": "30"})


async def unexpected(request: Request, error: Exception) -> JSONResponse:
    """Last resort (runs outside the middleware): a 500 that still carries the request id, logged with traceback."""
    request_id = request_id_of(request.scope) or ""
    logger.error("unhandled error", exc_info=error, extra={"request_id": request_id, "path": request.url.path})
    return problems(500, ("request", "internal error", "internal_error"), headers={REQUEST_ID_HEADER: request_id})


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(BatchTooLargeError, batch_too_large)
    app.add_exception_handler(UnsupportedMediaTypeError, unsupported_media_type)
    app.add_exception_handler(ModelNotReadyError, model_not_ready)
    app.add_exception_handler(Exception, unexpected)
