"""Tables in modern shape over every backend: conversions both ways, filters and sorts
pushed down (the same rows as Python on the decoded values, every page, none lost or
repeated), writes, keys, code tables, broken stored values under each policy."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import operator
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from strangler.adapters.db import DatabaseAdapter
from strangler.errors import SystemLoadError
from strangler.rest.app import build_app
from tests.adapters.db import mapped_tables as m
from tests.adapters.db.conftest import Backend

PROBLEM = "application/problem+json"
_made: dict[str, TestClient] = {}


def _adapter(backend: Backend, system: str, tables: dict[str, Any]) -> DatabaseAdapter:
    return DatabaseAdapter(system, backend.spec(tables, naming="camelCase", max_page_size=100))


@pytest.fixture
def client(backend: Backend) -> Iterator[TestClient]:
    """``/database/m/...`` (on_broken: error) and ``m_null``, ``m_raw`` over ``backend``."""
    if backend.name not in _made:
        m.create(backend.admin)
        adapters = [
            _adapter(backend, name, m.mapped_spec(policy))
            for name, policy in (("m", "error"), ("m_null", "null"), ("m_raw", "raw"))
        ]
        _made[backend.name] = TestClient(build_app(adapters))
    yield _made[backend.name]


def _walk(client: TestClient, params: dict[str, str], limit: int = 7) -> list[dict[str, Any]]:
    """Every item of a listing, page by page on the cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {**params, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        answer = client.get("/database/m/orders", params=query)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
    "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}  # fmt: skip


def _expected(filters: list[tuple[str, str, Any]], sort: list[str]) -> list[int]:
    """The ids the query selects, in order, computed in Python on the decoded rows."""
    rows = [m.decoded(r) for r in m.ORDERS]
    for name, op, value in filters:
        if op == "is":
            rows = [r for r in rows if (r[name] is None) == (value == "null")]
        elif op == "in":
            rows = [r for r in rows if r[name] in value]
        else:
            rows = [r for r in rows if r[name] is not None and _OPS[op](r[name], value)]
    rows.sort(key=lambda r: r["orderId"])
    for key in reversed(sort):
        name = key.lstrip("-")
        rows.sort(key=lambda r: (r[name] is None, r[name] or 0), reverse=key.startswith("-"))
    return [r["orderId"] for r in rows]


D = dt.date(2021, 6, 1)
CASES: list[tuple[list[tuple[str, str, Any, str]], list[str]]] = [
    ([], ["orderDate"]),
    ([], ["-orderDate"]),
    ([("orderDate", "ge", D, "2021-06-01")], ["-amount", "orderDate"]),
    ([("orderDate", "lt", D, "2021-06-01")], ["status", "-orderDate"]),
    ([("orderDate", "le", D, "2021-06-01"), ("active", "eq", True, "true")], ["-shippedOn"]),
    ([("orderDate", "gt", D, "2021-06-01")], ["createdOn"]),
    ([("orderDate", "ne", D, "2021-06-01")], ["-createdOn", "-status"]),
    ([("createdOn", "is", "null", "null")], ["-orderDate"]),
    ([("createdOn", "is", "notnull", "notnull")], ["-createdOn"]),
    ([("createdOn", "ge", dt.date(2020, 1, 1), "2020-01-01")], ["shippedOn"]),
    ([("shippedOn", "lt", dt.date(2022, 3, 15), "2022-03-15")], ["-active", "orderDate"]),
    ([("shippedOn", "is", "null", "null")], ["amount"]),
    ([("amount", "gt", decimal.Decimal("50.00"), "50.00")], ["-amount"]),
    ([("amount", "le", decimal.Decimal("19.99"), "19.99")], ["active", "-orderDate"]),
    ([("active", "ne", False, "false")], ["-status", "amount"]),
    ([("status", "eq", "paid", "paid")], ["orderDate"]),
    ([("status", "in", ("open", "void"), "open,void")], ["-shippedOn", "status"]),
    ([("status", "lt", "paid", "paid")], ["-status"]),
    ([("orderDate", "in", tuple(m.decoded(r)["orderDate"] for r in m.ORDERS[:3]),
       ",".join(str(m.decoded(r)["orderDate"]) for r in m.ORDERS[:3]))], ["-orderDate"]),
    ([("status", "eq", "zombie", "zombie")], ["orderDate"]),
    ([("balance", "gt", decimal.Decimal("0.5"), "0.50")], ["-balance"]),  # cents kept as text
    ([("balance", "le", decimal.Decimal("0.07"), "0.07")], ["balance", "-orderDate"]),
]  # fmt: skip


@pytest.mark.parametrize(("filters", "sort"), CASES)
def test_filters_and_sorts_on_converted_columns_match_the_decoded_values(
    client: TestClient, filters: list[tuple[str, str, Any, str]], sort: list[str]
) -> None:
    params = {name: f"{op}.{text}" for name, op, _, text in filters}
    if sort:
        params["sort"] = ",".join(sort)
    items = _walk(client, params)
    ids = [i["orderId"] for i in items]
    assert ids == _expected([(n, op, v) for n, op, v, _ in filters], sort)
    assert len(set(ids)) == len(ids)


def test_each_conversion_reads_as_the_modern_value(client: TestClient) -> None:
    items = {i["orderId"]: i for i in _walk(client, {}, limit=100)}
    assert len(items) == len(m.ORDERS)
    for row in m.ORDERS:
        want = m.decoded(row)
        got = items[row["ID"]]
        assert got == {
            "orderId": row["ID"],
            "orderDate": want["orderDate"].isoformat(),
            "createdOn": want["createdOn"] and want["createdOn"].isoformat(),
            "shippedOn": want["shippedOn"] and want["shippedOn"].isoformat(),
            "amount": str(want["amount"]),
            "balance": str(want["balance"]),
            "active": want["active"],
            "status": want["status"],
        }
    one = client.get("/database/m/orders/5").json()
    assert one == items[5]
    shown = client.get("/database/m/orders", params={"fields": "orderDate,amount", "limit": 1})
    assert set(shown.json()["items"][0]) == {"orderDate", "amount"}


def test_bad_values_on_converted_columns_are_400_naming_the_field(client: TestClient) -> None:
    for name, value in (
        ("orderDate", "like.2021%"),  # no like on dates
        ("active", "like.t%"),
        ("status", "eq.lost"),  # not a label of the code table
        ("amount", "eq.1.005"),  # no such amount in cents
        ("orderDate", "eq.16.05.2024"),  # the modern value is ISO 8601
        ("amount", "gt.1e30"),  # in cents past what any integer column holds
    ):
        answer = client.get("/database/m/orders", params={name: value})
        assert answer.status_code == 400, (name, value, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        assert [e["path"] for e in answer.json()["errors"]] == [name]
    labels = client.get("/database/m/orders", params={"status": "like.%i%", "limit": 100})
    assert {i["status"] for i in labels.json()["items"]} == {"paid", "void"}


def _row_schema(client: TestClient, field: str) -> dict[str, Any]:
    """The first component schema of a row that has ``field``."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    return next(v for v in schemas.values() if field in v.get("properties", {}))


def test_enum_labels_come_from_the_code_table_and_show_in_openapi(client: TestClient) -> None:
    props = _row_schema(client, "orderDate")["properties"]
    status = props["status"].get("anyOf", [props["status"]])[0]
    assert status["enum"] == ["open", "paid", "void", "zombie"]
    assert "STATUS" in props["status"]["description"]
    assert props["orderDate"]["format"] == "date"
    assert "ORDER_DATE" in props["orderDate"]["description"]
    assert "DD.MM.YYYY" in props["orderDate"]["description"]
    flag = props["active"].get("anyOf", [props["active"]])[0]
    assert flag["type"] == "boolean"
    assert props["orderId"]["description"] == "Legacy field ID."


def test_writes_round_trip_through_a_converted_key(client: TestClient, backend: Backend) -> None:
    notes = sa.table("M_NOTES", sa.column("DUE"), sa.column("DONE"), sa.column("FEE"))
    with backend.admin.begin() as connection:
        connection.execute(notes.delete())
    body = {"due": "2024-05-16", "title": "pay", "done": True, "fee": "12.30"}
    created = client.post("/database/m/notes", json=body)
    assert created.status_code == 201, created.text
    assert created.json() == body
    assert created.headers["location"] == "/database/m/notes/2024-05-16"
    assert client.get(created.headers["location"]).json() == body

    def stored() -> list[tuple[Any, ...]]:
        with backend.admin.connect() as connection:
            return [tuple(r) for r in connection.execute(sa.select(notes))]

    assert stored() == [("16.05.2024", "J", 1230)]
    changed = client.patch("/database/m/notes/2024-05-16", json={"done": False, "fee": None})
    assert changed.status_code == 200 and changed.json()["done"] is False
    assert stored() == [("16.05.2024", "N", None)]
    found = client.get("/database/m/notes", params={"due": "ge.2024-05-16", "done": "eq.false"})
    assert [i["due"] for i in found.json()["items"]] == ["2024-05-16"]
    for bad in (
        {**body, "due": "16.05.2024"},
        {**body, "due": 0},  # a number is not a date (not a Unix time either)
        {**body, "fee": "1.234"},
        {**body, "fee": "4.2e119"},  # its cents do not fit the stored integer column
        {**body, "done": "J"},
    ):
        refused = client.post("/database/m/notes", json=bad)
        assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
        wrong = next(k for k in bad if bad[k] != body[k])
        assert wrong in str(refused.json()["errors"])
    assert client.get("/database/m/notes/2024-02-30").status_code == 400
    assert client.delete("/database/m/notes/2024-05-16").status_code == 204
    assert stored() == []


def test_a_broken_value_with_on_broken_error_is_a_502_naming_row_and_column(
    client: TestClient,
) -> None:
    answer = client.get("/database/m/broken")
    assert answer.status_code == 502 and answer.headers["content-type"] == PROBLEM
    detail = answer.json()["detail"]
    assert "M_BROKEN" in detail and "ID=2" in detail and "field D" in detail
    assert "31.02.2019" in detail
    assert client.get("/database/m/broken/1").json() == {"id": 1, "day": "2024-05-16", "flag": True}
    flag = client.get("/database/m/broken/3")
    assert flag.status_code == 502 and "ID=3" in flag.json()["detail"]
    assert "field F" in flag.json()["detail"]


def _count(field: str) -> float:
    labels = {"system": "m_null", "object": "M_BROKEN", "field": field, "policy": "null"}
    return REGISTRY.get_sample_value("strangler_mapping_broken_values_total", labels) or 0.0


def test_a_broken_value_with_on_broken_null_is_null_logged_and_counted(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    before = _count("D"), _count("F")
    with caplog.at_level(logging.WARNING, logger="strangler.mapping"):
        items = client.get("/database/m_null/broken").json()["items"]
    assert items == [
        {"id": 1, "day": "2024-05-16", "flag": True},
        {"id": 2, "day": None, "flag": False},
        {"id": 3, "day": "2020-01-01", "flag": None},
    ]
    assert (_count("D"), _count("F")) == (before[0] + 1, before[1] + 1)
    assert any("31.02.2019" in r.getMessage() and "ID=2" in r.getMessage() for r in caplog.records)


def test_a_broken_value_with_on_broken_raw_goes_to_a_side_field(client: TestClient) -> None:
    items = client.get("/database/m_raw/broken").json()["items"]
    assert items == [
        {"id": 1, "day": "2024-05-16", "dayRaw": None, "flag": True, "flagRaw": None},
        {"id": 2, "day": None, "dayRaw": "31.02.2019", "flag": False, "flagRaw": None},
        {"id": 3, "day": "2020-01-01", "dayRaw": None, "flag": None, "flagRaw": "X"},
    ]
    row = _row_schema(client, "dayRaw")["properties"]
    assert row["dayRaw"]["description"].startswith("The value stored in D when it breaks")
    assert "flagRaw" in row


@pytest.mark.needs("sqlite")
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"NOPE": "x"}, "M_ORDERS: no field 'NOPE'"),
        ({"AMOUNT": {"date": "DD.MM.YYYY"}}, "M_ORDERS.AMOUNT"),
        ({"AMOUNT": {"width": 3}}, "M_ORDERS.AMOUNT: width applies to text fields"),
        ({"ID": "amount"}, "ID and AMOUNT would both be called 'amount'"),
        (
            {"STATUS": {"enum_table": {"table": "M_NOPE", "code": "C", "label": "L"}}},
            "M_ORDERS.STATUS: cannot read code table M_NOPE",
        ),
    ],
)
def test_a_mapping_that_does_not_fit_is_refused_naming_table_and_column(
    backend: Backend, client: TestClient, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(SystemLoadError) as caught:
        _adapter(backend, "bad", {"M_ORDERS": {"fields": fields}})
    assert message in str(caught.value)
