"""Predictions by entity over real HTTP: the demo's reorder model reading its feature
table in PostgreSQL and in SQLite, and the prediction log row each answer leaves."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import sqlalchemy as sa

from strangler.demo.estate import DEMO_SPEC, running_estate
from strangler.demo.features import load_features
from strangler.demo.reorder_model import FEATURES, MODELS, rules_answer
from strangler.etl import FeatureStore
from strangler.rest.app import create_app
from strangler.spec import load_spec
from tests.etl.stores import fresh_database
from tests.servers import run_app

MODEL = MODELS / "reorder" / "1" / "model.onnx"
SKU = {"sku": "SKU-1001"}


@dataclass
class Served:
    client: httpx.Client
    store: str
    """The feature store's URL (the prediction log is written there too)."""


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The demo estate's app, its feature tables (and prediction log) in a fresh database."""
    folder = tmp_path_factory.mktemp("predict")
    with (
        running_estate(state_dir=folder) as estate,
        fresh_database(request.param, folder) as url,
    ):
        spec = load_spec(DEMO_SPEC, env={**estate.env, "DEMO_FEATURES_URL": url})
        loaded = load_features(spec)
        assert loaded["item_sales"] > 10_000 and loaded["item_stock"] == 14
        with run_app(create_app(spec)) as base, httpx.Client(base_url=base, timeout=30) as client:
            _wait_ready(client)
            yield Served(client, url)


def _wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = client.get("/v2/models/reorder/ready")
        if answer.status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"reorder never became ready: {client.get('/readyz').text}")


def _latest(url: str, sku: str) -> dict[str, Any]:
    store = FeatureStore(url)
    try:
        (stock,) = store.latest("item_stock", [{"sku": sku}])
        (sales,) = store.latest("item_sales", [{"sku": sku}])
        (item,) = store.latest("item_catalogue", [{"sku": sku}])
    finally:
        store.close()
    assert stock is not None and sales is not None and item is not None
    return {**sales, **stock, **item}


def _logged(url: str, request_id: str) -> dict[str, Any]:
    """The log row of ``request_id``, once the writer has written it (polled)."""
    engine = sa.create_engine(url)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                row = connection.execute(
                    sa.text("SELECT * FROM strangler_predictions WHERE request_id = :id"),
                    {"id": request_id},
                ).first()
            if row is not None:
                return dict(row._mapping)
            time.sleep(0.02)
    finally:
        engine.dispose()
    raise AssertionError(f"no log row for {request_id}")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def test_a_prediction_reads_the_entitys_features_and_is_logged(served: Served) -> None:
    answer = served.client.post("/predict/reorder", json={"entity": {"sku": "SKU-1001"}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    latest = _latest(served.store, "SKU-1001")
    assert body["model"] == "reorder" and body["version"] == "1"
    assert body["entity"] == {"sku": "SKU-1001"}
    assert body["features"] == {
        "unitsSold7d": latest["unitsSold7d"],
        "unitsSold28d": latest["unitsSold28d"],
        "onHand": latest["onHand"],
        "reorderPoint": latest["reorderPoint"],
        "status": "active",
    }
    # the answer is the model's for those values, run in-process
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    row = np.array([[body["features"][f] for f in FEATURES]], dtype=np.float32)
    label, probabilities = session.run(
        None, {"features": row, "status": np.array([["active"]], dtype=object)}
    )
    assert body["prediction"]["label"] == ("yes" if label[0] == 1 else "no")
    assert body["prediction"]["probabilities"] == pytest.approx(probabilities[0].tolist())
    logged = _logged(served.store, body["request_id"])
    assert (logged["model"], logged["version"]) == ("reorder", "1")
    assert _json(logged["entity"]) == {"sku": "SKU-1001"}
    assert _json(logged["features"]) == body["features"]
    assert _json(logged["prediction"]) == body["prediction"]
    assert logged["at"] is not None
    ready = served.client.get("/readyz").json()["components"]["predictions"]
    assert ready["status"] == "ok" and ready["log"]["written"] >= 1, ready


def test_a_request_field_overrides_the_table(served: Served) -> None:
    latest = _latest(served.store, "SKU-1001")
    answers = {}
    for on_hand in (0, 100_000):
        answer = served.client.post(
            "/predict/reorder",
            json={"entity": {"sku": "SKU-1001"}, "features": {"onHand": on_hand}, "version": "1"},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["features"]["onHand"] == on_hand
        assert body["features"]["unitsSold28d"] == latest["unitsSold28d"]
        answers[on_hand] = body["prediction"]["label"]
        rules = rules_answer("SKU-1001", latest["unitsSold28d"], on_hand)
        assert answers[on_hand] == ("yes" if rules else "no")
    assert answers == {0: "yes", 100_000: "no"}


def test_every_demo_sku_gets_the_rules_engines_answer_mostly(served: Served) -> None:
    agree = 0
    skus = [f"SKU-{n}" for n in (1001, 1002, 1003, 1004, 2001, 2002, 2003, 3001, 3002, 3003,
                                 4001, 4002, 4003, 4004)]  # fmt: skip
    for sku in skus:
        body = served.client.post("/predict/reorder", json={"entity": {"sku": sku}}).json()
        f = body["features"]
        rules = rules_answer(sku, f["unitsSold28d"], f["onHand"])
        agree += body["prediction"]["label"] == ("yes" if rules else "no")
    assert agree >= len(skus) - 1


def test_features_without_an_entity(served: Served) -> None:
    features = {"unitsSold7d": 70, "unitsSold28d": 280, "onHand": 5, "reorderPoint": 60}
    answer = served.client.post(
        "/predict/reorder", json={"features": {**features, "status": "discontinued"}}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["entity"] is None


def _problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    return problem


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/predict/nosuch", {"entity": {"sku": "SKU-1001"}}, 404, "nosuch"),
        ("/predict/reorder", {"entity": {"sku": "SKU-1001"}, "version": "9"}, 404, "9"),
        ("/predict/reorder", {"entity": {"sku": "SKU-0000"}}, 404, "SKU-0000"),
    ],
)
def test_unknown_models_versions_and_entities_are_404(
    served: Served, path: str, body: dict[str, Any], status: int, says: str
) -> None:
    problem = _problem(served.client.post(path, json=body), status)
    assert says in problem["detail"]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"entity": SKU, "features": {"onHand": "many"}}, "features.onHand", "number"),
        ({"entity": SKU, "features": {"onHand": None}}, "features.onHand", "null"),
        ({"entity": SKU, "features": {"unitsSold7d": 3}}, "features.unitsSold7d",
         "request fields: onHand"),
        ({"entity": SKU, "features": {"colour": 3}}, "features.colour", "not a feature"),
        ({"entity": {"item": "SKU-1001"}}, "entity.sku", "required"),
        ({"features": {"onHand": 3}}, "features.unitsSold7d", "required without an entity"),
        ({"features": {"unitsSold7d": 1, "unitsSold28d": 1, "onHand": 1, "reorderPoint": 1,
                       "status": 7}}, "features.status", "text"),
    ],
)  # fmt: skip
def test_bad_features_are_422_naming_the_field(
    served: Served, body: dict[str, Any], field: str, says: str
) -> None:
    problem = _problem(served.client.post("/predict/reorder", json=body), 422)
    fields = {e["path"]: e["message"] for e in problem.get("errors", [])}
    assert field in fields, problem
    assert says in fields[field], problem


