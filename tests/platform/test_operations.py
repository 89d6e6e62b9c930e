"""One operation lookup for every adapter kind, invokable in-process (demo estate)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strangler.adapters.db import DatabaseAdapter
from strangler.adapters.db.query import build_query
from strangler.demo.estate import running_estate
from strangler.errors import BadQuery, InvalidInput, UnknownOperation
from strangler.platform import Platform, build_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("estate")
    with running_estate(state_dir=folder) as estate:
        yield build_platform(estate.spec, cache_dir=folder / "cache")


def call(platform: Platform, ref: str, payload: dict[str, Any] | None = None) -> Any:
    async def run() -> Any:
        async with platform.running():
            return await platform.invoke(ref, payload)

    return asyncio.run(run())


def test_a_soap_operation_by_name(platform: Platform) -> None:
    op = platform.operation("inventory.GetReorderAdvice")
    assert {"customerId", "sku", "quantityOnHand"} <= set(op.input_model.model_fields)
    answer = call(
        platform,
        "inventory.GetReorderAdvice",
        {
            "customerId": "K10001",
            "sku": "SKU-1001",
            "quantityOnHand": 3,
            "averageDailySales": "12.5",
            "leadTimeDays": 7,
        },
    )
    assert "GetReorderAdviceResult" not in answer  # unwrapped by the demo spec
    assert isinstance(answer["reorder"], bool) and answer["ruleId"]


def test_a_soap_operation_by_service_and_port(platform: Platform) -> None:
    short = platform.operation("inventory.GetStock")
    full = platform.operation(f"inventory.{'.'.join(short.route)}")
    assert full is short
    soap12 = [o for o in platform.sources()["inventory"].operations() if "Soap12" in o.route[1]]
    assert platform.operation("inventory." + ".".join(soap12[0].route)) is soap12[0]


def test_an_xmlrpc_method_with_dots_in_its_name(platform: Platform) -> None:
    answer = call(
        platform,
        "pricing.pricing.quote",
        {"sku": "SKU-1001", "quantity": 30, "customer_no": "K10001"},
    )
    assert answer["sku"] == "SKU-1001" and answer["total"] > 0  # the struct, unwrapped


def test_a_table_lists_and_gets_by_name(platform: Platform) -> None:
    page = call(
        platform,
        "erp.orders",
        {
            "filters": [{"column": "total", "op": "gt", "value": "100"}],
            "sort": ["-total"],
            "limit": 3,
            "fields": ["orderNumber", "total"],
        },
    )
    assert len(page["items"]) == 3 and page["next_cursor"]
    totals = [float(i["total"]) for i in page["items"]]
    assert totals == sorted(totals, reverse=True) and min(totals) > 100
    first = page["items"][0]["orderNumber"]
    row = call(platform, "erp.orders.get", {"orderNumber": first})
    assert row["orderNumber"] == first and row["status"] in ("new", "shipped", "cancelled")
    assert platform.operation("erp.orders.list") is platform.operation("erp.orders")
    legacy = call(platform, "erp_legacy.ORDERS.get", {"ORDER_NO": first})
    assert legacy["ORDER_NO"] == first and legacy["STATUS"] in ("N", "S", "C")


def test_unknown_names_and_bad_input_are_the_projects_errors(platform: Platform) -> None:
    for ref in ("inventory.NoSuchThing", "nosystem.GetStock", "erp.NOPE", "nodot"):
        with pytest.raises(UnknownOperation):
            platform.operation(ref)
    with pytest.raises(InvalidInput) as caught:
        call(platform, "pricing.pricing.quote", {"sku": "SKU-1001", "quantity": "many"})
    assert {p.path for p in caught.value.problems} >= {"quantity", "customer_no"}
    with pytest.raises(BadQuery, match="NOPE"):
        call(platform, "erp.orders", {"filters": [{"column": "NOPE", "op": "eq", "value": "1"}]})


def test_a_large_read_streams_every_row_once(platform: Platform) -> None:
    adapter = platform.sources()["erp"]
    assert isinstance(adapter, DatabaseAdapter)
    table = adapter.tables["orders"]

    async def read() -> tuple[list[Any], int]:
        async with platform.running():
            query = build_query(table, sort=["-orderDate"], fields=["orderNumber"], limit=37)
            pages = [page async for page in adapter.rows.stream(table, query)]
            count = await adapter.rows.page(table, build_query(table, limit=100000))
        return pages, len(count["items"])

    pages, total = asyncio.run(read())
    keys = [row["orderNumber"] for page in pages for row in page]
    assert len(keys) == total and len(set(keys)) == total > 37
    assert max(len(p) for p in pages) == 37


def test_build_query_checks_like_the_query_string(tmp_path: Path, platform: Platform) -> None:
    adapter = platform.sources()["erp"]
    assert isinstance(adapter, DatabaseAdapter)
    table = adapter.tables["orders"]
    query = build_query(
        table, filters=[("orderNumber", "in", [1, 2]), ("orderDate", "ge", "2024-01-01")], limit=5
    )
    assert [f.op for f in query.filters] == ["in", "ge"]
    with pytest.raises(BadQuery) as caught:
        build_query(table, filters=[("NOPE", "eq", 1)], sort=["-ALSO_NOPE"], limit=0)
    assert {p.path for p in caught.value.problems} == {"NOPE", "sort", "limit"}
