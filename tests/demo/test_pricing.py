"""The demo legacy XML-RPC pricing service, called over real HTTP by ``xmlrpc.client``."""

from __future__ import annotations

import gzip
import http.client
import re
import signal
import socket
import subprocess
import sys
import threading
import xmlrpc.client
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from strangler.demo.inventory.data import CATALOGUE
from strangler.demo.pricing import (
    MAX_REQUEST_BYTES,
    METHOD_NOT_FOUND,
    PricingServer,
    start_pricing_server,
)

NOW = datetime(2024, 2, 10, 9, 30)
PRICING_METHODS = {
    "pricing.quote": [["struct", "string", "int", "string"]],
    "pricing.list_price": [["double", "string"]],
    "pricing.price_list": [["array", "string"], ["array"]],
    "pricing.valid_until": [["dateTime.iso8601"]],
    "pricing.ping": [["boolean"]],
}


@pytest.fixture(scope="module")
def pricing() -> Iterator[PricingServer]:
    """A pricing server whose clock stands still at :data:`NOW`."""
    with start_pricing_server(clock=lambda: NOW) as server:
        yield server


@pytest.fixture
def proxy(pricing: PricingServer) -> Iterator[Any]:
    with xmlrpc.client.ServerProxy(pricing.url, allow_none=True) as client:
        yield client


def _fault(call: Any, *args: Any) -> xmlrpc.client.Fault:
    with pytest.raises(xmlrpc.client.Fault) as caught:
        call(*args)
    return caught.value


