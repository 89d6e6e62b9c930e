"""The demo legacy SOAP InventoryService, called over real HTTP by zeep and suds."""
# zeep and suds are untyped:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import base64
import hashlib
import re
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import pytest
import requests
import zeep
from lxml import etree
from suds import WebFault
from suds.client import Client as SudsClient
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from strangler.demo.inventory import (
    BINDING_SOAP11,
    BINDING_SOAP12,
    TNS,
    WSDL_PATH,
    InventoryServer,
    password_digest,
    start_inventory_server,
)
from strangler.demo.inventory.wsdl import generate_spyne_wsdl

BINDINGS = {"soap11": (BINDING_SOAP11, "/soap11"), "soap12": (BINDING_SOAP12, "/soap12")}
NS = {
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
}


def _service(client: zeep.Client, server: InventoryServer, port: str) -> Any:
    binding, path = BINDINGS[port]
    return client.create_service(binding, server.url(path))


def _received(history: HistoryPlugin) -> dict[str, Any]:
    received = history.last_received
    assert received is not None
    return received


def _stock_code(fault: zeep.exceptions.Fault) -> str | None:
    detail: etree._Element = fault.detail
    return detail.findtext(f"{{{TNS}}}StockFault/{{{TNS}}}code")


@pytest.fixture(params=sorted(BINDINGS))
def port(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_zeep_round_trip_of_every_operation(
    inventory: InventoryServer, inventory_zeep: zeep.Client, port: str
) -> None:
    service = _service(inventory_zeep, inventory, port)
    stock = service.GetStock("SKU-2002")
    assert (stock.sku, stock.warehouse, stock.reorderPoint) == ("SKU-2002", "WH-CENTRAL", 15)
    assert isinstance(stock.updatedAt, datetime) and stock.updatedAt.utcoffset() is not None

    items = service.ListItems()
    assert len(items) == 14 and {i.status for i in items} == {"ACTIVE", "DISCONTINUED"}
    hardware = service.ListItems("hardware")
    assert [i.sku for i in hardware] == ["SKU-3001", "SKU-3002", "SKU-3003"]
    assert hardware[0].unitPrice == Decimal("4.25")
    assert service.ListItems("no-such-category") == []

    advice = service.GetReorderAdvice("C-1", "SKU-1003", 35, Decimal("5.5"), 7)
    assert (advice.reorder, advice.quantity, advice.ruleId) == (True, 140, "R5-REORDER")
    assert "trigger level 80" in advice.reason

    adjusted = service.AdjustStock("SKU-2002", 4, "delivery")
    assert adjusted.quantity == stock.quantity + 4
    assert service.AdjustStock("SKU-2002", -4, "correction").quantity == stock.quantity


@pytest.mark.parametrize(
    ("customer", "sku", "on_hand", "sales", "lead", "expected"),
    [
        ("C-1", "SKU-1004", 0, "9", 5, (False, 0, "R1-DISCONTINUED")),
        ("HOLD-9", "SKU-1001", 0, "9", 5, (False, 0, "R2-CREDIT-HOLD")),
        ("C-1", "SKU-1001", 3, "0", 5, (False, 0, "R3-NO-DEMAND")),
        ("C-1", "SKU-1001", 240, "10", 5, (False, 0, "R4-STOCK-SUFFICIENT")),
        ("C-1", "SKU-1001", 60, "10", 5, (True, 168, "R5-REORDER")),
        ("KEY-1", "SKU-1001", 60, "10", 5, (True, 204, "R5-REORDER")),
    ],
)
def test_reorder_rules(
    inventory: InventoryServer,
    inventory_zeep: zeep.Client,
    customer: str,
    sku: str,
    on_hand: int,
    sales: str,
    lead: int,
    expected: tuple[bool, int, str],
) -> None:
    service = _service(inventory_zeep, inventory, "soap11")
    advice = service.GetReorderAdvice(customer, sku, on_hand, Decimal(sales), lead)
    assert (advice.reorder, advice.quantity, advice.ruleId) == expected


def test_soap12_port_answers_in_soap12(inventory: InventoryServer) -> None:
    history = HistoryPlugin()
    client = zeep.Client(inventory.wsdl_url, plugins=[history])
    _service(client, inventory, "soap12").GetStock("SKU-1001")
    assert _received(history)["http_headers"]["Content-Type"].startswith("application/soap+xml")
    envelope = _received(history)["envelope"]
    assert envelope.tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"


def test_header_reaches_the_server(inventory: InventoryServer) -> None:
    history = HistoryPlugin()
    service = _service(zeep.Client(inventory.wsdl_url, plugins=[history]), inventory, "soap11")
    context = {"RequestContext": {"tenant": "north", "correlationId": "corr-42"}}
    assert service.GetStock("SKU-1001", _soapheaders=context).warehouse == "WH-NORTH"
    assert _received(history)["http_headers"]["X-Correlation-ID"] == "corr-42"
    assert (
        service.AdjustStock(
            "SKU-1001", 0, "audit", _soapheaders={"RequestContext": {"tenant": "outlet"}}
        ).warehouse
        == "WH-OUTLET"
    )
    unsafe = {"RequestContext": {"correlationId": "a\r\nX-Injected: 1"}}
    assert service.GetStock("SKU-1001", _soapheaders=unsafe).warehouse == "WH-CENTRAL"
    headers = _received(history)["http_headers"]
    assert "X-Correlation-ID" not in headers and "X-Injected" not in headers


@pytest.mark.parametrize(
    ("sku", "delta", "code", "soap11", "soap12"),
    [
        ("NOPE-1", 0, "UNKNOWN_SKU", "Client.UnknownSku", "Sender"),
        ("SKU-3002", -10_000, "NEGATIVE_STOCK", "Client.NegativeStock", "Sender"),
        ("ERR-BACKEND", 1, "BACKEND_UNAVAILABLE", "Server.Backend", "Receiver"),
    ],
)
def test_declared_fault(
    inventory: InventoryServer,
    inventory_zeep: zeep.Client,
    port: str,
    sku: str,
    delta: int,
    code: str,
    soap11: str,
    soap12: str,
) -> None:
    service = _service(inventory_zeep, inventory, port)
    before = service.GetStock("SKU-3002").quantity
    with pytest.raises(zeep.exceptions.Fault) as caught:
        service.AdjustStock(sku, delta, "test")
    assert _stock_code(caught.value) == code
    assert caught.value.detail.findtext(f"{{{TNS}}}StockFault/{{{TNS}}}sku") == sku
    assert caught.value.code.split(":")[-1] == (soap11 if port == "soap11" else soap12)
    assert service.GetStock("SKU-3002").quantity == before


def test_suds_round_trip(inventory: InventoryServer, port: str) -> None:
    name, path = (
        ("InventorySoap11", "/soap11") if port == "soap11" else ("InventorySoap12", "/soap12")
    )
    client = SudsClient(inventory.wsdl_url, location=inventory.url(path), cache=None)
    context = client.factory.create("RequestContext")
    context.tenant, context.correlationId = "south", "suds-1"
    client.set_options(soapheaders=context)
    service = client.service[name]
    stock = service.GetStock("SKU-4001")
    assert (stock.sku, stock.warehouse) == ("SKU-4001", "WH-SOUTH")
    advice = service.GetReorderAdvice("KEY-7", "SKU-3002", 3, Decimal("1.5"), 10)
    assert (advice.reorder, advice.quantity, advice.ruleId) == (True, 44, "R5-REORDER")
    with pytest.raises(WebFault) as caught:
        service.GetStock("NOPE-2")
    assert caught.value.fault.detail.StockFault.code == "UNKNOWN_SKU"


def test_suds_loads_the_shipped_file(inventory: InventoryServer) -> None:
    client = SudsClient(WSDL_PATH.as_uri(), location=inventory.url("/soap11"), cache=None)
    assert client.service.GetStock("SKU-4003").quantity >= 0


def _wsse(server: InventoryServer, token: UsernameToken) -> Any:
    return zeep.Client(server.url("/wsse/soap11?wsdl"), wsse=token).service


@pytest.mark.parametrize("digest", [False, True], ids=["text", "digest"])
def test_ws_security(
    inventory: InventoryServer, inventory_credentials: tuple[str, str], digest: bool
) -> None:
    user, password = inventory_credentials
    good = UsernameToken(user, password, use_digest=digest)
    assert _wsse(inventory, good).GetStock("SKU-1002").sku == "SKU-1002"
    for bad_user, bad_password in ((user, "wrong"), ("intruder", password)):
        bad = UsernameToken(bad_user, bad_password, use_digest=digest)
        with pytest.raises(zeep.exceptions.Fault) as caught:
            _wsse(inventory, bad).GetStock("SKU-1002")
        assert caught.value.message == "authentication failed"
        assert caught.value.code.endswith("Client.Authentication")


def test_ws_security_requires_a_token(
    inventory: InventoryServer, inventory_zeep: zeep.Client
) -> None:
    service = inventory_zeep.create_service(BINDING_SOAP11, inventory.url("/wsse/soap11"))
    with pytest.raises(zeep.exceptions.Fault, match="authentication failed"):
        service.GetStock("SKU-1002")


def test_password_digest_follows_the_oasis_formula(
    inventory: InventoryServer, inventory_credentials: tuple[str, str]
) -> None:
    user, password = inventory_credentials
    nonce, created = "fixed-nonce-0001", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    token = UsernameToken(user, password, use_digest=True, nonce=nonce, created=created)
    stamp = "2024-05-06T07:08:09+00:00"
    expected = base64.b64encode(
        hashlib.sha1(nonce.encode() + stamp.encode() + password.encode()).digest()
    ).decode()
    assert password_digest(nonce.encode(), stamp, password) == expected
    assert _wsse(inventory, token).GetStock("SKU-1002").sku == "SKU-1002"  # replays are fine


def test_basic_auth(inventory: InventoryServer, inventory_credentials: tuple[str, str]) -> None:
    session = requests.Session()
    session.auth = inventory_credentials
    client = zeep.Client(inventory.url("/basic/soap11?wsdl"), transport=Transport(session=session))
    assert client.service.GetStock("SKU-3001").sku == "SKU-3001"

    wrong = requests.Session()
    wrong.auth = (inventory_credentials[0], "nope")
    service = zeep.Client(inventory.wsdl_url, transport=Transport(session=wrong)).create_service(
        BINDING_SOAP11, inventory.url("/basic/soap11")
    )
    with pytest.raises(zeep.exceptions.TransportError) as caught:
        service.GetStock("SKU-3001")
    assert caught.value.status_code == 401
    bare = requests.post(
        inventory.url("/basic/soap11"),
        data=b"<x/>",
        headers={"Content-Type": "text/xml"},
        timeout=10,
    )
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"].startswith("Basic")


def _addresses(wsdl: bytes) -> dict[str, str]:
    root = etree.fromstring(wsdl)
    return {
        str(port.get("name")): str(port[0].get("location"))
        for port in root.iterfind("wsdl:service/wsdl:port", NS)
    }


def test_wsdl_is_served_with_the_real_address(inventory: InventoryServer) -> None:
    base = inventory.base_url
    served = requests.get(inventory.wsdl_url, timeout=10)
    assert served.status_code == 200 and served.headers["Content-Type"].startswith("text/xml")
    want = {"InventorySoap11": f"{base}/soap11", "InventorySoap12": f"{base}/soap12"}
    assert _addresses(served.content) == want
    assert _addresses(requests.get(base + "/soap11?wsdl", timeout=10).content) == want
    wsse = _addresses(requests.get(base + "/wsse/soap11?wsdl", timeout=10).content)
    assert wsse["InventorySoap11"] == f"{base}/wsse/soap11"


def test_shipped_wsdl_has_both_bindings_header_and_fault() -> None:
    root = etree.parse(str(WSDL_PATH)).getroot()
    assert _addresses(etree.tostring(root)) == {
        "InventorySoap11": "http://localhost:8001/soap11",
        "InventorySoap12": "http://localhost:8001/soap12",
    }
    for prefix, binding in (
        ("soap", "InventorySoap11Binding"),
        ("soap12", "InventorySoap12Binding"),
    ):
        node = root.find(f"wsdl:binding[@name='{binding}']", NS)
        assert node is not None and node.find(f"{prefix}:binding", NS) is not None
        assert len(node.findall(f"wsdl:operation/wsdl:input/{prefix}:header", NS)) == 4
        assert len(node.findall(f"wsdl:operation/wsdl:fault/{prefix}:fault", NS)) == 4


def _schema_shape(wsdl: bytes) -> set[tuple[str, ...]]:
    schema = etree.fromstring(wsdl).find("wsdl:types/xs:schema", NS)
    assert schema is not None
    shape = set()
    for node in schema.iter(f"{{{NS['xs']}}}element", f"{{{NS['xs']}}}enumeration"):
        owner = next(a.get("name") for a in node.iterancestors() if a.get("name"))
        shape.add((str(owner), *(f"{k!s}={v!s}" for k, v in sorted(node.attrib.items()))))
    return shape


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_shipped_schema_matches_what_spyne_generates(version: Literal["1.1", "1.2"]) -> None:
    shipped = _schema_shape(WSDL_PATH.read_bytes())
    assert _schema_shape(generate_spyne_wsdl(version)) == shipped


def test_external_entities_are_refused(inventory: InventoryServer) -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:t="urn:strangler:demo:inventory"><s:Body><t:GetStock><t:sku>&x;</t:sku>'
        b"</t:GetStock></s:Body></s:Envelope>"
    )
    reply = requests.post(
        inventory.url("/soap11"), data=body, headers={"Content-Type": "text/xml"}, timeout=10
    )
    assert reply.status_code == 500 and "Client.DTDNotAllowed" in reply.text
    assert "root:" not in reply.text


