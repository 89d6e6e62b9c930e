"""XML-RPC methods in the modern shape the spec declares, against the demo pricing service.

Names (a convention and one by one), a modern method name, conversions both
ways (code values ⇄ labels, a local timestamp given its zone), the single
``result`` wrapper unwrapped; the OpenAPI document shows exactly what is sent
and answered, and answers validate against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from strangler.demo.pricing import PricingServer, start_pricing_server
from tests.conftest import SpecRunner

CATEGORIES = "{grocery: Groceries, apparel: Apparel, hardware: Hardware, electronics: Electronics}"


def spec_for(url: str, status: str = "{enum: {ACTIVE: active, DISCONTINUED: discontinued}}") -> str:
    return f"""
systems:
  pricing:
    kind: xmlrpc
    url: {url}
    naming: camelCase
    unwrap: true
    methods:
      pricing.quote:
        as: quote
        params: {{sku: string, quantity: int, customer_no: string}}
        result:
          type: struct
          properties: {{sku: string, quantity: int, unit_price: double, discount_pct: double,
                        total: double, currency: string}}
        safe: true
        request: {{customer_no: customer, sku: {{width: 12}}}}
      pricing.price_list:
        as: prices
        params: {{category: string}}
        result:
          type: array
          items:
            type: struct
            properties: {{sku: string, name: string, category: string, unit_price: double,
                          currency: string, status: string}}
        safe: true
        request: {{category: {{enum: {CATEGORIES}}}}}
        response:
          result: items
          result.category: {{enum: {CATEGORIES}}}
          result.status: {status}
      pricing.valid_until:
        as: validUntil
        params: {{}}
        result: dateTime.iso8601
        response: {{result: {{as: validUntil, timezone: UTC}}}}
"""


@pytest.fixture(scope="module")
def pricing() -> Iterator[PricingServer]:
    with start_pricing_server() as server:
        yield server


@pytest.fixture
def client(api: SpecRunner, pricing: PricingServer) -> Iterator[httpx.Client]:
    with api(spec_for(pricing.url)) as url, httpx.Client(base_url=url) as http:
        yield http


def answer_schema(client: httpx.Client, path: str) -> dict[str, Any]:
    """The documented 200 answer of ``path``, its references resolvable."""
    document = client.get("/openapi.json").json()
    content = document["paths"][path]["post"]["responses"]["200"]["content"]
    schema = content["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def request_schema(client: httpx.Client, path: str) -> dict[str, Any]:
    document = client.get("/openapi.json").json()
    ref = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    ref = ref.get("$ref") or next(s["$ref"] for s in ref["anyOf"] if "$ref" in s)
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]  # type: ignore[no-any-return]


def test_renamed_request_and_unwrapped_answer(client: httpx.Client) -> None:
    body = {"sku": "SKU-1001", "quantity": 30, "customer": "K10001"}
    response = client.post("/xmlrpc/pricing/quote", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    # the struct inside {"result": ...} is the answer, its names camelCase
    assert answer["sku"] == "SKU-1001"
    assert answer["unitPrice"] == 18.9 and answer["discountPct"] == 17.0  # K tier + volume
    jsonschema.validate(answer, answer_schema(client, "/xmlrpc/pricing/quote"))
    schema = request_schema(client, "/xmlrpc/pricing/quote")
    assert set(schema["properties"]) == {"sku", "quantity", "customer"}
    assert "customer_no" in schema["properties"]["customer"]["description"]
    assert "fixed width 12" in schema["properties"]["sku"]["description"]


def test_codes_become_labels_both_ways(client: httpx.Client) -> None:
    response = client.post("/xmlrpc/pricing/prices", json={"category": "Groceries"})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items and {i["category"] for i in items} == {"Groceries"}  # sent as "grocery"
    assert {i["status"] for i in items} == {"active", "discontinued"}
    assert all("unitPrice" in i for i in items)
    jsonschema.validate(response.json(), answer_schema(client, "/xmlrpc/pricing/prices"))
    category = request_schema(client, "/xmlrpc/pricing/prices")["properties"]["category"]
    assert category["enum"] == ["Groceries", "Apparel", "Hardware", "Electronics"]
    assert "grocery = Groceries" in category["description"]


def test_local_timestamp_answered_with_its_zone(client: httpx.Client) -> None:
    response = client.post("/xmlrpc/pricing/validUntil", json={})
    assert response.status_code == 200, response.text
    assert response.json()["validUntil"].endswith(("+00:00", "Z"))
    schema = answer_schema(client, "/xmlrpc/pricing/validUntil")
    jsonschema.validate(response.json(), schema)
    field = schema["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert field["properties"]["validUntil"]["format"] == "date-time"


def test_bad_modern_values_are_422_naming_the_field(client: httpx.Client) -> None:
    too_wide = {"sku": "SKU-1001-AND-MORE", "quantity": 1, "customer": "K10001"}
    response = client.post("/xmlrpc/pricing/quote", json=too_wide)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["path"] == "sku"
    response = client.post("/xmlrpc/pricing/prices", json={"category": "grocery"})
    assert response.status_code == 422, response.text
    legacy_names = {"sku": "SKU-1001", "quantity": 1, "customer_no": "K10001"}
    assert client.post("/xmlrpc/pricing/quote", json=legacy_names).status_code == 422


def test_broken_stored_value_is_502_naming_the_operation_and_field(
    api: SpecRunner, pricing: PricingServer
) -> None:
    with api(spec_for(pricing.url, "{enum: {ACTIVE: active}}")) as url:
        response = httpx.post(f"{url}/xmlrpc/pricing/prices", json={"category": "Groceries"})
    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["type"] == "urn:strangler:problem:legacy-data"
    assert problem["operation"] == "pricing.price_list"
    assert "result.status" in problem["detail"] and "DISCONTINUED" in problem["detail"]


def test_legacy_names_still_find_the_method(pricing: PricingServer, tmp_path: Path) -> None:
    from strangler.platform import build_platform
    from strangler.spec import parse_spec

    spec = parse_spec(spec_for(pricing.url), filename="t.yaml", base_dir=tmp_path, env={})
    platform = build_platform(spec, tmp_path)
    assert platform.operation("pricing.pricing.quote").name == "quote"
    assert platform.operation("pricing.quote").target.method == "pricing.quote"
