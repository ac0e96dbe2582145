"""The retail demand API. `app` is what uvicorn serves (`uvicorn app.main:app`, from server/)."""

from __future__ import annotations

from fastapi import FastAPI

from app import errors
from app.observability import RequestContextMiddleware, configure_logging
from app.routers import health, predict
from app.settings import Settings
from app.state import ModelSlot

API_VERSION = "1.0.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; the model is loaded here, once per process (also once per Lambda execution
    environment: the Lambda handler is built at import, during the init phase)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.service_name)
    application = FastAPI(
        title="Retail demand API",
        version=API_VERSION,
        summary="Daily unit-sales forecasts for a store, product, date, price and promotion.",
    )
    application.state.settings = settings
    application.state.model_slot = ModelSlot.load(settings.model_path)
    # Routes are matched in order (each included router is matched as a unit): the hot path goes first.
    # FastAPI's own body limit (Content-Length checked up front, chunked bodies counted): 413 past MAX_BODY_BYTES.
    application.include_router(predict.router, max_body_size=settings.max_body_bytes)
    application.include_router(health.router)
    errors.install(application)
    application.add_middleware(RequestContextMiddleware)
    return application


app = create_app()
