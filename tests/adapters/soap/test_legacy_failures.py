"""SOAP replies that are hostile or broken in SOAP's own ways.

What every HTTP-based kind shares (down, reset, slow, bare 5xx, DTDs, too big,
retries, the breaker) is the contract suite: ``tests/adapters/test_legacy_contract.py``.
"""

from __future__ import annotations

import httpx
import pytest

from tests.adapters.soap.test_rest_calls import spec_for
from tests.conftest import SpecRunner
from tests.servers import canned_server

ADJUST = "/soap/inventory/AdjustStock"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;
</soap:Body></soap:Envelope>"""


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, BILLION_LAUGHS, "text/xml"),
        (200, b"<soap:Envelope><unclosed>", "text/xml"),
        (200, b"not xml at all", "text/html"),
        (404, b"<html>gone</html>", "text/html"),
        (200, b"<a>" * 5000 + b"</a>" * 5000, "text/xml"),
    ],
    ids=[
        "entity-expansion",
        "malformed",
        "not-xml",
        "404-html",
        "too-deep",
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
