"""The SOAP adapter over real HTTP: REST in front of the demo InventoryService."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from strangler.demo.inventory import WSDL_PATH, InventoryServer
from tests.conftest import SpecRunner


def spec_for(address: str, extra: str = "") -> str:
    return (
        "systems:\n"
        "  inventory:\n"
        "    kind: soap\n"
        f"    wsdl: {WSDL_PATH}\n"
        f"    address: {address}\n"
        "    timeout_s: 5\n"
        "    safe_operations: [GetStock, ListItems]\n"
        f"{extra}"
    )


@pytest.fixture
def client(api: SpecRunner, inventory: InventoryServer) -> Iterator[httpx.Client]:
    with api(spec_for(inventory.base_url)) as url, httpx.Client(base_url=url) as http:
        yield http


def test_get_stock_soap11_short_path(client: httpx.Client) -> None:
    response = client.post("/soap/inventory/GetStock", json={"sku": "SKU-1001"})
    assert response.status_code == 200, response.text
    result = response.json()["GetStockResult"]
    assert result["sku"] == "SKU-1001"
    assert result["quantity"] == 240
    assert result["updatedAt"].endswith("+00:00")


def test_get_stock_soap12_port(client: httpx.Client) -> None:
    response = client.post(
        "/soap/inventory/InventoryService/InventorySoap12/GetStock", json={"sku": "SKU-2001"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["GetStockResult"]["sku"] == "SKU-2001"


def test_soap_header_reaches_the_legacy_system(client: httpx.Client) -> None:
    plain = client.post("/soap/inventory/GetStock", json={"sku": "SKU-1001"}).json()
    north = client.post(
        "/soap/inventory/GetStock",
        json={
            "sku": "SKU-1001",
            "soapHeader": {"RequestContext": {"tenant": "north", "correlationId": "c-1"}},
        },
    ).json()
    assert plain["GetStockResult"]["warehouse"] != north["GetStockResult"]["warehouse"]


def test_list_items_array_decimal_and_enum(client: httpx.Client) -> None:
    items = client.post("/soap/inventory/ListItems", json={}).json()["item"]
    assert len(items) >= 10
    first = items[0]
    assert isinstance(first["unitPrice"], str)  # decimals travel as exact strings
    Decimal(first["unitPrice"])
    assert {i["status"] for i in items} <= {"ACTIVE", "DISCONTINUED"}
    grocery = client.post("/soap/inventory/ListItems", json={"category": "grocery"}).json()
    assert 0 < len(grocery["item"]) < len(items)


def test_reorder_advice_from_the_rules_engine(client: httpx.Client) -> None:
    body = {
        "customerId": "C-1",
        "sku": "SKU-1003",
        "quantityOnHand": 5,
        "averageDailySales": "3.5",
        "leadTimeDays": 7,
    }
    advice = client.post("/soap/inventory/GetReorderAdvice", json=body).json()
    result = advice["GetReorderAdviceResult"]
    assert result["reorder"] is True
    assert result["quantity"] > 0
    assert result["ruleId"]


def test_adjust_stock_changes_state(client: httpx.Client) -> None:
    before = client.post("/soap/inventory/GetStock", json={"sku": "SKU-2001"}).json()
    quantity = before["GetStockResult"]["quantity"]
    adjusted = client.post(
        "/soap/inventory/AdjustStock", json={"sku": "SKU-2001", "delta": -3, "reason": "test"}
    )
    assert adjusted.status_code == 200, adjusted.text
    after = client.post("/soap/inventory/GetStock", json={"sku": "SKU-2001"}).json()
    assert after["GetStockResult"]["quantity"] == quantity - 3
    client.post(
        "/soap/inventory/AdjustStock", json={"sku": "SKU-2001", "delta": 3, "reason": "undo"}
    )


def _problem(response: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert problem["status"] == status
    assert problem["type"] == f"urn:strangler:problem:{kind}"
    assert problem["title"]
    return problem


def test_client_fault_is_a_400_problem_with_detail(client: httpx.Client) -> None:
    problem = _problem(
        client.post("/soap/inventory/GetStock", json={"sku": "NOPE-1"}), 400, "legacy-fault"
    )
    assert "Client" in str(problem["faultcode"])
    assert "NOPE-1" in str(problem["faultstring"])
    assert problem["faultdetail"] == {"StockFault": {"code": "UNKNOWN_SKU", "sku": "NOPE-1"}}


def test_server_fault_is_a_502_problem(client: httpx.Client) -> None:
    problem = _problem(
        client.post("/soap/inventory/GetStock", json={"sku": "ERR-BACKEND"}), 502, "legacy-fault"
    )
    assert "Server" in str(problem["faultcode"])


def test_soap12_fault_codes(client: httpx.Client) -> None:
    path = "/soap/inventory/InventoryService/InventorySoap12/GetStock"
    _problem(client.post(path, json={"sku": "NOPE-2"}), 400, "legacy-fault")
    _problem(client.post(path, json={"sku": "ERR-BACKEND"}), 502, "legacy-fault")


def test_negative_stock_fault_leaves_state_alone(client: httpx.Client) -> None:
    before = client.post("/soap/inventory/GetStock", json={"sku": "SKU-1004"}).json()
    response = client.post(
        "/soap/inventory/AdjustStock", json={"sku": "SKU-1004", "delta": -100000, "reason": "oops"}
    )
    assert response.status_code in (400, 502)
    assert response.json()["faultdetail"]["StockFault"]["sku"] == "SKU-1004"
    after = client.post("/soap/inventory/GetStock", json={"sku": "SKU-1004"}).json()
    assert after == before


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "sku"),
        ({"sku": "SKU-1001", "colour": "red"}, "colour"),
        ({"sku": 12}, "sku"),
    ],
)
def test_bad_input_is_a_422_with_the_field_path(
    client: httpx.Client, body: dict[str, object], path: str
) -> None:
    problem = _problem(client.post("/soap/inventory/GetStock", json=body), 422, "invalid-input")
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert path in [e["path"] for e in errors]


def test_wrong_nested_type_names_the_nested_path(client: httpx.Client) -> None:
    body = {
        "customerId": "C-1",
        "sku": "SKU-1003",
        "quantityOnHand": "many",
        "averageDailySales": "3.5",
        "leadTimeDays": 7,
    }
    problem = _problem(
        client.post("/soap/inventory/GetReorderAdvice", json=body), 422, "invalid-input"
    )
    assert [e["path"] for e in problem["errors"]] == ["quantityOnHand"]  # type: ignore[attr-defined]
    header = {"sku": "SKU-1001", "soapHeader": {"RequestContext": {"tenant": 5}}}
    problem = _problem(client.post("/soap/inventory/GetStock", json=header), 422, "invalid-input")
    paths = [e["path"] for e in problem["errors"]]  # type: ignore[attr-defined]
    assert "soapHeader/RequestContext/tenant" in paths


def test_malformed_json_is_a_422(client: httpx.Client) -> None:
    response = client.post(
        "/soap/inventory/GetStock",
        content=b'{"sku": ',
        headers={"content-type": "application/json"},
    )
    _problem(response, 422, "invalid-input")


def test_unknown_operation_is_a_404_problem(client: httpx.Client) -> None:
    _problem(client.post("/soap/inventory/NoSuchThing", json={}), 404, "not-found")
    _problem(
        client.post("/soap/inventory/InventoryService/NoPort/GetStock", json={}), 404, "not-found"
    )


def test_wrong_method_is_a_405_problem(client: httpx.Client) -> None:
    _problem(client.get("/soap/inventory/GetStock"), 405, "method-not-allowed")
