"""The demand model: a Poisson regression (log link) of daily unit sales, in pure Python.

    log E[units] = intercept + store[s] + product[p] + weekday[d]
                   + elasticity[p] * log(price / reference_price[p])
                   + promotion_lift * promotion
                   + a * sin(2*pi*doy/365.25) + b * cos(2*pi*doy/365.25)

The same `FeatureSpace` encodes rows for training (sparse design matrix) and `DemandModel` evaluates the fitted
coefficients for serving, so the two cannot drift apart. The artifact is a small JSON document (`ModelArtifact`);
serving needs nothing beyond the standard library and pydantic.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

YEAR_DAYS = 365.25
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
INPUT_FEATURES = (
    "store_id: store effect (one-hot)",
    "product_id: product effect (one-hot)",
    "date: day-of-week effect (one-hot) and annual season (sin/cos of day of year)",
    "price: per-product elasticity on log(price / reference_price), clamped to the training range",
    "promotion: promotion lift",
)


def annual_angle(day: dt.date) -> float:
    """Position of `day` in the year, in radians (day of year 1 is 2*pi/365.25)."""
    day_of_year = day.toordinal() - dt.date(day.year, 1, 1).toordinal() + 1
    return 2.0 * math.pi * day_of_year / YEAR_DAYS


class ModelLoadError(Exception):
    """The model artifact is missing or not a valid artifact; the message says which and why."""


class Metrics(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mae: float = Field(description="mean absolute error, units per store-product-day")
    wape: float = Field(description="weighted absolute percentage error: sum|error| / sum(actual)")
    rmse: float = Field(description="root mean squared error, units")


class Evaluation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    holdout_start: dt.date = Field(description="first day of the held-out (most recent) period")
    holdout_rows: int = Field(ge=1)
    model: Metrics
    baselines: dict[str, Metrics] = Field(description="naive forecasts scored on the same held-out rows")


class TrainingInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int
    rows: int = Field(ge=1)
    first_day: dt.date
    last_day: dt.date
    ridge: float = Field(ge=0)


class ModelArtifact(BaseModel):
    """What `server/training/train.py` writes and the API loads (`MODEL_PATH`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1]
    name: str = Field(min_length=1)
    version: str = Field(min_length=1, description="hash of the rest of the artifact (training.train.content_version)")
    trained_at: dt.datetime = Field(description="the last day of the training data (not the time of the run)")
    target: Literal["log_expected_units"]
    intercept: float
    store_effects: dict[str, float] = Field(min_length=1)
    product_effects: dict[str, float] = Field(min_length=1)
    weekday_effects: list[float] = Field(min_length=7, max_length=7)
    price_elasticity: dict[str, float]
    reference_price: dict[str, float]
    log_price_ratio_range: tuple[float, float]
    promotion_lift: float
    annual_season: tuple[float, float] = Field(description="coefficients of sin and cos of the day of year")
    evaluation: Evaluation
    training: TrainingInfo

    @model_validator(mode="after")
    def _products_consistent(self) -> ModelArtifact:
        products = set(self.product_effects)
        for name in ("price_elasticity", "reference_price"):
            if set(getattr(self, name)) != products:
                raise ValueError(f"{name} must have exactly the products of product_effects")
        if any(price <= 0 for price in self.reference_price.values()):
            raise ValueError("reference_price values must be > 0")
        low, high = self.log_price_ratio_range
        if low > high:
            raise ValueError("log_price_ratio_range must be (low, high) with low <= high")
        return self


