"""What legacy systems really send, through the REST API to real servers on loopback.

A value is never changed on the way out, answers match the OpenAPI document, and a
reply that does not match the WSDL is a 502 ``legacy-protocol`` saying what did not.
"""

from __future__ import annotations

import copy
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from tests.adapters.soap.legacy_servers.plumbing import (
    SOAP11,
    SOAP_ENC,
    XSI,
    Answer,
    LegacyServer,
    Request,
    el,
    is_nil,
    serve,
    typed,
)
from tests.adapters.soap.test_rest_calls import spec_for
from tests.conftest import SpecRunner
from tests.servers import canned_server

QUIRKS = Path(__file__).parent / "data" / "quirks.wsdl"
QNS = "urn:strangler:test:quirks"
INV = "urn:strangler:demo:inventory"
GET_STOCK = "/soap/inventory/GetStock"
PROTOCOL = "urn:strangler:problem:legacy-protocol"

STOCK = (
    "<x:sku>S</x:sku><x:warehouse>W</x:warehouse><x:quantity>1</x:quantity>"
    "<x:reorderPoint>2</x:reorderPoint><x:updatedAt>2017-12-01T00:00:00Z</x:updatedAt>"
)


def envelope(body: str, before: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{before}'
        f'<soap:Envelope xmlns:soap="{SOAP11}" xmlns:x="{INV}"><soap:Body>{body}'
        "</soap:Body></soap:Envelope>"
    ).encode()


GOOD = envelope(
    f"<x:GetStockResponse><x:GetStockResult>{STOCK}</x:GetStockResult></x:GetStockResponse>"
)


def protocol_problem(response: httpx.Response) -> str:
    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["type"] == PROTOCOL, problem
    detail: str = problem["detail"]
    return detail


# -- 1. replies that do not match the WSDL ------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (GOOD.replace(b"GetStockResponse", b"GetPriceResponse"), "GetPriceResponse"),
        (GOOD.replace(f'xmlns:x="{INV}"'.encode(), b'xmlns:x="urn:other"'), "urn:other"),
        (GOOD.replace(b"<x:updatedAt>2017-12-01T00:00:00Z</x:updatedAt>", b""), "updatedAt"),
        (envelope("<x:GetStockResponse/>"), "GetStockResult"),
        (envelope(""), "Body is empty"),
        (envelope("text only"), "Body is empty"),
        (
            GOOD.replace(b"<soap:Envelope", b'<?xml-stylesheet href="s.xsl"?><soap:Envelope'),
            "processing instruction",
        ),
        (GOOD.replace(b"<soap:Body>", b"<soap:Body><?legacy trace?>"), "processing instruction"),
        (GOOD.replace(b"</soap:Body>", b"<x:GetStockResponse/></soap:Body>"), "unexpected"),
        (GOOD.replace(SOAP11.encode(), b"http://www.w3.org/2003/05/soap-envelope"), "Envelope"),
    ],
    ids=[
        "other-name",
        "other-namespace",
        "required-child-missing",
        "result-missing",
        "empty-body",
        "text-body",
        "pi-before-envelope",
        "pi-in-body",
        "second-body-element",
        "other-soap-version",
    ],
)
def test_reply_not_matching_the_wsdl_is_a_502_saying_what(
    api: SpecRunner, body: bytes, says: str
) -> None:
    with canned_server(200, body) as address, api(spec_for(address)) as url:
        response = httpx.post(url + GET_STOCK, json={"sku": "S"})
    assert says in protocol_problem(response)


def test_the_matching_reply_is_answered(api: SpecRunner) -> None:
    with (
        canned_server(200, GOOD, "Text/XML; Charset=UTF-8") as address,
        api(spec_for(address)) as url,
    ):
        response = httpx.post(url + GET_STOCK, json={"sku": "S"})
    assert response.status_code == 200, response.text
    assert response.json()["GetStockResult"]["quantity"] == 1


# -- 6. media types are case-insensitive ------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        'Multipart/Related; type="application/xop+xml"; boundary=b',
        'MULTIPART/related; boundary="x"',
    ],
)
def test_mtom_reply_is_reported_as_mtom_whatever_the_case(
    api: SpecRunner, content_type: str
) -> None:
    mime = b"--b\r\nContent-Type: application/xop+xml\r\n\r\n" + GOOD + b"\r\n--b--\r\n"
    with canned_server(200, mime, content_type) as address, api(spec_for(address)) as url:
        response = httpx.post(url + GET_STOCK, json={"sku": "S"})
    assert "MTOM" in protocol_problem(response)


# -- 7. a reply of millions of tiny elements -------------------------------------------------

HOSTILE_ITEMS = 900_000  # <x:item/> is 9 bytes: 8 MB, under the 10 MiB cap


def test_reply_of_millions_of_elements_is_refused_within_bounded_memory(
    api: SpecRunner,
) -> None:
    body = envelope(
        "<x:ListItemsResponse>" + "<x:item/>" * HOSTILE_ITEMS + "</x:ListItemsResponse>"
    )
    assert len(body) < 10 * 1024 * 1024
    with canned_server(200, body) as address, api(spec_for(address)) as url:
        tracemalloc.start()
        try:
            response = httpx.post(url + "/soap/inventory/ListItems", json={}, timeout=60)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert "elements" in protocol_problem(response)
    # The reply is held twice at most (the chunks read, then joined): 16 MB. Reading it
    # into zeep's objects took hundreds of megabytes.
    assert peak < 48 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


