"""The whole demo estate behind one REST API, as `strangler demo` serves it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from openapi_spec_validator import validate

from strangler.demo.estate import running_estate
from strangler.rest.app import create_app
from tests.servers import run_app


@pytest.fixture(scope="module")
def demo() -> Iterator[httpx.Client]:
    with (
        running_estate() as estate,
        run_app(create_app(estate.spec)) as url,
        httpx.Client(base_url=url) as client,
    ):
        yield client


def test_openapi_of_the_estate_is_valid(demo: httpx.Client) -> None:
    document = demo.get("/openapi.json").json()
    validate(document)
    paths = set(document["paths"])
    assert "/soap/inventory/GetReorderAdvice" in paths
    assert "/xmlrpc/pricing/pricing.quote" in paths


def test_soap_inventory(demo: httpx.Client) -> None:
    stock = demo.post("/soap/inventory/GetStock", json={"sku": "SKU-1001"})
    assert stock.status_code == 200
    assert stock.json()["sku"] == "SKU-1001"  # GetStockResult unwrapped by the spec


def test_xmlrpc_pricing(demo: httpx.Client) -> None:
    body = {"sku": "SKU-1001", "quantity": 30, "customer_no": "K10001"}
    quote = demo.post("/xmlrpc/pricing/pricing.quote", json=body).json()
    assert quote["sku"] == "SKU-1001" and quote["discount_pct"] > 0
    unknown = demo.post("/xmlrpc/pricing/pricing.quote", json={**body, "sku": "NOPE"})
    assert unknown.status_code == 400
    assert unknown.json()["faultcode"] == "404"


def test_erp_database(demo: httpx.Client) -> None:
    page = demo.get("/database/erp/ORDERS", params={"sort": "-ORDER_NO", "limit": 5})
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(body["items"]) == 5 and body["next_cursor"]
    order_no = body["items"][0]["ORDER_NO"]
    lines = demo.get("/database/erp/ORDER_LINES", params={"ORDER_NO": f"eq.{order_no}"}).json()
    assert lines["items"]
    line = lines["items"][0]
    one = demo.get(f"/database/erp/ORDER_LINES/{order_no},{line['LINE_NO']}")
    assert one.status_code == 200 and one.json()["SKU"] == line["SKU"]
    assert not line["SKU"].endswith(" ")  # CHAR padding stripped
    refused = demo.post("/database/erp/ORDERS", json={"ORDER_NO": 1})
    assert refused.status_code == 405
