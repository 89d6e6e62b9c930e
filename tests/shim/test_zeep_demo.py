"""The demo's InventoryService through the shim, with zeep built from the shim's ``?wsdl``.

Every operation on both ports (SOAP 1.1 and 1.2), with the ``RequestContext``
header, answers as the legacy server answers the same client; the declared
``StockFault`` comes back in its declared shape. ``GetReorderAdvice`` follows
the ``reorder-advice`` route: during a sticky 50% canary both sides answer, each
customer stays on one, and every answer parses in zeep.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import zeep
from lxml import etree
from zeep.helpers import serialize_object
from zeep.transports import Transport

from tests.shim.conftest import DemoShim

HEADER = {"RequestContext": {"tenant": "acme", "correlationId": "c-1"}}
PORTS = {"1.1": "InventorySoap11", "1.2": "InventorySoap12"}


class SideTransport(Transport):
    """zeep's own transport, remembering which side the gateway said answered."""

    def __init__(self) -> None:
        super().__init__()
        self.sides: list[str | None] = []

    def post(self, address: str, message: Any, headers: Any) -> Any:
        response = super().post(address, message, headers)
        self.sides.append(response.headers.get("x-strangler-side"))
        return response


def plain(value: Any) -> Any:
    return serialize_object(value, target_cls=dict)


def fault_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str, list[bytes]]:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call(*args, **kwargs)
    fault = caught.value
    children = [] if fault.detail is None else list(fault.detail)
    detail = [etree.tostring(c, method="c14n", exclusive=True) for c in children]
    return str(fault.code).rsplit(":", 1)[-1].rsplit("}", 1)[-1], fault.message, detail


@pytest.fixture(scope="module")
def demo(demo_shim: DemoShim) -> Iterator[DemoShim]:
    """The demo shim (its route's rollout paused: the tests set mode and weight)."""
    yield demo_shim


def services(demo: DemoShim, version: str, transport: Transport | None = None) -> Any:
    client = zeep.Client(demo.wsdl, transport=transport)
    port = PORTS[version]
    binding = client.wsdl.services["InventoryService"].ports[port].binding
    via_shim = client.bind("InventoryService", port)
    via_legacy = client.create_service(binding.name.text, demo.legacy[version])
    return via_shim, via_legacy


def advice(customer: str, sku: str = "SKU-1001") -> dict[str, Any]:
    return {
        "customerId": customer,
        "sku": sku,
        "quantityOnHand": 3,
        "averageDailySales": "4.5",
        "leadTimeDays": 7,
    }


def set_route(demo: DemoShim, **state: Any) -> None:
    response = demo.admin.put("/admin/routes/reorder-advice", json=state)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_every_operation_answers_as_the_legacy_server_does(demo: DemoShim, version: str) -> None:
    set_route(demo, mode="legacy")
    via_shim, via_legacy = services(demo, version)
    for call, kwargs in [
        ("GetStock", {"sku": "SKU-1001"}),
        ("ListItems", {}),
        ("ListItems", {"category": "grocery"}),
        ("GetReorderAdvice", advice("C-001")),
        ("GetReorderAdvice", advice("HOLD-1", "SKU-1003")),
    ]:
        for header in ({}, {"_soapheaders": HEADER}):
            expected = plain(getattr(via_legacy, call)(**kwargs, **header))
            assert plain(getattr(via_shim, call)(**kwargs, **header)) == expected, call
    before = plain(via_legacy.GetStock(sku="SKU-2001"))
    added = plain(via_legacy.AdjustStock(sku="SKU-2001", delta=5, reason="count"))
    taken = plain(via_shim.AdjustStock(sku="SKU-2001", delta=-5, reason="count"))
    assert added["quantity"] == before["quantity"] + 5
    assert {**taken, "updatedAt": None} == {
        **added,
        "quantity": before["quantity"],
        "updatedAt": None,
    }


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_the_declared_fault_comes_in_its_declared_shape(demo: DemoShim, version: str) -> None:
    via_shim, via_legacy = services(demo, version)
    for call, kwargs in [
        ("GetStock", {"sku": "SKU-NONE"}),
        ("AdjustStock", {"sku": "SKU-NONE", "delta": 1, "reason": "x"}),
    ]:
        expected = fault_of(getattr(via_legacy, call), **kwargs)
        assert fault_of(getattr(via_shim, call), **kwargs) == expected
        assert expected[2] and b"StockFault" in expected[2][0]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_declared_fault_through_the_route_keeps_its_declared_shape(
    demo: DemoShim, version: str
) -> None:
    """The route's legacy side faults: the problem's faultdetail is written back as the
    declared StockFault, as the legacy server itself would have answered."""
    set_route(demo, mode="legacy")
    via_shim, via_legacy = services(demo, version)
    kwargs = advice("C-001", "SKU-NONE")
    expected = fault_of(via_legacy.GetReorderAdvice, **kwargs)
    assert expected[2] and b"StockFault" in expected[2][0]
    got = fault_of(via_shim.GetReorderAdvice, **kwargs)
    assert got[1] == expected[1]
    assert [tree(d) for d in got[2]] == [tree(d) for d in expected[2]]  # prefixes aside
    assert got[0] in (expected[0], "Client", "Sender")  # the route keeps client or server


def tree(xml: bytes) -> Any:
    """An element as (qualified name, text, children): what it says, prefixes aside."""
    element = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    return (element.tag, (element.text or "").strip(), [tree(c) for c in element])


def test_a_canary_is_answered_by_both_sides_and_every_answer_parses(demo: DemoShim) -> None:
    set_route(demo, mode="canary", weight=0.5)
    try:
        transport = SideTransport()
        via_shim, via_legacy = services(demo, "1.1", transport)
        sides: dict[str, str | None] = {}
        for n in range(60):
            customer = f"C-{n:03d}"
            answer = plain(via_shim.GetReorderAdvice(**advice(customer)))  # parsed by zeep
            side = transport.sides[-1]
            sides[customer] = side
            assert set(answer) == {"reorder", "quantity", "reason", "ruleId"}
            if side == "legacy":
                assert answer == plain(via_legacy.GetReorderAdvice(**advice(customer)))
            else:
                assert side == "modern"
                assert answer["ruleId"].startswith("MODEL-reorder-")
        assert 10 <= list(sides.values()).count("modern") <= 50
        for customer, side in sides.items():  # sticky: each customer stays on its side
            via_shim.GetReorderAdvice(**advice(customer))
            assert transport.sides[-1] == side, customer
    finally:
        set_route(demo, mode="legacy", weight=0.0)
