"""The fault switch over real HTTP: a served model made to fail or slow on purpose, and healed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from strangler.demo.reorder_model import MODELS
from tests.conftest import SpecRunner

FEATURES = {
    "unitsSold7d": 50, "unitsSold28d": 200, "onHand": 0, "reorderPoint": 60, "status": "active",
}  # fmt: skip
INFER = {
    "inputs": [
        {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [50, 200, 0, 60]},
        {"name": "status", "shape": [1, 1], "datatype": "BYTES", "data": ["active"]},
    ]
}


def spec(faults: bool) -> str:
    return f"models:\n  repository: {MODELS}\n  reload_s: 0\n  faults: {str(faults).lower()}\n"


@pytest.fixture
def client(api: SpecRunner) -> Iterator[httpx.Client]:
    with api(spec(True)) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def predict(client: httpx.Client) -> httpx.Response:
    return client.post("/predict/reorder", json={"features": FEATURES})


def injected(client: httpx.Client, kind: str) -> float:
    text = client.get("/metrics").text
    found = re.search(
        rf'strangler_model_faults_injected_total\{{kind="{kind}",model="reorder"\}} (\S+)', text
    )
    return float(found.group(1)) if found else 0.0


def test_the_switch_fails_every_path_to_the_model_until_cleared(client: httpx.Client) -> None:
    assert predict(client).status_code == 200
    assert client.get("/admin/models/reorder/faults").json() == {
        "model": "reorder", "error_rate": 0.0, "delay_ms": 0.0, "since": None,
    }  # fmt: skip
    before = injected(client, "error")
    put = client.put("/admin/models/reorder/faults", json={"error_rate": 1.0})
    assert put.status_code == 200, put.text
    assert put.json()["error_rate"] == 1.0 and put.json()["since"]
    failed = predict(client)
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert "fault switch" in failed.json()["detail"]
    assert client.post("/v2/models/reorder/infer", json=INFER).status_code == 500
    assert injected(client, "error") == before + 2
    metrics = client.get("/metrics").text
    assert 'strangler_model_fault_error_rate{model="reorder"} 1.0' in metrics
    cleared = client.delete("/admin/models/reorder/faults")
    assert cleared.status_code == 200 and cleared.json()["error_rate"] == 0.0
    assert predict(client).status_code == 200
    assert client.post("/v2/models/reorder/infer", json=INFER).status_code == 200
    assert 'strangler_model_fault_error_rate{model="reorder"} 0.0' in client.get("/metrics").text


def test_a_delay_is_counted_and_the_answer_still_comes(client: httpx.Client) -> None:
    before = injected(client, "delay")
    client.put("/admin/models/reorder/faults", json={"delay_ms": 50})
    try:
        for _ in range(3):
            assert predict(client).status_code == 200
        assert injected(client, "delay") == before + 3
    finally:
        client.delete("/admin/models/reorder/faults")


def test_a_bad_switch_is_a_problem(client: httpx.Client) -> None:
    unknown = client.put("/admin/models/nope/faults", json={"error_rate": 0.5})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    for body in ({"error_rate": 2}, {"delay_ms": -1}, {"errors": 0.5}):
        refused = client.put("/admin/models/reorder/faults", json=body)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"] == "application/problem+json"


def test_the_switch_is_off_unless_the_spec_offers_it(api: SpecRunner) -> None:
    with api(spec(False)) as url:
        assert httpx.put(f"{url}/admin/models/reorder/faults", json={}).status_code == 404
        assert (
            "/admin/models/{model}/faults" not in httpx.get(f"{url}/openapi.json").json()["paths"]
        )
