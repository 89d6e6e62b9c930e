"""The demo's ``/api/reorder-advice`` route over real HTTP: the rules engine over SOAP on
one side, the ``reorder`` model (from the feature tables ETL loaded) on the other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from strangler.demo.estate import running_estate
from strangler.demo.features import load_features
from strangler.rest.app import create_app
from tests.servers import run_app

IGNORED = {"/quantity", "/reason", "/ruleId"}


def ask(customer: str, sku: str = "SKU-1001", lead: int = 7) -> dict[str, Any]:
    return {
        "customerId": customer,
        "sku": sku,
        "quantityOnHand": 3,
        "averageDailySales": "4.5",
        "leadTimeDays": lead,
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder = Path(tmp_path_factory.mktemp("demo-gateway"))
    with running_estate(state_dir=folder) as estate:
        assert estate.spec.section("routes").items["reorder-advice"].mode == "shadow"
        load_features(estate.spec)
        with (
            run_app(create_app(estate.spec, cache_dir=folder)) as url,
            httpx.Client(base_url=url, timeout=30) as client,
        ):
            # these tests set the route's mode themselves: the rollout's controller stands by
            paused = client.post("/admin/canary/reorder-advice/pause")
            assert paused.status_code == 200, paused.text
            yield client


def rules_answer(client: httpx.Client, body: dict[str, Any]) -> Any:
    response = client.post("/soap/inventory/GetReorderAdvice", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_shadow_answers_from_the_rules_and_keeps_where_the_model_disagrees(
    demo: httpx.Client,
) -> None:
    assert demo.put("/admin/routes/reorder-advice", json={"mode": "shadow"}).status_code == 200
    asked = [ask(c, sku) for c in ("C-100", "HOLD-1", "HOLD-2") for sku in ("SKU-1001", "SKU-1003")]
    for body in asked:
        response = demo.post("/api/reorder-advice", json=body)
        assert response.status_code == 200, response.text
        assert response.headers["x-strangler-side"] == "legacy"
        assert response.json() == rules_answer(demo, body)
    # customers on credit hold: the rules say no, the model (which knows no customers) yes
    deadline = time.monotonic() + 20
    while True:
        found = demo.get("/admin/routes/reorder-advice/disagreements?limit=100").json()["items"]
        held = {d["request"]["sku"] for d in found if d["request"]["customerId"] == "HOLD-2"}
        if held == {"SKU-1001", "SKU-1003"}:
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    for item in found:
        paths = {p["path"] for p in item["paths"]}
        assert paths and not paths & IGNORED, paths  # the spec's ignored paths never count
        assert item["answered_by"] == "legacy"
        assert item["legacy"] == rules_answer(demo, item["request"])
        assert item["modern"]["ruleId"].startswith("MODEL-reorder-")
    hold = next(d for d in found if d["request"]["customerId"] == "HOLD-1")
    assert hold["paths"] == [
        {"path": "/reorder", "change": "changed", "legacy": False, "modern": True}
    ]
    metrics = demo.get("/metrics").text
    assert (
        'strangler_gateway_disagreements_total{path="/reorder",route="reorder-advice"}' in metrics
    )


def test_a_canary_sends_a_share_of_the_customers_to_the_model_and_keeps_them_there(
    demo: httpx.Client,
) -> None:
    set_to = demo.put("/admin/routes/reorder-advice", json={"mode": "canary", "weight": 0.5})
    assert set_to.status_code == 200, set_to.text
    sides: dict[str, str] = {}
    for n in range(60):
        customer = f"C-{n:03d}"
        response = demo.post("/api/reorder-advice", json=ask(customer))
        assert response.status_code == 200, response.text
        side = response.headers["x-strangler-side"]
        answer = response.json()
        assert set(answer) == {"reorder", "quantity", "reason", "ruleId"}  # one contract
        assert answer["ruleId"].startswith("MODEL-reorder-") == (side == "modern")
        sides[customer] = side
    assert 10 <= list(sides.values()).count("modern") <= 50
    demo.put("/admin/routes/reorder-advice", json={"weight": 0.8})
    for customer, side in sides.items():
        now = demo.post("/api/reorder-advice", json=ask(customer)).headers["x-strangler-side"]
        assert side == "legacy" or now == "modern", customer  # never back to the rules


def test_a_request_the_model_cannot_take_is_a_problem(demo: httpx.Client) -> None:
    demo.put("/admin/routes/reorder-advice", json={"mode": "modern"})
    response = demo.post("/api/reorder-advice", json={**ask("C-1"), "quantityOnHand": "many"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-strangler-side"] == "modern"
    unknown = demo.post("/api/reorder-advice", json=ask("C-1", sku="SKU-NONE"))
    assert unknown.status_code == 404, unknown.text
    assert unknown.headers["content-type"] == "application/problem+json"


def test_the_route_is_documented_with_the_legacy_contract(demo: httpx.Client) -> None:
    document = demo.get("/openapi.json").json()
    operation = document["paths"]["/api/reorder-advice"]["post"]
    assert operation["operationId"] == "reorderAdvice"
    legacy = document["paths"]["/soap/inventory/GetReorderAdvice"]["post"]
    assert operation["requestBody"]["content"] == legacy["requestBody"]["content"]
    assert operation["responses"]["200"] == legacy["responses"]["200"]
    assert "X-Strangler-Side" in operation["description"]
