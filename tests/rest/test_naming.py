"""Operation ids and component names: short, unique, the same on every build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strangler.demo.estate import running_estate
from strangler.platform.naming import camel, model_name, pascal, split_model_name, words
from strangler.rest.app import create_app
from strangler.rest.naming import resolve, route_candidates


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    """The demo's document, built twice from the same spec."""
    with running_estate(state_dir=Path(tmp_path_factory.mktemp("naming"))) as estate:
        yield [create_app(estate.spec).openapi() for _ in range(2)]


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, item in document["paths"].items()
        for method, op in item.items()
    }


def test_words_and_cases() -> None:
    assert words("ORDER_LINES", "getStock", "InventorySoap11") == [
        "ORDER", "LINES", "get", "Stock", "Inventory", "Soap11"
    ]  # fmt: skip
    assert pascal("ORDER_LINES", "Row") == "OrderLinesRow"
    assert camel("list", "pricing.list_price") == "listPricingListPrice"
    assert pascal("") == "X" and pascal("1st") == "N1St"
    assert model_name("erp_legacy", "ORDERS", "Page") == "erp_legacy.OrdersPage"
    assert split_model_name("erp_legacy.OrdersPage") == ("erp_legacy", "OrdersPage")
    assert split_model_name("Problem") == (None, "Problem")


def test_route_candidates_qualify_only_as_far_as_needed() -> None:
    assert route_candidates("inventory", ("GetStock",)) == ("getStock", "inventoryGetStock")
    assert route_candidates("inventory", ("Svc", "Soap12", "GetStock"))[:2] == (
        "getStockSoap12",
        "getStockSvcSoap12",
    )
    assert route_candidates("pricing", ("pricing.quote",))[:2] == ("quote", "pricingQuote")


def test_resolve_is_order_independent_and_unique() -> None:
    offered = {"a": ["x", "ax"], "b": ["x", "bx"], "c": ["y", "cy"], "d": ["q"], "e": ["q"]}
    first = resolve(offered, ["cy"])
    again = resolve(dict(reversed(list(offered.items()))), ["cy"])
    assert first == again
    assert first["a"] == "ax" and first["b"] == "bx" and first["c"] == "y"
    assert sorted([first["d"], first["e"]]) == ["q", "q2"]
    assert len(set(first.values())) == len(first)


def test_every_operation_id_is_short_and_unique(documents: list[dict[str, Any]]) -> None:
    operations = _operations(documents[0])
    ids = [op["operationId"] for op in operations.values()]
    assert len(ids) == len(set(ids))
    for label, op in operations.items():
        operation_id = op["operationId"]
        assert operation_id.isidentifier() and operation_id[0].islower(), label
        assert "x-strangler-operation-ids" not in op
        assert "InventoryService" not in operation_id, label  # a service only where ports clash
        lowered = [w.lower() for w in words(operation_id)]
        assert len(lowered) == len(set(lowered)) or label.startswith("GET /database"), label
    assert operations["POST /soap/inventory/GetStock"]["operationId"] == "getStock"
    assert (
        operations["POST /soap/inventory/InventoryService/InventorySoap12/GetStock"]["operationId"]
        == "getStockInventorySoap12"
    )
    assert operations["POST /xmlrpc/pricing/pricing.ping"]["operationId"] == "ping"
    assert operations["POST /xmlrpc/pricing/pricing.list_price"]["operationId"] == "listPrice"
    assert operations["GET /healthz"]["operationId"] == "healthz"


def test_component_names_are_short_and_stable(documents: list[dict[str, Any]]) -> None:
    first, second = documents
    names = list(first["components"]["schemas"])
    assert names == list(second["components"]["schemas"])
    assert [_operations(first)[k]["operationId"] for k in _operations(first)] == [
        _operations(second)[k]["operationId"] for k in _operations(second)
    ]
    for name in names:
        assert name.replace("_", "").isalnum(), name
        assert "__" not in name and "." not in name, name
        assert "InventoryService" not in name and "Soap11" not in name, name
    assert {"GetStockRequest", "GetStockResponse", "PingParams", "QuoteParams", "Problem"} <= set(
        names
    )
    for name, schema in first["components"]["schemas"].items():
        assert schema.get("title", name) == name


def test_every_ref_points_at_a_component(documents: list[dict[str, Any]]) -> None:
    document = documents[0]
    schemas = document["components"]["schemas"]

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    for ref in walk(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_table_query_parameters_are_typed(documents: list[dict[str, Any]]) -> None:
    for label, op in _operations(documents[0]).items():
        if not (label.startswith("GET /database/") and "{key}" not in label):
            continue
        params = {p["name"]: p for p in op["parameters"]}
        assert params["limit"]["schema"]["type"] == "integer", label
        assert params["limit"]["schema"]["minimum"] == 1
        assert params["offset"]["schema"]["type"] == "integer"
        for name in ("cursor", "sort", "fields"):
            assert params[name]["schema"] == {"type": "string", "title": name.title()}
            assert params[name]["description"]
        filters = [
            p for n, p in params.items() if n not in ("limit", "offset", "cursor", "sort", "fields")
        ]
        assert filters, label
        for param in filters:
            assert param["schema"]["type"] == "array"
            assert param["schema"]["items"]["pattern"].startswith("^(eq|")
            assert "op.value" in param["description"] and param["name"] in param["description"]
