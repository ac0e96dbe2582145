"""The API's contract as a client sees it, through Starlette's TestClient."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from app.main import create_app
from app.observability import JsonFormatter
from app.schemas import MAX_BATCH_ITEMS
from app.settings import Settings
from fastapi.testclient import TestClient
from retail_support import SHIPPED_MODEL, item


def test_health_is_ok_without_any_dependency(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(model_path=tmp_path / "missing.json"))) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_the_loaded_model_version(client: TestClient, shipped_model: dict) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["model_version"] == shipped_model["version"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "cannot read model artifact"), ("{not json", "is not JSON"), ('{"schema_version": 1}', "is invalid at")],
)
def test_ready_is_503_with_the_reason_when_the_model_cannot_load(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    model_path = tmp_path / "model.json"
    if content is not None:
        model_path.write_text(content)
    with TestClient(create_app(Settings(model_path=model_path))) as client:
        ready = client.get("/ready")
        predict = client.post("/v1/predict", json=item())
        info = client.get("/v1/model")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert reason in ready.json()["reason"]
    [problem] = predict.json()["detail"]  # the one error shape, as every other status
    assert predict.status_code == 503 and reason in problem["reason"] and problem["type"] == "model_not_ready"
    assert info.status_code == 503


def test_model_path_env_selects_the_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped_model: dict
) -> None:
    other = dict(shipped_model, version="test-override-1")
    model_path = tmp_path / "other.json"
    model_path.write_text(json.dumps(other))
    monkeypatch.setenv("MODEL_PATH", str(model_path))
    with TestClient(create_app()) as client:
        assert client.get("/v1/model").json()["version"] == "test-override-1"
        assert client.post("/v1/predict", json=item()).json()["model_version"] == "test-override-1"


def test_model_info_describes_the_model(client: TestClient, shipped_model: dict) -> None:
    info = client.get("/v1/model").json()
    assert info["name"] == shipped_model["name"]
    assert info["version"] == shipped_model["version"]
    assert info["trained_at"].startswith(shipped_model["trained_at"][:10])
    assert any(feature.startswith("price") for feature in info["features"])
    assert info["stores"] == sorted(shipped_model["store_effects"])
    assert info["products"] == sorted(shipped_model["product_effects"])
    evaluation = info["evaluation"]
    assert evaluation["model"]["mae"] < min(baseline["mae"] for baseline in evaluation["baselines"].values())


def test_predict_one_item(client: TestClient, shipped_model: dict) -> None:
    response = client.post("/v1/predict", json=item())
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == shipped_model["version"]
    [prediction] = body["predictions"]
    assert prediction["store_id"] == "S001" and prediction["product_id"] == "P0001"
    assert prediction["date"] == "2026-01-09"
    assert prediction["predicted_units"] > 0


def test_predict_batch_keeps_request_order(client: TestClient) -> None:
    items = [item(product_id=f"P{n:04d}") for n in range(1, 21)]
    response = client.post("/v1/predict", json={"items": items})
    assert response.status_code == 200
    assert [p["product_id"] for p in response.json()["predictions"]] == [i["product_id"] for i in items]


def test_predictions_follow_the_demand_drivers(client: TestClient, shipped_model: dict) -> None:
    """What a merchandiser expects: a promotion sells more, a higher price sells less, Saturday beats Tuesday."""
    list_price = shipped_model["reference_price"]["P0001"]

    def units(**overrides: object) -> float:
        return client.post("/v1/predict", json=item(**overrides)).json()["predictions"][0]["predicted_units"]

    assert units(promotion=True) > units(promotion=False)
    assert units(price=round(list_price * 1.1, 2)) < units(price=round(list_price * 0.9, 2))
    assert units(date="2026-01-10") > units(date="2026-01-06")  # Saturday vs Tuesday


def test_batch_at_the_limit_is_accepted(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"items": [item()] * MAX_BATCH_ITEMS})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == MAX_BATCH_ITEMS


def test_oversized_batch_is_413_in_the_shape_of_every_client_error(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"items": [item()] * (MAX_BATCH_ITEMS + 1)})
    assert response.status_code == 413
    [problem] = response.json()["detail"]
    assert problem["field"] == "items" and problem["type"] == "too_many_items"
    assert f"{MAX_BATCH_ITEMS + 1} items; the limit is {MAX_BATCH_ITEMS}" in problem["reason"]


def test_body_over_the_byte_limit_is_413(tmp_path: Path) -> None:
    settings = Settings(model_path=SHIPPED_MODEL, max_body_bytes=2048)
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/predict", json={"items": [item()] * 50})
    assert response.status_code == 413
    [problem] = response.json()["detail"]
    assert problem["field"] == "body" and problem["type"] == "body_too_large"
    assert f"is {len(response.request.content)} bytes; the limit is 2048 bytes (MAX_BODY_BYTES)" in problem["reason"]
    assert response.headers["x-request-id"]


def test_chunked_body_over_the_byte_limit_is_413() -> None:
    """No Content-Length to refuse up front: the body is counted as it arrives."""
    settings = Settings(model_path=SHIPPED_MODEL, max_body_bytes=2048)
    chunks = [json.dumps({"items": [item()] * 50}).encode()[i : i + 512] for i in range(0, 6000, 512)]
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/predict", content=iter(chunks), headers={"content-type": "application/json"})
        small = client.post(
            "/v1/predict", content=iter([json.dumps(item()).encode()]), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    [problem] = response.json()["detail"]
    assert problem == {
        "field": "body",
        "reason": "the body is over the limit of 2048 bytes (MAX_BODY_BYTES)",
        "type": "body_too_large",
    }
    assert response.headers["x-request-id"]
    assert small.status_code == 200


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        (item(price=0), "price", "greater than 0"),
        (item(price="cheap"), "price", "valid number"),
        (item(price="2.79"), "price", "valid number"),  # strict: a number in a string is not converted
        (item(price=True), "price", "valid number"),
        (item(date="2026-13-01"), "date", "valid date"),
        (item(promotion="yes"), "promotion", "valid boolean"),
        (item(store_id="S 1"), "store_id", "pattern"),
        ({k: v for k, v in item().items() if k != "product_id"}, "product_id", "Field required"),
        (item(discount=0.1), "discount", "Extra inputs are not permitted"),
        ({"items": [item(), item(price=-3)]}, "items.1.price", "greater than 0"),
        ({"items": [item()], "priority": "high"}, "priority", "Extra inputs are not permitted"),
        ({"items": []}, "items", "at least 1 item"),
        ([item()], "body", "Input should be an object"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_reason(
    client: TestClient, payload: object, field: str, reason: str
) -> None:
    response = client.post("/v1/predict", json=payload)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert any(p["field"] == field and reason in p["reason"] for p in problems), problems


@pytest.mark.parametrize("field", ["store_id", "product_id"])
def test_unknown_ids_are_422_naming_the_field(client: TestClient, field: str) -> None:
    response = client.post("/v1/predict", json={"items": [item(), item(**{field: "X999"})]})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == f"items.1.{field}"
    assert problem["type"] == "unknown_id"
    assert "'X999'" in problem["reason"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", json.dumps(item()).encode()),
        ("application/x-www-form-urlencoded", b"store_id=S001&product_id=P0001&date=2026-01-09&price=2.79"),
        (
            "multipart/form-data; boundary=b0",
            b'--b0\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n--b0--\r\n',
        ),
        ("application/xml", b"<item><store_id>S001</store_id></item>"),
        (None, json.dumps(item()).encode()),
    ],
)
def test_a_body_that_is_not_json_is_415(client: TestClient, content_type: str | None, body: bytes) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/predict", content=body, headers=headers)
    assert response.status_code == 415
    [problem] = response.json()["detail"]
    assert problem["field"] == "content-type" and problem["type"] == "unsupported_media_type"
    assert "application/json" in problem["reason"]
    assert response.headers["x-request-id"]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON", "application/ld+json"])
def test_json_media_types_with_parameters_are_accepted(client: TestClient, content_type: str) -> None:
    response = client.post("/v1/predict", content=json.dumps(item()), headers={"content-type": content_type})
    assert response.status_code == 200


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post("/v1/predict", content=b'{"store_id": ', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    responses = [
        client.get("/health"),
        client.post("/v1/predict", json=item()),
        client.post("/v1/predict", json=item(price=-1)),
        client.get("/nowhere"),
    ]
    ids = [response.headers.get("x-request-id") for response in responses]
    assert all(ids) and len(set(ids)) == len(ids)


def test_a_valid_client_request_id_is_echoed_and_an_invalid_one_replaced(client: TestClient) -> None:
    echoed = client.get("/health", headers={"X-Request-ID": "order-42.retry:1"})
    replaced = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert echoed.headers["x-request-id"] == "order-42.retry:1"
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(replaced.headers["x-request-id"]) == 32


def test_one_json_log_line_per_request(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="retail_api.access"):
        response = client.post("/v1/predict", json=item(), headers={"X-Request-ID": "log-test-1"})
    [record] = [r for r in caplog.records if r.name == "retail_api.access"]
    [formatter] = [h.formatter for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    line = json.loads(formatter.format(record))
    assert response.status_code == 200
    assert line["method"] == "POST" and line["path"] == "/v1/predict" and line["status"] == 200
    assert line["request_id"] == "log-test-1"
    assert line["duration_ms"] >= 0


def test_an_unexpected_error_is_a_500_with_request_id(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    model = client.app.state.model_slot.model

    def broken(*args: object) -> float:
        raise ZeroDivisionError("simulated defect")

    monkeypatch.setattr(model, "predict_units", broken)
    with TestClient(client.app, raise_server_exceptions=False) as raw_client:
        response = raw_client.post("/v1/predict", json=item(), headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {"detail": [{"field": "request", "reason": "internal error", "type": "internal_error"}]}
    assert response.headers["x-request-id"] == "boom-1"


def test_openapi_documents_the_predict_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/predict"]["post"]
    body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in body_schema["oneOf"]} == {"PredictionItem", "PredictionBatch"}
    assert {"200", "408", "413", "415", "422", "503"} <= set(operation["responses"])
    for status in ("408", "413", "415", "422"):  # one error shape for everything a client can cause
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ValidationProblem"}
    schemas = spec["components"]["schemas"]
    assert schemas["PredictionItem"]["additionalProperties"] is False
    assert schemas["PredictionBatch"]["properties"]["items"]["minItems"] == 1
    assert set(spec["paths"]) >= {"/health", "/ready", "/v1/model", "/v1/predict"}


def test_an_unknown_route_and_a_wrong_method_answer_in_the_one_error_shape(client: TestClient) -> None:
    missing = client.get("/v2/predict")
    wrong_method = client.get("/v1/predict")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": [{"field": "path", "reason": "no route /v2/predict: see /docs for the routes", "type": "not_found"}]
    }
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    [problem] = wrong_method.json()["detail"]
    assert problem == {
        "field": "method",
        "reason": "GET is not allowed on /v1/predict (allowed: POST)",
        "type": "method_not_allowed",
    }
