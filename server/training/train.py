"""Generate the seeded sales history, fit the demand model, score it against naive baselines, write the artifact.

Run from `server/` (the model code is shared with serving, so the features cannot drift apart):

    python -m training.train                       # writes app/model/model.json
    python -m training.train --out /tmp/model.json --stores 3 --products 6 --days 200

The held-out period is the most recent `--holdout-days` days (a forecast is scored on a future it has not seen).
The artifact depends only on the data and the options: the same run writes a byte-identical file (its version is a
hash of its content, and trained_at is the last day of the training data, not the time of the run).
Exit status 2 if the model does not beat every naive baseline on MAE: a worse-than-naive artifact is never written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import math
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from app.forecast import DemandModel, Evaluation, FeatureSpace, Metrics, ModelArtifact, TrainingInfo

from training.dataset import Sale, generate_sales, write_csv

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "app" / "model" / "model.json"
MODEL_NAME = "retail-demand-poisson"


class TrainingError(Exception):
    """Training cannot produce a usable model; the message says why."""


def solve_normal_equations(gram: list[list[float]], rhs: list[float]) -> list[float]:
    """Solve gram @ w = rhs for a symmetric positive definite `gram` by Cholesky decomposition."""
    size = len(rhs)
    lower = [[0.0] * size for _ in range(size)]
    for i in range(size):
        row_i = lower[i]
        for j in range(i + 1):
            row_j = lower[j]
            total = gram[i][j] - sum(row_i[k] * row_j[k] for k in range(j))
            if i == j:
                if total <= 0.0:
                    raise TrainingError(f"design matrix is singular at column {i}: add --ridge or more data")
                row_i[i] = math.sqrt(total)
            else:
                row_i[j] = total / row_j[j]
    forward = [0.0] * size
    for i in range(size):
        forward[i] = (rhs[i] - sum(lower[i][k] * forward[k] for k in range(i))) / lower[i][i]
    weights = [0.0] * size
    for i in reversed(range(size)):
        weights[i] = (forward[i] - sum(lower[k][i] * weights[k] for k in range(i + 1, size))) / lower[i][i]
    return weights


def reference_prices(sales: Sequence[Sale]) -> dict[str, float]:
    """Each product's usual shelf price: the median price on days without a promotion."""
    prices: dict[str, list[float]] = defaultdict(list)
    for sale in sales:
        if not sale.promotion:
            prices[sale.product_id].append(sale.price)
    for sale in sales:  # a product only ever seen on promotion still gets a reference
        if sale.product_id not in prices:
            prices[sale.product_id].append(sale.price)
    return {product_id: statistics.median(values) for product_id, values in prices.items()}


DesignRow = tuple[list[tuple[int, float]], int]


def design(
    sales: Sequence[Sale], space: FeatureSpace, reference: dict[str, float]
) -> tuple[list[DesignRow], tuple[float, float]]:
    """Sparse rows (with the observed units) and the range of log price ratios seen."""
    store_index = {store_id: i for i, store_id in enumerate(space.stores)}
    product_index = {product_id: i for i, product_id in enumerate(space.products)}
    rows: list[DesignRow] = []
    low, high = math.inf, -math.inf
    for sale in sales:
        ratio = math.log(sale.price / reference[sale.product_id])
        low, high = min(low, ratio), max(high, ratio)
        row = space.sparse_row(
            store_index[sale.store_id], product_index[sale.product_id], sale.day, ratio, sale.promotion
        )
        rows.append((row, sale.units))
    return rows, (low, high)


def weighted_least_squares(
    rows: Sequence[DesignRow],
    size: int,
    ridge: float,
    weight_and_target: Callable[[list[tuple[int, float]], int], tuple[float, float]],
) -> list[float]:
    """Solve (X'WX + ridge*I) w = X'Wz over the sparse rows; the intercept (column 0) is not penalised."""
    gram = [[0.0] * size for _ in range(size)]
    rhs = [0.0] * size
    for row, units in rows:
        weight, target = weight_and_target(row, units)
        for column_a, value_a in row:
            gram_row = gram[column_a]
            weighted = weight * value_a
            rhs[column_a] += weighted * target
            for column_b, value_b in row:
                gram_row[column_b] += weighted * value_b
    for column in range(1, size):
        gram[column][column] += ridge
    return solve_normal_equations(gram, rhs)