# -- a real server for the quirks WSDL --------------------------------------------------------


def _session_members(request: Request) -> list[etree._Element]:
    """The login reply's struct, members in reverse order (SOAP 5.4.1: by name only)."""
    assert request.operation is not None
    user = request.operation.findtext("user") or ""
    members = [
        typed("id", f"s-{user}", "xsd:string"),
        typed("user", user, "xsd:string"),
        typed("expires", "3600", "xsd:int"),
        el("roles", typed("item", "admin", "xsd:string")),
    ]
    members[3].set(f"{{{XSI}}}type", "SOAP-ENC:Array")
    members[3].set(f"{{{SOAP_ENC}}}arrayType", "xsd:string[1]")
    return list(reversed(members))


def login(request: Request) -> Answer:
    session = el("session", *_session_members(request))
    session.set(f"{{{XSI}}}type", "t:Session")
    return Answer([el(f"{{{QNS}}}loginResponse", session)])


def echo_any(request: Request) -> Answer:
    assert request.operation is not None
    items = request.operation.find("items")
    assert items is not None
    return Answer([el(f"{{{QNS}}}echoAnyResponse", copy.deepcopy(items))])


def when(request: Request) -> Answer:
    assert request.operation is not None
    day, at = (request.operation.findtext(f"{{{QNS}}}{n}") for n in ("day", "at"))
    reply = el(f"{{{QNS}}}WhenResponse", el(f"{{{QNS}}}day", day), el(f"{{{QNS}}}at", at))
    return Answer([reply])


def notify(request: Request) -> Answer:
    return Answer([el(f"{{{QNS}}}Received")])  # answered although the WSDL says one-way


@contextmanager
def quirks(api: SpecRunner) -> Iterator[tuple[httpx.Client, LegacyServer]]:
    handlers = {
        f"{{{QNS}}}login": login,
        f"{{{QNS}}}echoAny": echo_any,
        f"{{{QNS}}}When": when,
        f"{{{QNS}}}Notify": notify,
    }
    with serve(handlers, nsmap={"t": "urn:strangler:test:quirks:types"}) as server:
        spec = f"systems:\n  q:\n    kind: soap\n    wsdl: {QUIRKS}\n    address: {server.url}\n"
        with api(spec) as url, httpx.Client(base_url=url + "/soap/q", timeout=10) as http:
            yield http, server


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


# -- 2. an operation without output, answered anyway ----------------------------------------


def test_one_way_operation_answered_anyway_is_an_empty_answer(api: SpecRunner) -> None:
    with quirks(api) as (http, server):
        assert ok(http.post("/Notify", json={"message": "m"})) == {}
    assert server.requests[-1].operation is not None


# -- 3. rpc/encoded: omitted accessors, struct members by name -------------------------------


def test_encoded_parts_may_be_left_out_or_null(api: SpecRunner) -> None:
    with quirks(api) as (http, server):
        answer = ok(http.post("/login", json={"user": "ann", "password": "pw", "locale": None}))
    sent = server.requests[-1].operation
    assert sent is not None
    assert [etree.QName(c).localname for c in sent] == ["user", "password", "locale"]
    locale = sent.find("locale")
    assert locale is not None and is_nil(locale)
    # Members came back in reverse order; read by name.
    assert answer == {
        "session": {"id": "s-ann", "user": "ann", "expires": 3600, "roles": ["admin"]}
    }


def test_encoded_parts_are_optional_and_nullable_in_the_openapi_document(
    api: SpecRunner,
) -> None:
    spec = f"systems:\n  q:\n    kind: soap\n    wsdl: {QUIRKS}\n"
    with api(spec) as url:
        schemas = httpx.get(url + "/openapi.json").json()["components"]["schemas"]
    request = schemas["LoginRequest"]
    assert not request.get("required")
    assert {"type": "null"} in request["properties"]["version"]["anyOf"]


# -- 4. dates and times keep their zone ---------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "at"),
    [
        ("2017-12-01-05:00", "10:00:00Z"),
        ("2017-12-01Z", "23:59:59.1234567+05:30"),
        ("2017-12-01", "10:00:00"),
    ],
)
def test_dates_and_times_travel_as_written(api: SpecRunner, day: str, at: str) -> None:
    with quirks(api) as (http, server):
        assert ok(http.post("/When", json={"day": day, "at": at})) == {"day": day, "at": at}
    sent = server.requests[-1].operation
    assert sent is not None
    assert [c.text for c in sent] == [day, at]


# -- 5. free-form array items from JSON ------------------------------------------------------------


def test_free_form_array_items_are_sent_with_their_types(api: SpecRunner) -> None:
    items = ["a", 7, True, 2.5, None]
    with quirks(api) as (http, server):
        answer = ok(http.post("/echoAny", json={"items": [*items, {"k": "v"}]}))
    sent = server.requests[-1].operation
    assert sent is not None
    array = sent.find("items")
    assert array is not None
    types = [c.get(f"{{{XSI}}}type") for c in array]
    assert types[:4] == ["xsd:string", "xsd:long", "xsd:boolean", "xsd:double"]
    assert [c.text for c in array][:4] == ["a", "7", "true", "2.5"]
    assert is_nil(array[4])
    assert array[5].findtext("k") == "v"
    assert answer["items"][:4] == items[:4]