def test_the_log_survives_many_concurrent_predictions(served: Served) -> None:
    """Many predictions at once are all answered and all logged (written in batches)."""
    import concurrent.futures

    def one(i: int) -> str:
        answer = served.client.post(
            "/predict/reorder", json={"entity": {"sku": "SKU-2001"}, "features": {"onHand": i}}
        )
        assert answer.status_code == 200, answer.text
        request_id: str = answer.json()["request_id"]
        return request_id

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(one, range(200)))
    _logged(served.store, ids[-1])
    engine = sa.create_engine(served.store)
    try:
        deadline = time.monotonic() + 10
        while True:
            with engine.connect() as connection:
                n = connection.execute(
                    sa.select(sa.func.count())
                    .select_from(sa.table("strangler_predictions"))
                    .where(sa.column("request_id").in_(ids))
                ).scalar_one()
            if n == len(ids) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
    finally:
        engine.dispose()
    assert n == len(ids)


def test_the_prediction_log_defaults_to_the_feature_store(tmp_path: Path) -> None:
    from strangler.inference.predict import log_url

    spec = load_spec(DEMO_SPEC, env={"DEMO_FEATURES_URL": f"sqlite:///{tmp_path}/f.sqlite"})
    assert log_url(spec) == f"sqlite:///{tmp_path}/f.sqlite"
    spec = load_spec(
        DEMO_SPEC,
        env={"DEMO_FEATURES_URL": "sqlite:///a.sqlite", "DEMO_PREDICTION_LOG": "sqlite:///b.db"},
    )
    assert log_url(spec) == "sqlite:///b.db"


def test_the_lines_the_demo_prints_answer(served: Served) -> None:
    """``strangler demo`` prints commands to try the model: run them as a user would."""
    import shlex
    import subprocess

    from strangler.demo.predictions import prediction_lines

    api = str(served.client.base_url).rstrip("/")
    lines = prediction_lines(api)
    assert any("/predict/reorder" in line for line in lines)
    for line in lines:
        done = subprocess.run(
            [*shlex.split(line), "--fail-with-body"], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        body = json.loads(done.stdout)
        if "/predict/" in line:
            assert body["prediction"]["label"] in ("yes", "no") and body["version"] == "1"
        else:
            assert body["name"] == "reorder"


def test_the_model_mostly_agrees_with_the_legacy_operation(served: Served) -> None:
    """The canary's two answers: the model by SKU against the legacy SOAP ``GetReorderAdvice``
    (through the app's adapter) asked with the same stock and sales, over a range of stock."""
    from strangler.demo.reorder_model import CUSTOMER, LEAD_TIME_DAYS, daily_sales

    asked = agree = 0
    for sku in ("SKU-1001", "SKU-1003", "SKU-1004", "SKU-2002", "SKU-3002", "SKU-4001"):
        for on_hand in (0, 5, 20, 40, 60, 90, 150, 300, 600, 2000):
            mine = served.client.post(
                "/predict/reorder", json={"entity": {"sku": sku}, "features": {"onHand": on_hand}}
            )
            assert mine.status_code == 200, mine.text
            units_28d = mine.json()["features"]["unitsSold28d"]
            legacy = served.client.post(
                "/soap/inventory/GetReorderAdvice",
                json={
                    "customerId": CUSTOMER,
                    "sku": sku,
                    "quantityOnHand": on_hand,
                    "averageDailySales": str(daily_sales(units_28d)),
                    "leadTimeDays": LEAD_TIME_DAYS,
                },
            )
            assert legacy.status_code == 200, legacy.text
            asked += 1
            agree += mine.json()["prediction"]["label"] == (
                "yes" if legacy.json()["reorder"] else "no"
            )
    assert agree / asked >= 0.95, f"{agree} of {asked}"