def fit(
    sales: Sequence[Sale],
    space: FeatureSpace,
    reference: dict[str, float],
    ridge: float,
    *,
    max_iterations: int = 25,
    tolerance: float = 1e-7,
) -> tuple[list[float], tuple[float, float]]:
    """Poisson regression with a log link (units are counts), by iteratively reweighted least squares.

    Started from least squares on log1p(units), which is close; each step solves a weighted least-squares problem
    with weight mu and working target eta + (y - mu) / mu, and it stops when no weight moves by more than
    `tolerance` (typically 4-5 steps)."""
    rows, ratio_range = design(sales, space, reference)
    weights = weighted_least_squares(rows, space.size, ridge, lambda row, units: (1.0, math.log1p(units)))

    def linear(row: list[tuple[int, float]]) -> float:
        return sum(weights[column] * value for column, value in row)

    def working(row: list[tuple[int, float]], units: int) -> tuple[float, float]:
        eta = linear(row)
        mean = math.exp(eta)
        return mean, eta + (units - mean) / mean

    for _ in range(max_iterations):
        updated = weighted_least_squares(rows, space.size, ridge, working)
        change = max(abs(new - old) for new, old in zip(updated, weights, strict=True))
        weights = updated
        if change < tolerance:
            return weights, ratio_range
    raise TrainingError(f"Poisson fit did not converge in {max_iterations} iterations (last change {change:.2e})")


def score(actual: Sequence[float], predicted: Sequence[float]) -> Metrics:
    errors = [p - a for a, p in zip(actual, predicted, strict=True)]
    total_actual = sum(actual)
    return Metrics(
        mae=round(sum(abs(e) for e in errors) / len(errors), 4),
        wape=round(sum(abs(e) for e in errors) / total_actual, 4) if total_actual else math.inf,
        rmse=round(math.sqrt(sum(e * e for e in errors) / len(errors)), 4),
    )


def mean_by(sales: Sequence[Sale], key: Callable[[Sale], tuple[str, ...]]) -> dict[tuple[str, ...], float]:
    sums: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for sale in sales:
        entry = sums[key(sale)]
        entry[0] += sale.units
        entry[1] += 1
    return {group: total / count for group, (total, count) in sums.items()}


def naive_baselines(train: Sequence[Sale], holdout: Sequence[Sale]) -> dict[str, list[float]]:
    """Forecasts that use no features: each product's mean, and each store-product pair's mean."""
    overall = sum(sale.units for sale in train) / len(train)
    product_mean = mean_by(train, lambda sale: (sale.product_id,))
    pair_mean = mean_by(train, lambda sale: (sale.store_id, sale.product_id))
    return {
        "product_mean": [product_mean.get((sale.product_id,), overall) for sale in holdout],
        "store_product_mean": [pair_mean.get((sale.store_id, sale.product_id), overall) for sale in holdout],
    }


def content_version(artifact: ModelArtifact) -> str:
    """The artifact's version: a hash of everything else in it (coefficients, evaluation, training data summary),
    so retraining on the same data with the same options gives the same version and leaves the file unchanged."""
    content = artifact.model_dump_json(exclude={"version"})
    return hashlib.sha256(content.encode()).hexdigest()[:12]


