"""Request and response models of the API (they are the OpenAPI document). Unknown fields are rejected."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Tag, field_validator

from app.forecast import Evaluation

MAX_BATCH_ITEMS = 1000
ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


class BatchTooLargeError(Exception):
    """More than MAX_BATCH_ITEMS items: answered with 413 before any item is validated."""

    def __init__(self, size: int) -> None:
        super().__init__(f"batch has {size} items; the limit is {MAX_BATCH_ITEMS}")
        self.size = size


class PredictionItem(BaseModel):
    """One store-product-day to forecast."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"store_id": "S001", "product_id": "P0001", "date": "2026-01-09", "price": 2.79, "promotion": False}
            ]
        },
    )

    store_id: str = Field(pattern=ID_PATTERN, description="a store the model knows (see GET /v1/model)")
    product_id: str = Field(pattern=ID_PATTERN, description="a product the model knows (see GET /v1/model)")
    date: dt.date = Field(description="the day to forecast, ISO 8601 (YYYY-MM-DD)")
    # strict: a JSON number only ("2.79" or true is a 422, not silently converted)
    price: float = Field(
        strict=True, gt=0, le=100_000, allow_inf_nan=False, description="shelf price that day (JSON number)"
    )
    promotion: bool = Field(strict=True, description="whether the product is on promotion that day (JSON boolean)")


class PredictionBatch(BaseModel):
    """Up to 1,000 items, predicted in order."""

    model_config = ConfigDict(extra="forbid")

    items: list[PredictionItem] = Field(min_length=1, description=f"1 to {MAX_BATCH_ITEMS} items; more is 413")

    @field_validator("items", mode="before")
    @classmethod
    def _refuse_oversized(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) > MAX_BATCH_ITEMS:
            raise BatchTooLargeError(len(value))
        return value


def request_shape(body: Any) -> str:
    """An object with `items` is a batch; anything else is validated as a single item."""
    return "batch" if isinstance(body, dict) and "items" in body else "item"


# Used with Body(discriminator=Discriminator(request_shape)): errors then come from the one shape the client meant,
# not from both alternatives.
PredictionRequest = Annotated[PredictionItem, Tag("item")] | Annotated[PredictionBatch, Tag("batch")]


class Prediction(BaseModel):
    store_id: str
    product_id: str
    date: dt.date
    predicted_units: float = Field(ge=0, description="expected units sold that day")


class PredictionResponse(BaseModel):
    model_name: str
    model_version: str
    predictions: list[Prediction] = Field(description="one per request item, in request order")


class ModelInfo(BaseModel):
    name: str
    version: str = Field(description="a hash of the artifact's content: the same training gives the same version")
    trained_at: dt.datetime = Field(description="the last day of the data the model was fitted on")
    target: str = Field(description="what the linear predictor models: log of the expected units (Poisson regression)")
    features: list[str]
    stores: list[str] = Field(description="store ids the model accepts")
    products: list[str] = Field(description="product ids the model accepts")
    evaluation: Evaluation = Field(description="held-out error of the model next to naive baselines")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    model_version: str | None = None
    reason: str | None = None


class FieldError(BaseModel):
    field: str = Field(
        description="dotted path of the offending field (e.g. items.3.price), or `body` / `content-type` for the "
        "request as a whole"
    )
    reason: str
    type: str


class ValidationProblem(BaseModel):
    """The shape of every error answer (404, 405, 408, 413, 415, 422, 500, 503)."""

    detail: list[FieldError]
