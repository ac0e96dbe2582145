"""A reproducible synthetic retail sales history: one row per store, product and day.

Demand follows the structure a retailer sees: store size, product popularity, a weekly cycle (weekend peak), an
annual season, price elasticity that differs by product, a promotion lift, multiplicative day-to-day noise and
count (Poisson) sampling. Everything is drawn from one `random.Random(seed)`, so a seed names a dataset.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# True weekday effects on log demand, Monday first: a mid-week dip and a weekend peak.
TRUE_WEEKDAY_EFFECTS = (-0.10, -0.18, -0.08, 0.0, 0.16, 0.38, 0.27)
TRUE_PROMOTION_LIFT = 0.35
TRUE_ANNUAL_SEASON = (0.18, 0.08)
NOISE_SIGMA = 0.2
PROMOTION_PROBABILITY = 0.08
PRICE_CHANGE_PROBABILITY = 0.15


@dataclass(frozen=True)
class Sale:
    day: dt.date
    store_id: str
    product_id: str
    price: float
    promotion: bool
    units: int


@dataclass(frozen=True)
class ProductTruth:
    product_id: str
    base_log_demand: float
    list_price: float
    elasticity: float


def _poisson(rng: random.Random, mean: float) -> int:
    """Poisson draw: Knuth's method for small means, a rounded normal above 30 (where it is accurate)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    threshold = math.exp(-mean)
    count, product = 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def store_ids(count: int) -> list[str]:
    return [f"S{number:03d}" for number in range(1, count + 1)]


def product_ids(count: int) -> list[str]:
    return [f"P{number:04d}" for number in range(1, count + 1)]


def generate_sales(seed: int, stores: int, products: int, days: int, start: dt.date) -> Iterator[Sale]:
    """Yield the sales history in date order (all stores and products of a day before the next day)."""
    if stores < 1 or products < 1 or days < 1:
        raise ValueError("stores, products and days must be >= 1")
    rng = random.Random(seed)
    store_effects = {store_id: rng.gauss(0.0, 0.35) for store_id in store_ids(stores)}
    catalogue = [
        ProductTruth(
            product_id=product_id,
            base_log_demand=rng.gauss(1.7, 0.5),
            list_price=round(rng.uniform(1.5, 40.0), 2),
            elasticity=rng.uniform(-2.2, -0.6),
        )
        for product_id in product_ids(products)
    ]
    season_sin, season_cos = TRUE_ANNUAL_SEASON
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        angle = 2.0 * math.pi * day.timetuple().tm_yday / 365.25
        day_effect = TRUE_WEEKDAY_EFFECTS[day.weekday()] + season_sin * math.sin(angle) + season_cos * math.cos(angle)
        for store_id, store_effect in store_effects.items():
            for product in catalogue:
                promotion = rng.random() < PROMOTION_PROBABILITY
                if promotion:
                    price = product.list_price * (1.0 - rng.uniform(0.10, 0.30))
                elif rng.random() < PRICE_CHANGE_PROBABILITY:
                    price = product.list_price * rng.uniform(0.90, 1.15)
                else:
                    price = product.list_price
                price = round(price, 2)
                log_mean = (
                    product.base_log_demand
                    + store_effect
                    + day_effect
                    + product.elasticity * math.log(price / product.list_price)
                    + (TRUE_PROMOTION_LIFT if promotion else 0.0)
                    + rng.gauss(0.0, NOISE_SIGMA)
                )
                yield Sale(day, store_id, product.product_id, price, promotion, _poisson(rng, math.exp(log_mean)))


def write_csv(sales: list[Sale], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "store_id", "product_id", "price", "promotion", "units"])
        for sale in sales:
            writer.writerow(
                [
                    sale.day.isoformat(),
                    sale.store_id,
                    sale.product_id,
                    f"{sale.price:.2f}",
                    int(sale.promotion),
                    sale.units,
                ]
            )
