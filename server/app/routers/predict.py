"""The model: its description and its predictions."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import Discriminator, TypeAdapter, ValidationError

from app.errors import ModelNotReadyError, UnsupportedMediaTypeError
from app.forecast import INPUT_FEATURES, DemandModel
from app.schemas import (
    MAX_BATCH_ITEMS,
    ModelInfo,
    PredictionBatch,
    PredictionItem,
    PredictionRequest,
    PredictionResponse,
    ValidationProblem,
    request_shape,
)

EXAMPLE_ITEM = {"store_id": "S001", "product_id": "P0001", "date": "2026-01-09", "price": 2.79, "promotion": False}
EXAMPLES = {
    "one item": {"summary": "one store-product-day", "value": EXAMPLE_ITEM},
    "batch": {
        "summary": "a batch (up to 1,000 items)",
        "value": {"items": [EXAMPLE_ITEM, {**EXAMPLE_ITEM, "product_id": "P0002", "price": 24.9, "promotion": True}]},
    },
}
NOT_READY = {503: {"model": ValidationProblem, "description": "no model loaded (see /ready)"}}


def loaded_model(request: Request) -> DemandModel:
    slot = request.app.state.model_slot
    if slot.model is None:
        raise ModelNotReadyError(f"model not loaded: {slot.error}")
    return slot.model


# The body is parsed and validated by pydantic-core straight from the bytes, in one pass. A declared FastAPI body
# parameter costs about a quarter of this route (content-type parsing, json.loads, dependency solving) for the same
# checks; errors keep FastAPI's shape (loc starting with "body") and its 422 handler.
PREDICTION_REQUEST = TypeAdapter(Annotated[PredictionRequest, Discriminator(request_shape)])
SCHEMA_REF_TEMPLATE = "#/components/schemas/{model}"


@cache  # the route and the OpenAPI document both ask for it at start-up; build the schema once
def request_body_openapi() -> tuple[dict, dict]:
    """The requestBody of /v1/predict and the component schemas it refers to, for the OpenAPI document."""
    schema = PREDICTION_REQUEST.json_schema(ref_template=SCHEMA_REF_TEMPLATE)
    components = schema.pop("$defs", {})
    body = {"required": True, "content": {"application/json": {"schema": schema, "examples": EXAMPLES}}}
    return body, components


def is_json(content_type: str | None) -> bool:
    """application/json or an application/...+json type, parameters (charset) allowed."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


async def parse_prediction_request(request: Request) -> PredictionItem | PredictionBatch:
    # Checked before the body is read: a form, a file upload or XML is refused whatever it holds. (The body guard
    # reads and drops the unread body before the 415 goes out, so the client is not reset while still sending.)
    content_type = request.headers.get("content-type")
    if not is_json(content_type):
        raise UnsupportedMediaTypeError(content_type)
    raw = await request.body()
    try:
        return PREDICTION_REQUEST.validate_json(raw)
    except ValidationError as error:
        problems = [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors(include_url=False)]
        raise RequestValidationError(problems, body=raw) from None


async def predict(request: Request) -> Response:
    model = loaded_model(request)
    body = await parse_prediction_request(request)
    if isinstance(body, PredictionBatch):
        items, prefix = body.items, ("body", "batch", "items")
    else:
        items, prefix = [body], ("body", "item")
    unknown = _unknown_ids(model, items, prefix)
    if unknown:
        raise RequestValidationError(unknown)
    # Plain dicts, validated once as part of the response model (one pass, not one model per item).
    predictions = [
        {
            "store_id": item.store_id,
            "product_id": item.product_id,
            "date": item.date,
            "predicted_units": round(
                model.predict_units(item.store_id, item.product_id, item.date, item.price, item.promotion), 3
            ),
        }
        for item in items
    ]
    artifact = model.artifact
    response = PredictionResponse(model_name=artifact.name, model_version=artifact.version, predictions=predictions)
    # Serialized once by pydantic-core. Returning the model would have FastAPI dump it, validate it again against
    # response_model and encode it a third time; response_model still documents the schema in OpenAPI.
    return Response(response.model_dump_json(), media_type="application/json")


async def model_info(request: Request) -> ModelInfo:
    artifact = loaded_model(request).artifact
    return ModelInfo(
        name=artifact.name,
        version=artifact.version,
        trained_at=artifact.trained_at,
        target=artifact.target,
        features=list(INPUT_FEATURES),
        stores=sorted(artifact.store_effects),
        products=sorted(artifact.product_effects),
        evaluation=artifact.evaluation,
    )


def _unknown_ids(model: DemandModel, items: list[PredictionItem], prefix: tuple[str, ...]) -> list[dict]:
    """Ids the model has no coefficient for: a 422 per field (no silent fallback to an average store or product)."""
    errors = []
    for index, item in enumerate(items):
        location = (*prefix, index) if prefix[-1] == "items" else prefix
        if item.store_id not in model.stores:
            errors.append(_unknown(location, "store_id", item.store_id))
        if item.product_id not in model.products:
            errors.append(_unknown(location, "product_id", item.product_id))
    return errors


def _unknown(location: tuple, field: str, value: str) -> dict:
    return {
        "type": "unknown_id",
        "loc": (*location, field),
        "msg": f"unknown {field} {value!r}: the model was not trained on it (GET /v1/model lists the known ids)",
        "input": value,
    }


def build_router() -> APIRouter:
    """The /v1 routes, /v1/predict first (routes are matched in order, and it is the hot path). Request bodies over
    MAX_BODY_BYTES get 413 from app.request_body.RequestBodyGuard, which wraps the whole application."""
    router = APIRouter(prefix="/v1", tags=["model"])
    request_body, _ = request_body_openapi()
    router.add_api_route(
        "/predict",
        predict,
        methods=["POST"],
        response_model=PredictionResponse,
        openapi_extra={"requestBody": request_body},
        summary=f"Predicted units for one item or a batch of up to {MAX_BATCH_ITEMS}",
        description=(
            "Send one item (an object with store_id, product_id, date, price, promotion) or a batch "
            f'(`{{"items": [...]}}`, 1 to {MAX_BATCH_ITEMS} items). The response always lists the predictions in '
            "request order. The body must be sent as application/json (anything else is 415). A store_id or "
            "product_id the model was not trained on is 422 naming the field; ids are listed by GET /v1/model."
        ),
        responses={
            408: {"model": ValidationProblem, "description": "the body did not arrive within BODY_TIMEOUT_SECONDS"},
            413: {
                "model": ValidationProblem,
                "description": f"more than {MAX_BATCH_ITEMS} items, or a body over MAX_BODY_BYTES",
            },
            415: {"model": ValidationProblem, "description": "the body is not sent as application/json"},
            422: {"model": ValidationProblem, "description": "a field is missing, malformed, unknown or out of range"},
            **NOT_READY,
        },
    )
    router.add_api_route(
        "/model",
        model_info,
        methods=["GET"],
        response_model=ModelInfo,
        summary="The model served: version, features, held-out error",
        responses=NOT_READY,
    )
    return router
