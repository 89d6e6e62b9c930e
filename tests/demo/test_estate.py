"""The whole demo estate behind one REST API, as `strangler demo` serves it."""

from __future__ import annotations

import re
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


def test_erp_database_in_legacy_shape(demo: httpx.Client) -> None:
    page = demo.get("/database/erp_legacy/ORDERS", params={"sort": "-ORDER_NO", "limit": 5})
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(body["items"]) == 5 and body["next_cursor"]
    order_no = body["items"][0]["ORDER_NO"]
    assert body["items"][0]["STATUS"] in ("N", "S", "C")
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", body["items"][0]["ORDER_DATE"])
    params = {"ORDER_NO": f"eq.{order_no}"}
    lines = demo.get("/database/erp_legacy/ORDER_LINES", params=params).json()
    assert lines["items"]
    line = lines["items"][0]
    one = demo.get(f"/database/erp_legacy/ORDER_LINES/{order_no},{line['LINE_NO']}")
    assert one.status_code == 200 and one.json()["SKU"] == line["SKU"]
    assert not line["SKU"].endswith(" ")  # CHAR padding stripped
    refused = demo.post("/database/erp_legacy/ORDERS", json={"ORDER_NO": 1})
    assert refused.status_code == 405


def test_erp_database_in_modern_shape(demo: httpx.Client) -> None:
    """The same rows as the legacy shape, renamed and converted; filters on real dates."""
    params = {"orderDate": "ge.2024-05-01", "status": "eq.shipped", "sort": "-orderDate,-total"}
    page = demo.get("/database/erp/orders", params={**params, "limit": 5})
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert len(items) == 5
    assert set(items[0]) == {
        "orderNumber", "customerNumber", "orderDate", "status", "total", "updatedAt"
    }  # fmt: skip
    days = [i["orderDate"] for i in items]
    assert days == sorted(days, reverse=True) and min(days) >= "2024-05-01"
    assert {i["status"] for i in items} == {"shipped"}
    legacy = demo.get(f"/database/erp_legacy/ORDERS/{items[0]['orderNumber']}").json()
    day, month, year = legacy["ORDER_DATE"].split(".")
    assert items[0]["orderDate"] == f"{year}-{month}-{day}" and legacy["STATUS"] == "S"
    assert items[0]["total"] == legacy["TOTAL"]
    customer = demo.get(f"/database/erp/customers/{items[0]['customerNumber']}").json()
    assert re.fullmatch(r"\d+\.\d\d", customer["creditLimit"])
    assert customer["status"] in ("active", "on hold", "closed")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", customer["createdOn"])
    line = demo.get("/database/erp/orderLines", params={"limit": 1}).json()["items"][0]
    assert set(line) == {"orderNumber", "lineNumber", "sku", "quantity", "unitPrice"}
    refused = demo.post("/database/erp/orders", json={"orderNumber": 1})
    assert refused.status_code == 422  # orders take writes in modern shape: the rest is missing
    assert {e["path"] for e in refused.json()["errors"]} >= {"customerNumber", "orderDate"}


def test_erp_orders_and_customers_are_written_back_in_legacy_shape(demo: httpx.Client) -> None:
    order = demo.get("/database/erp/orders", params={"limit": 1}).json()["items"][0]
    url = f"/database/erp/orders/{order['orderNumber']}"
    changed = demo.patch(url, json={"orderDate": "2024-02-29", "status": "cancelled"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["orderDate"] == "2024-02-29" and changed.json()["status"] == "cancelled"
    stored = demo.get(f"/database/erp_legacy/ORDERS/{order['orderNumber']}").json()
    assert (stored["ORDER_DATE"], stored["STATUS"]) == ("29.02.2024", "C")
    restored = demo.patch(url, json={"orderDate": order["orderDate"], "status": order["status"]})
    assert restored.json() == order
    customer = demo.get("/database/erp/customers", params={"limit": 1}).json()["items"][0]
    url = f"/database/erp/customers/{customer['customerNumber']}"
    changed = demo.patch(url, json={"creditLimit": "2500.50", "createdOn": "2011-12-31"})
    assert changed.status_code == 200, changed.text
    number = customer["customerNumber"]  # stored CHAR(8): padded in the legacy key
    stored = demo.get("/database/erp_legacy/CUSTOMERS", params={"CUST_NO": f"like.{number}%"})
    stored = stored.json()["items"][0]
    assert (stored["CREDIT_LIMIT"], stored["CREATED_YYYYMMDD"]) == (250050, 20111231)
    refused = demo.patch(url, json={"status": "asleep", "creditLimit": "1.001"})
    assert refused.status_code == 422
    assert {e["path"] for e in refused.json()["errors"]} == {"status", "creditLimit"}
    assert demo.patch(url, json={k: customer[k] for k in ("creditLimit", "createdOn")}).json() == (
        customer
    )
