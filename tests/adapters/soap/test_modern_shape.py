"""SOAP operations in the modern shape the spec declares, against the demo InventoryService.

``GetStockResult``-style wrappers unwrapped, a naming convention and renames
by field path, a modern operation name, groups nested, codes ⇄ labels both
ways, a fixed-width request field; the OpenAPI document shows exactly what is
sent and answered (answers validate against it), with the legacy names in
the descriptions; broken stored values follow ``on_broken``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from strangler.demo.inventory import WSDL_PATH, InventoryServer
from tests.conftest import SpecRunner

CATEGORIES = "{grocery: Groceries, apparel: Apparel, hardware: Hardware, electronics: Electronics}"


def spec_for(address: str, status: str = "{enum: {ACTIVE: active, DISCONTINUED: gone}}") -> str:
    return f"""
systems:
  inventory:
    kind: soap
    wsdl: {WSDL_PATH}
    address: {address}
    naming: snake_case
    unwrap: true
    operations:
      GetStock:
        as: stock
        response:
          GetStockResult.quantity: on_hand
      ListItems:
        as: items
        request: {{category: {{enum: {CATEGORIES}}}}}
        response:
          fields:
            item: items
            item.category: {{enum: {CATEGORIES}}}
            item.status: {status}
      GetReorderAdvice:
        request:
          customerId: {{as: customer, width: 8}}
        response:
          nest: {{advice: [GetReorderAdviceResult.reorder, GetReorderAdviceResult.quantity]}}
"""


@pytest.fixture
def client(api: SpecRunner, inventory: InventoryServer) -> Iterator[httpx.Client]:
    with api(spec_for(inventory.base_url)) as url, httpx.Client(base_url=url) as http:
        yield http


def documented(client: httpx.Client, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body's and the 200 answer's schemas of ``path``, resolved."""
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    post = document["paths"][path]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    body = body.get("$ref") or next(s["$ref"] for s in body["anyOf"] if "$ref" in s)
    answer = post["responses"]["200"]["content"]["application/json"]["schema"]
    return schemas[body.rsplit("/", 1)[1]], {**answer, "components": document["components"]}


def test_wrapper_unwrapped_and_fields_renamed(client: httpx.Client) -> None:
    response = client.post("/soap/inventory/stock", json={"sku": "SKU-1001"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["sku"] == "SKU-1001" and answer["on_hand"] == 240
    assert answer["reorder_point"] == 60 and answer["updated_at"].endswith("+00:00")
    assert "GetStockResult" not in answer
    request, schema = documented(client, "/soap/inventory/stock")
    jsonschema.validate(answer, schema)
    model = schema["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    names = {"sku", "warehouse", "on_hand", "reorder_point", "updated_at"}
    assert set(model["properties"]) == names
    assert "GetStockResult.quantity" in model["properties"]["on_hand"]["description"]
    assert set(request["properties"]) == {"sku", "soapHeader"}


def test_the_header_still_reaches_the_legacy_system(client: httpx.Client) -> None:
    header = {"RequestContext": {"tenant": "north"}}
    plain = client.post("/soap/inventory/stock", json={"sku": "SKU-1001"}).json()
    north = client.post("/soap/inventory/stock", json={"sku": "SKU-1001", "soapHeader": header})
    assert north.status_code == 200, north.text
    assert north.json()["warehouse"] != plain["warehouse"]


def test_codes_become_labels_both_ways(client: httpx.Client) -> None:
    response = client.post("/soap/inventory/items", json={"category": "Groceries"})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items and {i["category"] for i in items} == {"Groceries"}  # sent as "grocery"
    assert {i["status"] for i in items} == {"active", "gone"}
    assert all("unit_price" in i for i in items)
    request, schema = documented(client, "/soap/inventory/items")
    jsonschema.validate(response.json(), schema)
    assert request["properties"]["category"]["enum"][0] == "Groceries"
    assert "grocery = Groceries" in request["properties"]["category"]["description"]


def test_nested_group_and_renamed_request_field(client: httpx.Client) -> None:
    body = {
        "customer": "C-1",
        "sku": "SKU-1003",
        "quantity_on_hand": 5,
        "average_daily_sales": "3.5",
        "lead_time_days": 7,
    }
    response = client.post("/soap/inventory/GetReorderAdvice", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["advice"] == {"reorder": True, "quantity": 140}
    assert answer["rule_id"] and answer["reason"]
    request, schema = documented(client, "/soap/inventory/GetReorderAdvice")
    jsonschema.validate(answer, schema)
    assert "customerId" in request["properties"]["customer"]["description"]


def test_values_that_cannot_be_encoded_are_422_naming_the_field(client: httpx.Client) -> None:
    body = {
        "customer": "C-123456789",
        "sku": "SKU-1003",
        "quantity_on_hand": 5,
        "average_daily_sales": "3.5",
        "lead_time_days": 7,
    }
    response = client.post("/soap/inventory/GetReorderAdvice", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"path": "customer", "message": "longer than the 8 characters the field holds"}
    ]
    assert client.post("/soap/inventory/items", json={"category": "grocery"}).status_code == 422
    legacy_shape = {"sku": "x", "GetStock": {}}
    assert client.post("/soap/inventory/stock", json=legacy_shape).status_code == 422


@pytest.mark.parametrize(
    ("policy", "status", "expected"),
    [
        ("", 502, None),
        (', on_broken: "null"', 200, {"status": None}),
        (", on_broken: raw", 200, {"status": None, "status_raw": "DISCONTINUED"}),
    ],
)
def test_broken_stored_values_follow_the_policy(
    api: SpecRunner, inventory: InventoryServer, policy: str, status: int, expected: Any
) -> None:
    spec = spec_for(inventory.base_url, f"{{enum: {{ACTIVE: active}}{policy}}}")
    with api(spec) as url, httpx.Client(base_url=url) as http:
        response = http.post("/soap/inventory/items", json={"category": "Groceries"})
        assert response.status_code == status, response.text
        if expected is None:
            problem = response.json()
            assert problem["type"] == "urn:strangler:problem:legacy-data"
            assert problem["operation"] == "ListItems"
            assert "item.status" in problem["detail"]
            return
        broken = next(i for i in response.json()["items"] if i["sku"] == "SKU-1004")
        assert {k: broken[k] for k in expected} == expected
        _, schema = documented(http, "/soap/inventory/items")
        jsonschema.validate(response.json(), schema)


def test_spec_naming_no_field_is_refused_at_load(
    api: SpecRunner, inventory: InventoryServer
) -> None:
    from strangler.errors import SystemLoadError

    spec = spec_for(inventory.base_url).replace("GetStockResult.quantity", "GetStockResult.qty")
    with pytest.raises(SystemLoadError, match=r"GetStockResult\.qty"), api(spec):
        pass
