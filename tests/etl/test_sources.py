"""Sources of feature views against real databases and a real RPC server.

A table is read in its modern shape (the system's mapping: text and integer
dates, cents, CHAR padding), a query's columns are decoded by the view's
``fields``; both in (watermark, key) order, bounded, and resumable strictly
after a checkpoint. An operation is paged until a short page.
"""

from __future__ import annotations

import datetime as dt
import decimal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strangler.demo import inventory as inventory_package
from strangler.demo.inventory import start_inventory_server
from strangler.demo.pricing.rpc import PricingRpcServer
from strangler.demo.pricing.service import PricingService
from strangler.errors import LegacyDataError, SpecError
from strangler.etl.sources import open_source
from strangler.etl.types import Batch
from strangler.mapping import BROKEN_VALUES
from strangler.spec.models import spec_model
from tests.etl.legacy import (
    SOURCES,
    LegacyDb,
    expected,
    legacy_db,
    order_rows,
    spec_data,
    spec_for,
)

VIEW: dict[str, Any] = {
    "source": {"from": "erp.orders", "chunk_rows": 40},
    "entity": "orderNumber",
    "timestamp": "orderDate",
    "watermark": "updatedAt",
}


@pytest.fixture(scope="module", params=SOURCES)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LegacyDb]:
    """A source database holding rows 1..300 (row 150 and 151 updated at one time)."""
    with legacy_db(request.param, tmp_path_factory.mktemp("legacy")) as made:
        rows = order_rows(1, 300)
        rows[150]["UPDATED_AT"] = rows[149]["UPDATED_AT"]  # a tie on the watermark
        made.insert(rows)
        yield made


def _read(
    db: LegacyDb, view: dict[str, Any], *, resume: Any = None, low: Any = None, high: Any = None
) -> tuple[dict[str, str], list[Batch]]:
    source = open_source(spec_for(db, {"v": view}), "v")
    try:
        return dict(source.schema), list(source.batches(resume=resume, low=low, high=high))
    finally:
        source.close()


def _dicts(batches: list[Batch]) -> list[dict[str, Any]]:
    return [dict(zip(b.columns, row, strict=True)) for b in batches for row in b.rows]


def test_a_table_is_read_in_its_modern_shape_in_watermark_order(db: LegacyDb) -> None:
    schema, batches = _read(db, VIEW)
    assert schema == {
        "orderNumber": "integer",
        "customerNumber": "string",
        "orderDate": "date",
        "createdOn": "date",
        "total": "decimal",
        "updatedAt": "datetime",
    }
    assert [len(b.rows) for b in batches] == [40] * 7 + [20]
    rows = _dicts(batches)
    stored = order_rows(1, 300)
    stored[150]["UPDATED_AT"] = stored[149]["UPDATED_AT"]
    assert rows == sorted(
        (expected(r) for r in stored), key=lambda r: (r["updatedAt"], r["orderNumber"])
    )
    first = rows[0]
    assert first["customerNumber"] == "C001" and first["orderDate"] == dt.date(2024, 1, 2)
    assert first["createdOn"] == dt.date(2023, 12, 30)
    assert first["total"] == decimal.Decimal("10.37")
    assert type(first["updatedAt"]) is dt.datetime


def test_a_read_resumes_strictly_after_a_checkpoint(db: LegacyDb) -> None:
    _, whole = _read(db, VIEW)
    everything = _dicts(whole)
    for cut in (0, 3, 7):  # batch 3 ends inside the tie of rows 150 and 151 (0-based 149, 150)
        _, rest = _read(db, VIEW, resume=whole[cut].checkpoint)
        done = sum(len(b.rows) for b in whole[: cut + 1])
        assert _dicts(rest) == everything[done:]
    _, tail = _read(db, {**VIEW, "source": {**VIEW["source"], "chunk_rows": 150}})
    _, after_tie = _read(db, VIEW, resume=tail[0].checkpoint)  # row 150 ends the batch, 151 ties
    assert _dicts(after_tie)[0]["orderNumber"] == 151