def test_bad_advice_inputs_are_client_faults(
    inventory: InventoryServer, inventory_zeep: zeep.Client
) -> None:
    service = _service(inventory_zeep, inventory, "soap11")
    with pytest.raises(zeep.exceptions.Fault) as caught:
        service.GetReorderAdvice("C-1", "SKU-1001", 5, Decimal("1"), -2)
    assert _stock_code(caught.value) == "INVALID_REQUEST"
    body = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="'
        f'{TNS}"><s:Body><t:GetReorderAdvice><t:customerId>C</t:customerId><t:sku>SKU-1001'
        "</t:sku><t:quantityOnHand>1</t:quantityOnHand><t:averageDailySales>NaN"
        "</t:averageDailySales><t:leadTimeDays>3</t:leadTimeDays></t:GetReorderAdvice>"
        "</s:Body></s:Envelope>"
    )
    reply = requests.post(
        inventory.url("/soap11"), data=body, headers={"Content-Type": "text/xml"}, timeout=10
    )
    assert reply.status_code == 500 and "Client.ValidationError" in reply.text


def test_concurrent_adjustments_are_not_lost(
    inventory: InventoryServer, inventory_zeep: zeep.Client
) -> None:
    before = _service(inventory_zeep, inventory, "soap11").GetStock("SKU-1002").quantity
    errors: list[BaseException] = []

    def worker(port: str) -> None:
        try:
            service = _service(zeep.Client(inventory.wsdl_url), inventory, port)
            for _ in range(10):
                service.AdjustStock("SKU-1002", 1, "concurrency")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in sorted(BINDINGS) * 6]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert inventory.ledger.get("SKU-1002").quantity == before + 120


def test_connections_are_kept_alive(inventory: InventoryServer) -> None:
    request = (f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{inventory.port}\r\n\r\n").encode()
    with socket.create_connection((inventory.host, inventory.port), timeout=10) as sock:
        replies = b""
        for sent in range(1, 4):
            sock.sendall(request)
            while replies.count(b"ok\n") < sent:
                replies += sock.recv(4096)
    assert replies.count(b"HTTP/1.1 200") == 3


def test_wildcard_bind_advertises_the_host_header() -> None:
    with start_inventory_server("0.0.0.0") as server:
        wsdl = requests.get(f"http://127.0.0.1:{server.port}/inventory.wsdl", timeout=10)
    assert _addresses(wsdl.content)["InventorySoap12"] == f"http://127.0.0.1:{server.port}/soap12"


def test_credentials_come_in_pairs() -> None:
    with pytest.raises(ValueError, match="both"):
        start_inventory_server(username="only-user")


def test_command_line_runs_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "strangler.demo.inventory", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"http://\S+?:\d+", line)
        assert url is not None, line
        assert requests.get(url.group(0) + "/health", timeout=10).text == "ok\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
