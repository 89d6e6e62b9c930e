"""The JSON-RPC adapter over real HTTP: REST in front of a ``jsonrpcserver`` service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.adapters.rpc.conftest import jsonrpc_adapter, serve
from tests.adapters.rpc.jsonrpc_server import LegacyJsonRpcServer

BASE = "/jsonrpc/shop"


@pytest.fixture
def client(jsonrpc_legacy: LegacyJsonRpcServer) -> Iterator[httpx.Client]:
    with serve(jsonrpc_adapter(jsonrpc_legacy.url)) as http:
        yield http


def test_by_name(client: httpx.Client) -> None:
    response = client.post(f"{BASE}/pricing.quote", json={"sku": "SKU-1", "qty": 3})
    assert response.status_code == 200, response.text
    assert response.json() == {"result": {"sku": "SKU-1", "qty": 3, "total": 29.97}}


def test_by_position_in_declared_order(client: httpx.Client) -> None:
    response = client.post(f"{BASE}/math.subtract", json={"subtrahend": 2, "minuend": 10})
    assert response.json() == {"result": 8}


def test_undeclared_params_pass_as_they_are(client: httpx.Client) -> None:
    by_position = client.post(f"{BASE}/echo", json={"params": [1, "a"]}).json()
    assert by_position == {"result": {"args": [1, "a"], "kwargs": {}}}
    by_name = client.post(f"{BASE}/echo", json={"params": {"x": [True]}}).json()
    assert by_name == {"result": {"args": [], "kwargs": {"x": [True]}}}
    assert client.post(f"{BASE}/echo").json() == {"result": {"args": [], "kwargs": {}}}


def test_invalid_body_is_a_422_before_any_call(
    client: httpx.Client, jsonrpc_legacy: LegacyJsonRpcServer
) -> None:
    before = jsonrpc_legacy.calls["pricing.quote"]
    for body in ({"sku": "SKU-1", "qty": 0}, {"sku": "SKU-1"}, {"sku": "S", "qty": 1, "x": 1}):
        response = client.post(f"{BASE}/pricing.quote", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert jsonrpc_legacy.calls["pricing.quote"] == before


def test_notification_is_202_with_no_body(
    client: httpx.Client, jsonrpc_legacy: LegacyJsonRpcServer
) -> None:
    response = client.post(f"{BASE}/audit.log", json={"message": "stock counted"})
    assert response.status_code == 202
    assert response.content == b""
    assert "stock counted" in jsonrpc_legacy.notes


def test_batch_with_mixed_outcomes(
    client: httpx.Client, jsonrpc_legacy: LegacyJsonRpcServer
) -> None:
    calls: list[dict[str, Any]] = [
        {"method": "pricing.quote", "params": {"sku": "SKU-2", "qty": 2}},
        {"method": "audit.log", "params": {"message": "in a batch"}},
        {"method": "orders.cancel", "params": {"order_id": 9}},
        {"method": "math.subtract", "params": {"minuend": 1, "subtrahend": 3}},
        {"method": "missing.method"},
        {"method": "echo", "params": ["x"]},
        {"method": "crash"},
    ]
    response = client.post(f"{BASE}/_batch", json=calls)
    assert response.status_code == 200, response.text
    items = response.json()
    assert [i["method"] for i in items] == [c["method"] for c in calls]
    assert [i["status"] for i in items] == [200, 202, 400, 200, 502, 200, 502]
    assert items[0]["result"]["total"] == 19.98
    assert "result" not in items[1]
    cancel = items[2]["problem"]
    assert (cancel["faultcode"], cancel["faultdetail"]) == ("4", {"order_id": 9})
    assert cancel["type"] == "urn:strangler:problem:legacy-fault"
    assert cancel["status"] == 400
    assert items[3]["result"] == -2
    assert items[4]["problem"]["faultcode"] == "-32601"
    assert items[5]["result"] == {"args": ["x"], "kwargs": {}}
    assert items[6]["problem"]["faultcode"] == "-32603"
    assert "in a batch" in jsonrpc_legacy.notes


def test_batch_of_notifications_only(
    client: httpx.Client, jsonrpc_legacy: LegacyJsonRpcServer
) -> None:
    calls = [{"method": "audit.log", "params": {"message": f"note {i}"}} for i in range(3)]
    response = client.post(f"{BASE}/_batch", json=calls)
    assert response.json() == [{"method": "audit.log", "status": 202}] * 3
    assert {"note 0", "note 1", "note 2"} <= set(jsonrpc_legacy.notes)


@pytest.mark.parametrize(
    "body",
    [
        [],
        [{"method": "no.such.method"}],
        [{"method": "pricing.quote", "params": {"sku": "S"}}],
        [{"method": "echo"}] * 101,
        {"method": "echo"},
    ],
    ids=["empty", "unknown-method", "invalid-params", "too-many", "not-a-list"],
)
def test_invalid_batch_is_a_422(client: httpx.Client, body: Any) -> None:
    response = client.post(f"{BASE}/_batch", json=body)
    assert response.status_code == 422, response.text


def test_openapi_is_valid_and_typed(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    validate(document)
    paths, schemas = document["paths"], document["components"]["schemas"]
    quote = schemas["PricingQuoteParams"]
    assert quote["properties"]["sku"]["type"] == "string"
    assert quote["properties"]["qty"] == {"type": "integer", "minimum": 1, "title": "Qty"}
    assert quote["additionalProperties"] is False
    assert paths[f"{BASE}/pricing.quote"]["post"]["description"] == "The price of qty items."
    result = schemas["PricingQuoteResult"]["properties"]["result"]
    assert result == {"$ref": "#/components/schemas/PricingQuoteValue"}
    notify = paths[f"{BASE}/audit.log"]["post"]
    assert next(iter(notify["responses"])) == "202"
    assert "content" not in notify["responses"]["202"]
    batch = paths[f"{BASE}/_batch"]["post"]
    body = batch["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"
    assert body["maxItems"] == 100
    mapping = body["items"]["discriminator"]["mapping"]
    assert set(mapping) == {
        "pricing.quote",
        "math.subtract",
        "echo",
        "audit.log",
        "orders.cancel",
        "fail",
        "crash",
        "missing.method",
        "slow",
        "slow.safe",
    }
    answer = batch["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["items"] == {"$ref": "#/components/schemas/BatchItem"}
    problem = batch["responses"]["502"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}


def test_readyz_reports_the_breaker(client: httpx.Client) -> None:
    system = client.get("/readyz").json()["components"]["shop"]
    assert system == {"status": "ok", "kind": "jsonrpc", "operations": 10, "breaker": "closed"}


def test_defaults_nested_objects_and_encoded_values(jsonrpc_legacy: LegacyJsonRpcServer) -> None:
    params = {
        "a": "integer",
        "b": {"type": "string", "default": "x"},
        "c": {"type": "integer", "default": 0},
    }
    positional = {"echo": {"params": params, "by_position": True}}
    with serve(jsonrpc_adapter(jsonrpc_legacy.url, methods=positional)) as http:
        gap = http.post(f"{BASE}/echo", json={"a": 1, "c": 5}).json()["result"]
        short = http.post(f"{BASE}/echo", json={"a": 1}).json()["result"]
    assert gap["args"] == [1, "x", 5]  # a gap before a given parameter takes its default
    assert short["args"] == [1]  # trailing parameters left out: the legacy defaults apply
    typed = {
        "a": "integer",
        "b": {"type": "string", "default": "x"},
        "when": {"type": "string", "format": "date-time", "default": None},
        "blob": {"type": "base64", "default": None},
        "item": {
            "type": "object",
            "properties": {"n": "integer", "note": "string"},
            "required": ["n"],
            "default": None,
        },
    }
    with serve(jsonrpc_adapter(jsonrpc_legacy.url, methods={"echo": {"params": typed}})) as http:
        body = {
            "a": 2,
            "when": "2024-05-01T12:00:00+00:00",
            "blob": "AAEC",
            "item": {"n": 3, "extra": True},
        }
        named = http.post(f"{BASE}/echo", json=body).json()["result"]
        bad = http.post(f"{BASE}/echo", json={"a": 2, "item": {"note": "no n"}})
    assert named["kwargs"] == {
        "a": 2,
        "when": "2024-05-01T12:00:00Z",
        "blob": "AAEC",
        "item": {"n": 3, "extra": True},
    }
    assert bad.status_code == 422