def _post(server: PricingServer, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("POST", "/RPC2", body=body, headers={"Content-Type": "text/xml", **headers})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_url_ends_in_rpc2(pricing: PricingServer) -> None:
    assert pricing.url == f"http://127.0.0.1:{pricing.port}/RPC2"
    assert repr(pricing) == f"PricingServer({pricing.url})"


@pytest.mark.parametrize(
    ("quantity", "customer_no", "discount", "total"),
    [
        (2, "C10001", 0.0, 37.80),
        (2, "W10002  ", 8.0, 34.78),  # an ERP CHAR(8) value, padding and all
        (2, "k10003", 15.0, 32.13),
        (24, "C10001", 2.0, 444.53),
        (100, "K10003", 20.0, 1512.00),
        (1, None, 0.0, 18.90),
        (1, "", 0.0, 18.90),
    ],
)
def test_quote_applies_tier_and_volume_discounts(
    proxy: Any, quantity: int, customer_no: str | None, discount: float, total: float
) -> None:
    quote = proxy.pricing.quote("SKU-1001", quantity, customer_no)
    assert quote == {
        "sku": "SKU-1001",
        "quantity": quantity,
        "unit_price": 18.90,
        "discount_pct": discount,
        "total": total,
        "currency": "EUR",
    }


def test_quote_accepts_a_padded_lower_case_sku(proxy: Any) -> None:
    assert proxy.pricing.quote("sku-4003    ", 1, "C10001")["sku"] == "SKU-4003"


def test_list_price_is_the_catalogue_price_as_a_double(proxy: Any) -> None:
    for item in CATALOGUE:
        price = proxy.pricing.list_price(item.sku)
        assert isinstance(price, float) and price == float(item.unit_price)


def test_price_list_by_category(proxy: Any) -> None:
    apparel = proxy.pricing.price_list("Apparel")
    assert [entry["sku"] for entry in apparel] == ["SKU-2001", "SKU-2002", "SKU-2003"]
    assert apparel[1] == {
        "sku": "SKU-2002",
        "name": "Rain jacket L",
        "category": "apparel",
        "unit_price": 59.0,
        "currency": "EUR",
        "status": "ACTIVE",
    }
    assert len(proxy.pricing.price_list()) == len(CATALOGUE)
    assert len(proxy.pricing.price_list("")) == len(CATALOGUE)
    assert proxy.pricing.price_list("toys") == []


def test_valid_until_is_a_datetime_at_the_end_of_the_month(pricing: PricingServer) -> None:
    with xmlrpc.client.ServerProxy(pricing.url, use_builtin_types=True) as client:
        assert client.pricing.valid_until() == datetime(2024, 2, 29, 23, 59, 59)
    body = xmlrpc.client.dumps((), "pricing.valid_until").encode()
    status, answer = _post(pricing, body, {})
    assert status == 200
    assert b"<dateTime.iso8601>20240229T23:59:59</dateTime.iso8601>" in answer


def test_ping(proxy: Any) -> None:
    assert proxy.pricing.ping() is True


def test_introspection(proxy: Any) -> None:
    methods = set(proxy.system.listMethods())
    assert set(PRICING_METHODS) <= methods
    assert {"system.listMethods", "system.methodSignature", "system.methodHelp"} <= methods
    for name, signature in PRICING_METHODS.items():
        assert proxy.system.methodSignature(name) == signature
        assert proxy.system.methodHelp(name).strip()
    assert proxy.system.methodSignature("system.methodSignature") == [["array", "string"]]
    assert "QUANTITY" in proxy.system.methodHelp("pricing.quote")
    fault = _fault(proxy.system.methodSignature, "pricing.nope")
    assert fault.faultCode == METHOD_NOT_FOUND


@pytest.mark.parametrize(
    ("method", "args", "code", "message"),
    [
        ("quote", ("SKU-9999", 1, "C10001"), 404, "unknown sku 'SKU-9999'"),
        ("list_price", ("SKU-9999",), 404, "unknown sku"),
        ("quote", ("SKU-1001", 0, "C10001"), 400, "quantity must be positive"),
        ("quote", ("SKU-1001", -3, "C10001"), 400, "quantity must be positive"),
        ("quote", ("SKU-1001", "3", "C10001"), 400, "quantity must be an int"),
        ("quote", ("SKU-1001", True, "C10001"), 400, "quantity must be an int"),
        ("quote", ("", 1, "C10001"), 400, "sku must be a non-empty string"),
        ("quote", ("SKU-1001", 1), 400, "bad arguments for pricing.quote"),
        ("price_list", (7,), 400, "category must be a string"),
        ("quote", ("ERR-BACKEND", 1, "C10001"), 500, "unavailable"),
        ("list_price", ("ERR-BACKEND",), 500, "unavailable"),
    ],
)
def test_faults(proxy: Any, method: str, args: tuple[Any, ...], code: int, message: str) -> None:
    fault = _fault(getattr(proxy.pricing, method), *args)
    assert fault.faultCode == code
    assert message in fault.faultString


def test_unknown_method_faults(proxy: Any) -> None:
    fault = _fault(proxy.pricing.discount)
    assert fault.faultCode == METHOD_NOT_FOUND
    assert "pricing.discount" in fault.faultString


def test_multicall_reports_faults_per_call(proxy: Any) -> None:
    multi = xmlrpc.client.MultiCall(proxy)
    multi.pricing.ping()
    multi.pricing.list_price("SKU-3001")
    multi.pricing.list_price("SKU-0000")
    results = multi()
    assert results[0] is True and results[1] == 4.25
    with pytest.raises(xmlrpc.client.Fault) as caught:
        results[2]
    assert caught.value.faultCode == 404


def test_concurrent_clients_get_their_own_answers(pricing: PricingServer) -> None:
    errors: list[BaseException] = []

    def work(item_index: int) -> None:
        item = CATALOGUE[item_index % len(CATALOGUE)]
        try:
            with xmlrpc.client.ServerProxy(pricing.url) as client:
                for quantity in range(1, 26):
                    quote = client.pricing.quote(item.sku, quantity, "C10001")
                    assert quote["sku"] == item.sku and quote["quantity"] == quantity
                    assert quote["unit_price"] == float(item.unit_price)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert not any(thread.is_alive() for thread in threads)


def test_bodies_over_one_mib_are_refused(pricing: PricingServer, proxy: Any) -> None:
    huge = "x" * (MAX_REQUEST_BYTES + 1)
    with pytest.raises(xmlrpc.client.ProtocolError) as caught:
        proxy.pricing.list_price(huge)
    assert caught.value.errcode == 413
    bomb = gzip.compress(xmlrpc.client.dumps((huge,), "pricing.list_price").encode())
    assert len(bomb) < MAX_REQUEST_BYTES
    status, _ = _post(pricing, bomb, {"Content-Encoding": "gzip"})
    assert status == 413
    assert proxy.pricing.ping() is True  # still serving


def test_small_gzip_bodies_are_accepted(pricing: PricingServer) -> None:
    body = gzip.compress(xmlrpc.client.dumps(("SKU-1002",), "pricing.list_price").encode())
    status, answer = _post(pricing, body, {"Content-Encoding": "gzip"})
    assert status == 200
    assert xmlrpc.client.loads(answer)[0] == (2.15,)


def test_a_body_without_length_is_refused(pricing: PricingServer) -> None:
    with socket.create_connection((pricing.host, pricing.port), timeout=10) as sock:
        sock.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 411")


def test_other_paths_are_not_found(pricing: PricingServer) -> None:
    body = xmlrpc.client.dumps((), "pricing.ping").encode()
    conn = http.client.HTTPConnection(pricing.host, pricing.port, timeout=10)
    try:
        conn.request("POST", "/soap", body=body)
        assert conn.getresponse().status == 404
    finally:
        conn.close()


def test_module_runs_in_the_foreground_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "strangler.demo.pricing", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/RPC2)$", line.strip())
        assert found, line
        with xmlrpc.client.ServerProxy(found.group(1)) as client:
            assert client.pricing.ping() is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert proc.stderr is not None and proc.stderr.read() == ""  # quiet: no request log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
