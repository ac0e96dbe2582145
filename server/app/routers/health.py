"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.schemas import Health, Readiness
from app.state import ModelSlot

router = APIRouter(tags=["probes"])


@router.get("/health", response_model=Health, summary="Liveness: the process answers (no dependencies checked)")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness: 200 once the model is loaded, 503 (with the reason) otherwise",
    responses={503: {"model": Readiness, "description": "no model loaded"}},
)
async def ready(request: Request) -> Readiness | JSONResponse:
    slot: ModelSlot = request.app.state.model_slot
    if slot.model is None:
        body = Readiness(status="not_ready", reason=slot.error)
        return JSONResponse(status_code=503, content=body.model_dump(exclude_none=True))
    return Readiness(status="ready", model_version=slot.model.artifact.version)