def test_low_and_high_bound_the_watermark(db: LegacyDb) -> None:
    low = dt.datetime(2024, 3, 1, 9, 0)  # row 60
    high = dt.datetime(2024, 3, 1, 10, 0)  # row 120, excluded
    source = open_source(spec_for(db, {"v": VIEW}), "v")
    try:
        batches = list(source.batches(resume=None, low=low, high=high))
        assert source.estimated_rows == 60  # a table's rows are counted, within the bounds
    finally:
        source.close()
    numbers = [r["orderNumber"] for r in _dicts(batches)]
    assert numbers == list(range(60, 120))
    aware = low.replace(tzinfo=dt.UTC)  # the store hands watermarks back in UTC
    _, again = _read(db, VIEW, low=aware, high=high.replace(tzinfo=dt.UTC))
    assert [r["orderNumber"] for r in _dicts(again)] == numbers


def test_a_bound_on_a_converted_column_compares_decoded_values(db: LegacyDb) -> None:
    """orderDate is DD.MM.YYYY text: 01.02.2024 < 15.01.2024 as text, not as dates."""
    view = {**VIEW, "watermark": None}
    _, batches = _read(db, view, low=dt.date(2024, 1, 15), high=dt.date(2024, 2, 1))
    rows = _dicts(batches)
    assert rows and all(dt.date(2024, 1, 15) <= r["orderDate"] < dt.date(2024, 2, 1) for r in rows)
    days = [r["orderDate"] for r in rows]
    assert days == sorted(days)
    stored = [expected(r) for r in order_rows(1, 300)]
    assert len(rows) == sum(
        dt.date(2024, 1, 15) <= r["orderDate"] < dt.date(2024, 2, 1) for r in stored
    )


def _quoted(db: LegacyDb, name: str) -> str:
    return f'"{name}"' if db.name.startswith("postgresql") else name


def test_a_query_is_decoded_by_the_views_fields(db: LegacyDb) -> None:
    q = lambda n: _quoted(db, n)  # noqa: E731
    query = (
        f"SELECT {q('CUST_NO')}, {q('ORDER_DATE')}, {q('CREATED')}, "
        f"SUM({q('TOTAL_CENTS')}) AS {q('SPENT')}, COUNT(*) AS {q('N')} "
        f"FROM {q('ORDERS_X')} GROUP BY {q('CUST_NO')}, {q('ORDER_DATE')}, {q('CREATED')}"
    )
    view = {
        "source": {
            "from": "erp",
            "query": query,
            "chunk_rows": 50,
            "fields": {
                "CUST_NO": {"as": "customer", "width": 8},
                "ORDER_DATE": {"as": "day", "date": "DD.MM.YYYY"},
                "CREATED": {"as": "createdOn", "date": "YYYYMMDD"},
                "SPENT": {"as": "spent", "minor_units": 2},
                "N": "orders",
            },
        },
        "entity": "customer",
        "timestamp": "day",
    }
    schema, batches = _read(db, view)
    assert schema["customer"] == "string" and schema["day"] == "date"
    assert schema["createdOn"] == "date" and schema["spent"] == "decimal"
    assert schema["orders"] == "integer"
    rows = _dicts(batches)
    want: dict[tuple[str, dt.date], list[Any]] = {}
    for r in (expected(s) for s in order_rows(1, 300)):
        entry = want.setdefault((r["customerNumber"], r["orderDate"]), [decimal.Decimal(0), 0])
        entry[0] += r["total"]
        entry[1] += 1
    got = {(r["customer"], r["day"]): [r["spent"], r["orders"]] for r in rows}
    assert got == want
    assert [(r["day"], r["customer"]) for r in rows] == sorted((k[1], k[0]) for k in want)
    # resumable like a table: strictly after the checkpoint
    source = open_source(spec_for(db, {"v": view}), "v")
    try:
        rest = list(
            source.batches(resume=batches[1].checkpoint, low=dt.date(2024, 1, 1), high=None)
        )
        assert source.estimated_rows is None  # a query is not run twice to count its rows
    finally:
        source.close()
    assert _dicts(rest) == rows[100:]