def build_artifact(sales: list[Sale], *, seed: int, holdout_days: int, ridge: float) -> ModelArtifact:
    last_day = sales[-1].day
    holdout_start = last_day - dt.timedelta(days=holdout_days - 1)
    train = [sale for sale in sales if sale.day < holdout_start]
    holdout = [sale for sale in sales if sale.day >= holdout_start]
    if not train or not holdout:
        raise TrainingError(f"--holdout-days {holdout_days} leaves no training or no held-out rows")
    space = FeatureSpace(
        stores=tuple(sorted({sale.store_id for sale in train})),
        products=tuple(sorted({sale.product_id for sale in train})),
    )
    reference = reference_prices(train)
    weights, ratio_range = fit(train, space, reference, ridge)
    # From the data, not the clock: the wall-clock time of a run would make every retraining a different file.
    trained_at = dt.datetime.combine(train[-1].day, dt.time(), tzinfo=dt.UTC)
    coefficients = space.coefficients([round(weight, 6) for weight in weights])
    fields = {
        "schema_version": 1,
        "name": MODEL_NAME,
        "target": "log_expected_units",
        "trained_at": trained_at,
        **coefficients,
        "reference_price": reference,
        "log_price_ratio_range": (round(ratio_range[0], 6), round(ratio_range[1], 6)),
    }
    # Score the coefficients exactly as they will be served (rounded, clamped, through DemandModel).
    served = DemandModel(ModelArtifact.model_construct(**fields))
    actual = [float(sale.units) for sale in holdout]
    predicted = [
        served.predict_units(sale.store_id, sale.product_id, sale.day, sale.price, sale.promotion) for sale in holdout
    ]
    evaluation = Evaluation(
        holdout_start=holdout_start,
        holdout_rows=len(holdout),
        model=score(actual, predicted),
        baselines={name: score(actual, forecast) for name, forecast in naive_baselines(train, holdout).items()},
    )
    artifact = ModelArtifact.model_validate(
        {
            **fields,
            "version": "unversioned",
            "evaluation": evaluation,
            "training": TrainingInfo(
                seed=seed, rows=len(train), first_day=sales[0].day, last_day=train[-1].day, ridge=ridge
            ),
        }
    )
    return artifact.model_copy(update={"version": content_version(artifact)})


def report(artifact: ModelArtifact) -> str:
    evaluation = artifact.evaluation
    lines = [
        f"training rows {artifact.training.rows:,}; held-out rows {evaluation.holdout_rows:,} "
        f"(from {evaluation.holdout_start})",
        f"{'forecast':<28}{'MAE':>8}{'WAPE':>9}{'RMSE':>9}",
    ]
    rows = [("model (Poisson log-linear)", evaluation.model)]
    rows += [(f"naive: {name.replace('_', ' ')}", metrics) for name, metrics in evaluation.baselines.items()]
    for label, metrics in rows:
        lines.append(f"{label:<28}{metrics.mae:>8.3f}{metrics.wape:>8.1%} {metrics.rmse:>8.3f}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=20261127, help="names the dataset (default: %(default)s)")
    parser.add_argument("--stores", type=int, default=8, help="number of stores (default: %(default)s)")
    parser.add_argument("--products", type=int, default=25, help="number of products (default: %(default)s)")
    parser.add_argument("--days", type=int, default=730, help="days of history (default: %(default)s)")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2024, 1, 1), help="first day")
    parser.add_argument("--holdout-days", type=int, default=56, help="most recent days held out (default: 56)")
    parser.add_argument("--ridge", type=float, default=1.0, help="L2 penalty on the coefficients (default: 1.0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="artifact path (default: app/model/model.json)")
    parser.add_argument("--write-csv", type=Path, help="also write the generated dataset as CSV (not committed)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        sales = list(generate_sales(args.seed, args.stores, args.products, args.days, args.start))
        if args.write_csv:
            write_csv(sales, args.write_csv)
        artifact = build_artifact(
            sales,
            seed=args.seed,
            holdout_days=args.holdout_days,
            ridge=args.ridge,
        )
    except (TrainingError, ValueError) as error:
        print(f"training failed: {error}", file=sys.stderr)
        return 1
    print(report(artifact))
    losing = [
        name for name, metrics in artifact.evaluation.baselines.items() if metrics.mae <= artifact.evaluation.model.mae
    ]
    if losing:
        print(f"not written: the model does not beat the naive baseline(s) {', '.join(losing)} on MAE", file=sys.stderr)
        return 2
    content = artifact.model_dump_json(indent=1) + "\n"
    elapsed = f"{time.perf_counter() - started:.1f}s"
    if args.out.is_file() and args.out.read_text(encoding="utf-8") == content:
        print(f"unchanged: {args.out} already holds version {artifact.version} ({elapsed})")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(content, encoding="utf-8")
    print(f"wrote {args.out} (version {artifact.version}, {elapsed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
