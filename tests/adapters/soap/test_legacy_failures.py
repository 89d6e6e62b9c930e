"""A legacy system that is down, slow, flaky or hostile: precise errors, nothing piles up."""

from __future__ import annotations

import time

import httpx
import pytest

from strangler.demo.inventory import start_inventory_server
from tests.adapters.soap.test_rest_calls import spec_for
from tests.conftest import SpecRunner
from tests.servers import ClosingServer, canned_server, free_port, silent_server, unused_address

GET_STOCK = "/soap/inventory/GetStock"
ADJUST = "/soap/inventory/AdjustStock"


def test_connection_refused_is_a_502(api: SpecRunner) -> None:
    with api(spec_for(unused_address())) as url:
        response = httpx.post(url + GET_STOCK, json={"sku": "SKU-1001"})
    assert response.status_code == 502
    problem = response.json()
    assert problem["type"] == "urn:strangler:problem:legacy-unavailable"
    assert problem["system"] == "inventory"


def test_timeout_is_a_504(api: SpecRunner) -> None:
    with (
        silent_server() as address,
        api(
            spec_for(address, "    retry: {attempts: 1}\n").replace(
                "timeout_s: 5", "timeout_s: 0.3"
            )
        ) as url,
    ):
        started = time.monotonic()
        response = httpx.post(url + ADJUST, json={"sku": "SKU-1", "delta": 1, "reason": "r"})
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["type"] == "urn:strangler:problem:legacy-timeout"
    assert elapsed < 5  # the legacy timeout, not the client's, ended the call


def _retry_spec(address: str) -> str:
    return spec_for(
        address,
        "    retry: {attempts: 3, wait_initial_s: 0.01, wait_max_s: 0.02}\n"
        "    breaker: {failures: 100, reset_s: 30}\n",
    )


def test_safe_operation_retried_unsafe_not(api: SpecRunner) -> None:
    with ClosingServer() as flaky, api(_retry_spec(flaky.url)) as url:
        response = httpx.post(url + GET_STOCK, json={"sku": "SKU-1001"})
        assert response.status_code == 502
        safe_attempts = flaky.connections
        response = httpx.post(url + ADJUST, json={"sku": "SKU-1001", "delta": 1, "reason": "r"})
        assert response.status_code == 502
        unsafe_attempts = flaky.connections - safe_attempts
    assert safe_attempts == 3
    assert unsafe_attempts == 1  # a write is never sent twice


def test_circuit_breaker_fails_fast_then_probes_and_recovers(api: SpecRunner) -> None:
    port = free_port()
    spec = spec_for(
        f"http://127.0.0.1:{port}",
        "    retry: {attempts: 1}\n    breaker: {failures: 2, reset_s: 1}\n",
    )
    with api(spec) as url, httpx.Client(base_url=url) as client:
        for _ in range(2):
            assert client.post(GET_STOCK, json={"sku": "SKU-1001"}).status_code == 502
        opened = client.post(GET_STOCK, json={"sku": "SKU-1001"})
        assert opened.status_code == 503
        assert opened.json()["type"] == "urn:strangler:problem:circuit-open"
        assert int(opened.headers["retry-after"]) >= 1
        # The legacy system comes back on the same port; after reset_s one probe goes through.
        with start_inventory_server(port=port):
            assert client.post(GET_STOCK, json={"sku": "SKU-1001"}).status_code == 503
            time.sleep(1.2)
            recovered = client.post(GET_STOCK, json={"sku": "SKU-1001"})
            assert recovered.status_code == 200, recovered.text
            assert client.post(GET_STOCK, json={"sku": "SKU-1001"}).status_code == 200
            health = client.get("/readyz").json()
            assert health["systems"]["inventory"]["breakers"]["InventorySoap11"] == "closed"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;
</soap:Body></soap:Envelope>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&x;
</soap:Body></soap:Envelope>"""


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, BILLION_LAUGHS, "text/xml"),
        (200, EXTERNAL_ENTITY, "text/xml"),
        (200, b"<soap:Envelope><unclosed>", "text/xml"),
        (200, b"not xml at all", "text/html"),
        (404, b"<html>gone</html>", "text/html"),
        (401, b"denied", "text/plain"),
        (200, b"<a>" * 5000 + b"</a>" * 5000, "text/xml"),
        (200, b"<a>" + b"x" * (2 * 1024 * 1024) + b"</a>", "text/xml"),
    ],
    ids=[
        "entity-expansion",
        "external-entity",
        "malformed",
        "not-xml",
        "404-html",
        "401",
        "too-deep",
        "too-large",
    ],
)
def test_hostile_or_broken_replies_are_a_502(
    api: SpecRunner, status: int, body: bytes, content_type: str
) -> None:
    spec = spec_for(address="{address}", extra="    max_response_bytes: 1048576\n")
    with (
        canned_server(status, body, content_type) as address,
        api(spec.replace("{address}", address)) as url,
    ):
        response = httpx.post(url + ADJUST, json={"sku": "SKU-1", "delta": 1, "reason": "r"})
    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["type"] == "urn:strangler:problem:legacy-protocol"
    assert "root:" not in response.text  # nothing of the local file leaked


def test_reply_that_does_not_fit_the_wsdl_is_a_502(api: SpecRunner) -> None:
    body = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<x:GetStockResponse xmlns:x="urn:strangler:demo:inventory"><x:GetStockResult>'
        b"<x:quantity>lots</x:quantity></x:GetStockResult></x:GetStockResponse>"
        b"</soap:Body></soap:Envelope>"
    )
    with canned_server(200, body) as address, api(spec_for(address)) as url:
        response = httpx.post(url + ADJUST, json={"sku": "SKU-1", "delta": 1, "reason": "r"})
    assert response.status_code == 502, response.text