def test_a_view_that_does_not_fit_its_source_is_a_spec_error(db: LegacyDb) -> None:
    with pytest.raises(SpecError, match="no column 'customerNo'"):
        _read(db, {**VIEW, "entity": "customerNo"})
    with pytest.raises(SpecError, match="no table 'order'"):
        _read(db, {**VIEW, "source": {"from": "erp.order"}})
    with pytest.raises(SpecError, match="no feature view 'nope'"):
        open_source(spec_for(db, {"v": VIEW}), "nope")
    query = {"from": "erp", "query": f"SELECT * FROM {_quoted(db, 'ORDERS_X')}"}
    with pytest.raises(SpecError, match="no column 'sku'"):
        _read(db, {"source": query, "entity": "sku"})


def test_systems_give_another_address_for_one_run(db: LegacyDb, tmp_path: Path) -> None:
    spec = spec_for(db, {"v": VIEW})
    data = spec.model_dump(by_alias=True, exclude_unset=True, mode="python")
    erp = {k: v for k, v in data["systems"]["erp"].items() if k not in ("url", "odbc")}
    data["systems"]["erp"] = {**erp, "url": f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"}
    wrong = spec_model().model_validate(data)
    address = db.connection.get("url") or db.connection["odbc"]
    source = open_source(wrong, "v", systems={"erp": address})
    try:
        assert source.schema["orderNumber"] == "integer"
        assert sum(len(b.rows) for b in source.batches(resume=None, low=None, high=None)) == 300
    finally:
        source.close()


# -- operations ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pricing() -> Iterator[str]:
    """The demo pricing service, with one more method: the price list a page at a time."""
    server = PricingRpcServer(("127.0.0.1", 0), socket.AF_INET)
    service = PricingService()
    for name, method in service.methods().items():
        server.register_function(method, name)
    calls: list[tuple[int, int]] = []

    def price_page(offset: int, limit: int) -> list[dict[str, Any]]:
        calls.append((offset, limit))
        return service.price_list()[offset : offset + limit]

    def price_page_no(page: int, size: int) -> list[dict[str, Any]]:
        return service.price_list()[(page - 1) * size : page * size]

    server.register_function(price_page, "pricing.price_page")
    server.register_function(price_page_no, "pricing.price_page_no")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/RPC2"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _pricing_spec(
    url: str, paging: dict[str, Any] | None, method: str = "pricing.price_page"
) -> Any:
    source: dict[str, Any] = {"from": f"pricing.{method}", "params": {}}
    if paging is not None:
        source["paging"] = paging
    else:
        source["params"] = {"offset": 0, "limit": 1000}
    return spec_model().model_validate(
        {
            "systems": {
                "pricing": {
                    "kind": "xmlrpc",
                    "url": url,
                    "methods": {
                        "pricing.price_page": {
                            "params": {"offset": "int", "limit": "int"},
                            "safe": True,
                        },
                        "pricing.price_page_no": {
                            "params": {"page": "int", "size": "int"},
                            "safe": True,
                        },
                    },
                }
            },
            "features": {"views": {"prices": {"source": source, "entity": "sku"}}},
        }
    )


@pytest.mark.parametrize("size", [5, 7])
def test_an_operation_is_paged_until_a_short_page(pricing: str, tmp_path: Path, size: int) -> None:
    everything = PricingService().price_list()
    assert len(everything) == 14
    paging = {"param": "offset", "size_param": "limit", "size": size, "offsets": True}
    source = open_source(_pricing_spec(pricing, paging), "prices", cache_dir=tmp_path)
    try:
        assert source.schema == {
            "sku": "string", "name": "string", "category": "string", "unit_price": "float",
            "currency": "string", "status": "string",
        }  # fmt: skip
        batches = list(source.batches(resume=None, low=None, high=None))
        # 14 rows: pages of 5 end with a short one (5, 5, 4); pages of 7 with an empty one
        assert [len(b.rows) for b in batches] == ([5, 5, 4] if size == 5 else [7, 7, 0])
        assert [r["sku"] for r in _dicts(batches)] == [e["sku"] for e in everything]
        rest = list(source.batches(resume=batches[0].checkpoint, low=None, high=None))
        assert _dicts(rest) == _dicts(batches)[size:]
        assert list(source.batches(resume=batches[-1].checkpoint, low=None, high=None)) == []
    finally:
        source.close()


