"""The retail demand API. `app` is what uvicorn serves (`uvicorn app.main:app`, from server/)."""

from __future__ import annotations

from fastapi import FastAPI

from app import errors
from app.observability import RequestContextMiddleware, configure_logging
from app.request_body import RequestBodyGuard
from app.routers import health, predict
from app.settings import Settings, SettingsError, load_settings
from app.state import ModelSlot

API_VERSION = "1.0.0"


def _document_request_schemas(application: FastAPI) -> None:
    """/v1/predict validates its body itself (see routers.predict); add the schemas its requestBody refers to."""
    build_openapi = application.openapi
    _, request_schemas = predict.request_body_openapi()

    def openapi() -> dict:
        if application.openapi_schema is None:
            document = build_openapi()  # FastAPI caches it in application.openapi_schema
            document.setdefault("components", {}).setdefault("schemas", {}).update(request_schemas)
        return application.openapi_schema

    application.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; the model is loaded here, once per process (also once per Lambda execution
    environment: the Lambda handler is built at import, during the init phase)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.service_name)
    # The routers' routes are handed to FastAPI directly, in match order with /v1/predict first: include_router
    # would keep each router as a nested unit to match on every request (about a tenth of the predict path).
    application = FastAPI(
        title="Retail demand API",
        version=API_VERSION,
        summary="Daily unit-sales forecasts for a store, product, date, price and promotion.",
        routes=[*predict.build_router().routes, *health.router.routes],
        telemetry={signal: settings.opentelemetry for signal in ("tracing", "metrics", "logs", "operation_spans")},
    )
    _document_request_schemas(application)
    application.state.settings = settings
    application.state.model_slot = ModelSlot.load(settings.model_path)
    errors.install(application)
    # The last one added is the outermost: the request id and the access line cover the body guard's 408 and 413.
    application.add_middleware(
        RequestBodyGuard, max_body_bytes=settings.max_body_bytes, timeout_seconds=settings.body_timeout_seconds
    )
    application.add_middleware(RequestContextMiddleware)
    return application


def _settings_or_exit() -> Settings:
    """At start-up (uvicorn importing this module, or the Lambda runtime importing the handler) a bad setting stops
    the process with one line on stderr and exit status 1, instead of a traceback."""
    try:
        return load_settings()
    except SettingsError as error:
        raise SystemExit(f"retail-api: {error}") from None


app = create_app(_settings_or_exit())