@dataclass(frozen=True)
class FeatureSpace:
    """Column layout of the design matrix. The first store and product are the reference levels (effect 0)."""

    stores: tuple[str, ...]
    products: tuple[str, ...]

    @property
    def size(self) -> int:
        return 1 + (len(self.stores) - 1) + (len(self.products) - 1) + 6 + len(self.products) + 1 + 2

    def _offsets(self) -> tuple[int, int, int, int, int, int]:
        store0 = 1
        product0 = store0 + len(self.stores) - 1
        weekday0 = product0 + len(self.products) - 1
        elasticity0 = weekday0 + 6
        promotion = elasticity0 + len(self.products)
        season = promotion + 1
        return store0, product0, weekday0, elasticity0, promotion, season

    def sparse_row(
        self, store_index: int, product_index: int, day: dt.date, log_price_ratio: float, promotion: bool
    ) -> list[tuple[int, float]]:
        """The non-zero entries (column, value) of one observation's row."""
        store0, product0, weekday0, elasticity0, promotion_col, season = self._offsets()
        row: list[tuple[int, float]] = [(0, 1.0)]
        if store_index > 0:
            row.append((store0 + store_index - 1, 1.0))
        if product_index > 0:
            row.append((product0 + product_index - 1, 1.0))
        weekday = day.weekday()
        if weekday > 0:
            row.append((weekday0 + weekday - 1, 1.0))
        if log_price_ratio != 0.0:
            row.append((elasticity0 + product_index, log_price_ratio))
        if promotion:
            row.append((promotion_col, 1.0))
        angle = annual_angle(day)
        row.append((season, math.sin(angle)))
        row.append((season + 1, math.cos(angle)))
        return row

    def coefficients(self, weights: list[float]) -> dict[str, object]:
        """Fitted weights, in column order, as the named coefficient fields of a `ModelArtifact`."""
        if len(weights) != self.size:
            raise ValueError(f"expected {self.size} weights, got {len(weights)}")
        store0, product0, weekday0, elasticity0, promotion_col, season = self._offsets()
        return {
            "intercept": weights[0],
            "store_effects": {s: (weights[store0 + i - 1] if i else 0.0) for i, s in enumerate(self.stores)},
            "product_effects": {p: (weights[product0 + i - 1] if i else 0.0) for i, p in enumerate(self.products)},
            "weekday_effects": [0.0, *weights[weekday0 : weekday0 + 6]],
            "price_elasticity": {p: weights[elasticity0 + i] for i, p in enumerate(self.products)},
            "promotion_lift": weights[promotion_col],
            "annual_season": (weights[season], weights[season + 1]),
        }


class DemandModel:
    """Serves a `ModelArtifact`: predicted units for (store, product, date, price, promotion)."""

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        self._intercept = artifact.intercept
        self._store = artifact.store_effects
        self._product = artifact.product_effects
        self._weekday = tuple(artifact.weekday_effects)
        self._elasticity = artifact.price_elasticity
        self._reference_price = artifact.reference_price
        self._ratio_low, self._ratio_high = artifact.log_price_ratio_range
        self._promotion = artifact.promotion_lift
        self._season_sin, self._season_cos = artifact.annual_season

    @classmethod
    def load(cls, path: Path) -> DemandModel:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ModelLoadError(f"cannot read model artifact {path}: {error.strerror or error}") from error
        try:
            artifact = ModelArtifact.model_validate(json.loads(text))
        except json.JSONDecodeError as error:
            raise ModelLoadError(f"model artifact {path} is not JSON: {error}") from error
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(document)"
            raise ModelLoadError(f"model artifact {path} is invalid at {where}: {first['msg']}") from error
        return cls(artifact)

    @property
    def stores(self) -> dict[str, float]:
        return self._store

    @property
    def products(self) -> dict[str, float]:
        return self._product

    def log_price_ratio(self, product_id: str, price: float) -> float:
        """log(price / reference price), clamped to the range seen in training (no wild extrapolation)."""
        ratio = math.log(price / self._reference_price[product_id])
        return min(max(ratio, self._ratio_low), self._ratio_high)

    def linear_predictor(self, store_id: str, product_id: str, day: dt.date, price: float, promotion: bool) -> float:
        angle = annual_angle(day)
        return (
            self._intercept
            + self._store[store_id]
            + self._product[product_id]
            + self._weekday[day.weekday()]
            + self._elasticity[product_id] * self.log_price_ratio(product_id, price)
            + (self._promotion if promotion else 0.0)
            + self._season_sin * math.sin(angle)
            + self._season_cos * math.cos(angle)
        )

    def predict_units(self, store_id: str, product_id: str, day: dt.date, price: float, promotion: bool) -> float:
        """Expected units sold that day; KeyError for an id the model was not trained on."""
        return math.exp(self.linear_predictor(store_id, product_id, day, price, promotion))
