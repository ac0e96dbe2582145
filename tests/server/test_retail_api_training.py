"""The training script: reproducible data, a model that learns the drivers and beats the naive baselines, and an
artifact the API serves."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from app.forecast import DemandModel, FeatureSpace, ModelArtifact
from app.main import create_app
from app.settings import Settings
from fastapi.testclient import TestClient
from retail_support import SERVER_DIR, SHIPPED_MODEL, subprocess_env
from training.dataset import TRUE_PROMOTION_LIFT, TRUE_WEEKDAY_EFFECTS, generate_sales
from training.train import (
    TrainingError,
    build_artifact,
    content_version,
    fit,
    reference_prices,
    solve_normal_equations,
)

SMALL = ["--stores", "3", "--products", "6", "--days", "210", "--holdout-days", "28"]


def train(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "training.train", "--out", str(out), *SMALL, *extra],
        cwd=SERVER_DIR,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_training_script_beats_the_naive_baselines_and_writes_a_servable_artifact(tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    result = train(out, "--seed", "11")
    assert result.returncode == 0, result.stderr
    assert "model (Poisson log-linear)" in result.stdout and "naive: product mean" in result.stdout
    artifact = json.loads(out.read_text())
    evaluation = artifact["evaluation"]
    assert evaluation["holdout_rows"] == 3 * 6 * 28
    for baseline in evaluation["baselines"].values():
        assert evaluation["model"]["mae"] < baseline["mae"] * 0.9, evaluation
        assert evaluation["model"]["wape"] < baseline["wape"]
    # The printed MAE is the artifact's MAE.
    assert f"{evaluation['model']['mae']:.3f}" in result.stdout

    with TestClient(create_app(Settings(model_path=out))) as client:
        assert client.get("/v1/model").json()["version"] == artifact["version"]
        response = client.post(
            "/v1/predict",
            json={"store_id": "S002", "product_id": "P0003", "date": "2024-08-03", "price": 5.0, "promotion": True},
        )
    assert response.status_code == 200 and response.json()["predictions"][0]["predicted_units"] > 0


def test_same_training_same_file_other_seed_other_version(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    for out, seed in ((first, "5"), (second, "5"), (other, "6")):
        assert train(out, "--seed", seed).returncode == 0
    assert first.read_bytes() == second.read_bytes(), "retraining must not dirty a committed artifact"
    assert json.loads(first.read_text())["version"] != json.loads(other.read_text())["version"]
    again = train(first, "--seed", "5")
    assert again.returncode == 0 and f"unchanged: {first} already holds version" in again.stdout


def test_the_version_is_a_hash_of_the_content_and_trained_at_the_end_of_the_training_data(
    shipped_model: dict,
) -> None:
    artifact = ModelArtifact.model_validate(shipped_model)
    assert artifact.version == content_version(artifact)
    assert artifact.trained_at == dt.datetime.combine(artifact.training.last_day, dt.time(), tzinfo=dt.UTC)
    changed = artifact.model_copy(update={"intercept": artifact.intercept + 0.001})
    assert content_version(changed) != artifact.version


@pytest.mark.slow
def test_the_committed_artifact_is_what_training_writes(tmp_path: Path) -> None:
    """`python -m training.train` with its defaults (what server/README.md documents) leaves the tree clean."""
    out = tmp_path / "model.json"
    result = subprocess.run(
        [sys.executable, "-m", "training.train", "--out", str(out)],
        cwd=SERVER_DIR,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == SHIPPED_MODEL.read_bytes()


def test_training_refuses_a_holdout_that_leaves_nothing_to_train_on(tmp_path: Path) -> None:
    result = train(tmp_path / "model.json", "--holdout-days", "500")
    assert result.returncode == 1
    assert "leaves no training" in result.stderr
    assert not (tmp_path / "model.json").exists()


def test_the_fit_recovers_the_demand_drivers_it_was_generated_with() -> None:
    sales = list(generate_sales(seed=3, stores=4, products=10, days=364, start=dt.date(2024, 1, 1)))
    artifact = build_artifact(sales, seed=3, holdout_days=28, ridge=1.0)
    assert artifact.promotion_lift == pytest.approx(TRUE_PROMOTION_LIFT, abs=0.08)
    true_relative = [effect - TRUE_WEEKDAY_EFFECTS[0] for effect in TRUE_WEEKDAY_EFFECTS]
    for fitted, true in zip(artifact.weekday_effects, true_relative, strict=True):
        assert fitted == pytest.approx(true, abs=0.06)
    assert all(elasticity < 0 for elasticity in artifact.price_elasticity.values()), "higher price, fewer units"


def test_serving_reproduces_the_training_design_row() -> None:
    """No train/serve skew: the served linear predictor equals weights . design row for every observation."""
    sales = list(generate_sales(seed=9, stores=2, products=3, days=120, start=dt.date(2025, 3, 1)))
    space = FeatureSpace(stores=("S001", "S002"), products=("P0001", "P0002", "P0003"))
    reference = reference_prices(sales)
    weights, ratio_range = fit(sales, space, reference, ridge=1.0)
    model = DemandModel(
        ModelArtifact.model_construct(
            **space.coefficients(weights), reference_price=reference, log_price_ratio_range=ratio_range
        )
    )
    for sale in sales:
        ratio = math.log(sale.price / reference[sale.product_id])
        row = space.sparse_row(
            space.stores.index(sale.store_id), space.products.index(sale.product_id), sale.day, ratio, sale.promotion
        )
        trained = sum(weights[column] * value for column, value in row)
        served = model.linear_predictor(sale.store_id, sale.product_id, sale.day, sale.price, sale.promotion)
        assert served == pytest.approx(trained, abs=1e-9)


def test_normal_equation_solver_solves_a_known_system() -> None:
    gram = [[4.0, 2.0, 0.6], [2.0, 5.0, 1.0], [0.6, 1.0, 3.0]]
    expected = [1.0, -2.0, 0.5]
    rhs = [sum(a * x for a, x in zip(row, expected, strict=True)) for row in gram]
    assert solve_normal_equations(gram, rhs) == pytest.approx(expected)
    with pytest.raises(TrainingError, match="singular"):
        solve_normal_equations([[1.0, 1.0], [1.0, 1.0]], [1.0, 1.0])
