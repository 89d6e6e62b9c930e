"""The feature tables over REST, on the demo estate: views and services, latest and as of."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from strangler.demo.estate import Estate, running_estate
from strangler.demo.features import load_features
from strangler.rest.app import create_app
from tests.servers import run_app


@pytest.fixture(scope="module")
def estate() -> Iterator[Estate]:
    with running_estate() as estate:
        loaded = load_features(estate.spec)
        assert set(loaded) == set(estate.spec.section("features").views)
        yield estate


@pytest.fixture(scope="module")
def api(estate: Estate) -> Iterator[httpx.Client]:
    with run_app(create_app(estate.spec)) as url, httpx.Client(base_url=url) as client:
        yield client


def _erp(estate: Estate) -> sqlite3.Connection:
    assert estate.erp_path is not None
    return sqlite3.connect(Path(estate.erp_path))


def test_views_and_services_are_listed(api: httpx.Client) -> None:
    items = {i["name"]: i for i in api.get("/features").json()["items"]}
    assert items["item_features"]["views"] == ["item_sales", "item_stock", "item_catalogue"]
    assert items["item_features"]["entity"] == ["sku"]
    assert items["customer_profile"]["features"] == ["city", "creditLimit", "status", "createdOn"]
    ready = api.get("/readyz").json()
    assert ready["components"]["features"]["status"] == "ok", ready


def test_latest_of_a_service_joins_its_views(api: httpx.Client, estate: Estate) -> None:
    answer = api.get("/features/item_features/latest", params={"sku": "SKU-1001"})
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["rows"]
    with _erp(estate) as erp:
        on_hand, reorder = erp.execute(
            "SELECT SUM(ON_HAND), SUM(REORDER_POINT) FROM STOCK WHERE SKU = 'SKU-1001    '"
        ).fetchone()
    assert row["sku"] == "SKU-1001"  # CHAR(12) padding gone: decoded by the mapping
    assert (row["onHand"], row["reorderPoint"]) == (on_hand, reorder)
    assert row["category"] and row["status"] in ("active", "discontinued")  # from SOAP
    items = api.post("/soap/inventory/ListItems", json={}).json()["items"]
    (item,) = [i for i in items if i["sku"] == "SKU-1001"]
    assert Decimal(row["unitPrice"]) == Decimal(str(item["unitPrice"]))
    assert len(row["unitPrice"].partition(".")[2]) <= 2  # not padded to the column's scale
    assert set(row["eventTimes"]) == {"item_sales", "item_stock", "item_catalogue"}
    assert row["eventTimes"]["item_sales"].startswith("2024-06-")  # the last sales day
    assert isinstance(row["unitsSold28d"], int) and row["unitsSold28d"] >= row["unitsSold7d"]


def _orders_90d(erp: sqlite3.Connection, customer: str, day: dt.date) -> tuple[int, Decimal]:
    """Independently of the ETL: the customer's orders of the 90 days up to ``day``."""
    count, spend = 0, Decimal(0)
    for date_text, total in erp.execute(
        "SELECT ORDER_DATE, TOTAL FROM ORDERS WHERE CUST_NO = ? AND STATUS <> 'C'",
        (customer.ljust(8),),
    ):
        placed = dt.datetime.strptime(date_text, "%d.%m.%Y").date()
        if day - dt.timedelta(days=89) <= placed <= day:
            count += 1
            spend += Decimal(str(total))
    return count, spend


def test_as_of_is_point_in_time(api: httpx.Client, estate: Estate) -> None:
    with _erp(estate) as erp:  # a key account that ordered in February 2023
        (key_account,) = erp.execute(
            "SELECT MIN(CUST_NO) FROM ORDERS "
            "WHERE CUST_NO LIKE 'K%' AND ORDER_DATE LIKE '%.02.2023'"
        ).fetchone()
    key_account = key_account.rstrip()
    at = ["2023-03-15T12:00:00Z", "2022-01-01T00:00:00Z", "2023-03-15T12:00:00"]
    entities = [{"customerNumber": c} for c in ("C10001", "C10001", key_account)]
    answer = api.post("/features/customer_features/as-of", json={"entities": entities, "at": at})
    assert answer.status_code == 200, answer.text
    first, before_any, third = answer.json()["rows"]
    with _erp(estate) as erp:
        for row, customer in ((first, "C10001"), (third, key_account)):
            day = dt.date.fromisoformat(row["eventTimes"]["customer_orders"][:10])
            assert day <= dt.date(2023, 3, 15)  # nothing from after the time
            count, spend = _orders_90d(erp, customer, day)
            assert row["orders90d"] == count
            assert Decimal(str(row["spend90d"])) == spend
    assert before_any["orders90d"] is None and before_any["eventTimes"]["customer_orders"] is None


def test_a_view_alone_answers_its_event_time(api: httpx.Client) -> None:
    body = {"entities": [{"sku": "SKU-1001"}, {"sku": "NO-SUCH-SKU"}]}
    rows = api.post("/features/item_sales/latest", json=body).json()["rows"]
    assert rows[0]["eventTime"].startswith("2024-06-") and rows[0]["unitsSold"] is not None
    nothing = {"unitsSold": None, "unitsSold7d": None, "unitsSold28d": None, "eventTime": None}
    assert rows[1] == {"sku": "NO-SUCH-SKU", **nothing}


def test_bad_requests_are_problems(api: httpx.Client) -> None:
    missing = api.get("/features/item_features/latest")
    assert missing.status_code == 400 and missing.json()["errors"][0]["path"] == "sku"
    unknown = api.get("/features/item_features/latest", params={"sku": "x", "warehouse": "y"})
    assert unknown.status_code == 400
    extra = api.post("/features/item_sales/latest", json={"entities": [{"sku": "x", "qty": 1}]})
    assert extra.status_code == 422
    times = {"entities": [{"sku": "x"}], "at": ["2023-01-01T00:00:00Z"] * 2}
    mismatch = api.post("/features/item_sales/as-of", json=times)
    assert mismatch.status_code == 422 and "at" in mismatch.text
    assert api.get("/features/nothing/latest", params={"sku": "x"}).status_code == 404
    for response in (missing, unknown, extra, mismatch):
        assert response.headers["content-type"].startswith("application/problem+json")