def test_page_numbers_from_the_first(pricing: str, tmp_path: Path) -> None:
    paging = {"param": "page", "size_param": "size", "size": 4, "first": 1}
    spec = _pricing_spec(pricing, paging, "pricing.price_page_no")
    source = open_source(spec, "prices", cache_dir=tmp_path)
    try:
        batches = list(source.batches(resume=None, low=None, high=None))
        assert [b.checkpoint for b in batches] == [
            {"position": 2, "done": False}, {"position": 3, "done": False},
            {"position": 4, "done": False}, {"position": 5, "done": True},
        ]  # fmt: skip
        rest = list(source.batches(resume=batches[1].checkpoint, low=None, high=None))
    finally:
        source.close()
    skus = [e["sku"] for e in PricingService().price_list()]
    assert [len(b.rows) for b in batches] == [4, 4, 4, 2]
    assert [r["sku"] for r in _dicts(batches)] == skus
    assert [r["sku"] for r in _dicts(rest)] == skus[8:]


def test_an_operation_system_at_another_address(pricing: str, tmp_path: Path) -> None:
    paging = {"param": "offset", "size_param": "limit", "size": 5, "offsets": True}
    elsewhere = _pricing_spec("http://127.0.0.1:9/RPC2", paging)  # nothing listens there
    source = open_source(elsewhere, "prices", systems={"pricing": pricing}, cache_dir=tmp_path)
    try:
        assert sum(len(b.rows) for b in source.batches(resume=None, low=None, high=None)) == 14
    finally:
        source.close()


def test_a_soap_operation_in_its_modern_shape(tmp_path: Path) -> None:
    """The demo SOAP ListItems, unpaged: one call, the rows in the system's modern shape."""
    wsdl = Path(inventory_package.__file__).parent / "inventory.wsdl"
    with start_inventory_server() as server:
        spec = spec_model().model_validate(
            {
                "systems": {
                    "inventory": {
                        "kind": "soap", "wsdl": str(wsdl), "address": server.base_url,
                        "naming": "camelCase", "unwrap": True,
                        "operations": {"ListItems": {"response": {"item": "items"}}},
                    }
                },
                "features": {
                    "views": {
                        "catalogue": {
                            "source": {"from": "inventory.ListItems", "items": "items",
                                       "params": {"category": "grocery"}},
                            "entity": "sku",
                        }
                    }
                },
            }
        )  # fmt: skip
        source = open_source(spec, "catalogue", cache_dir=tmp_path)
        try:
            assert source.schema["sku"] == "string"
            assert source.schema["unitPrice"] == "decimal"
            batches = list(source.batches(resume=None, low=None, high=None))
            assert list(source.batches(resume=batches[-1].checkpoint, low=None, high=None)) == []
        finally:
            source.close()
    rows = _dicts(batches)
    grocery = [e for e in PricingService().price_list("grocery")]
    assert sorted(r["sku"] for r in rows) == sorted(e["sku"] for e in grocery)
    assert all(isinstance(r["unitPrice"], decimal.Decimal) for r in rows)


@pytest.mark.parametrize("policy", ["error", "null"])
def test_stored_values_that_break_their_encoding(tmp_path: Path, policy: str) -> None:
    """Each broken value is the field's policy's: an error naming the row, or null counted
    (every one, also when the same value repeats)."""
    with legacy_db("sqlite", tmp_path) as db:
        rows = order_rows(1, 10)
        rows[3]["ORDER_DATE"] = rows[7]["ORDER_DATE"] = "31.02.2024"
        db.insert(rows)
        data = spec_data(db, {"v": VIEW})
        fields = data["systems"]["erp"]["tables"]["ORDERS_X"]["fields"]
        fields["ORDER_DATE"] = {**fields["ORDER_DATE"], "on_broken": policy}
        source = open_source(spec_model().model_validate(data), "v")
        counted = BROKEN_VALUES.labels("erp", "ORDERS_X", "ORDER_DATE", "null")
        before = counted._value.get()
        try:
            if policy == "error":
                with pytest.raises(LegacyDataError, match=r"ORDER_NO=4, field ORDER_DATE"):
                    list(source.batches(resume=None, low=None, high=None))
                return
            read = _dicts(list(source.batches(resume=None, low=None, high=None)))
        finally:
            source.close()
    assert [r["orderNumber"] for r in read if r["orderDate"] is None] == [4, 8]
    assert counted._value.get() - before == 2
