"""Values the wire cannot carry, both ways: refused before sending (422, naming the
field), or, in an answer, a protocol error rather than a changed or undocumented value."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from strangler.adapters.rpc.xmlrpc_codec import encode_call
from tests.adapters.rpc.conftest import jsonrpc_adapter, serve, xmlrpc_adapter
from tests.adapters.rpc.jsonrpc_server import LegacyJsonRpcServer
from tests.adapters.rpc.xmlrpc_server import LegacyXmlRpcServer
from tests.servers import canned_server

INVALID = "urn:strangler:problem:invalid-input"
PROTOCOL = "urn:strangler:problem:legacy-protocol"


def _post(http: httpx.Client, path: str, body: Any) -> httpx.Response:
    """POST ``body`` as ASCII JSON (``\\ud800`` escaped, as a fuzzer sends it)."""
    content = json.dumps(body).encode()
    return http.post(path, content=content, headers={"content-type": "application/json"})


def _refused(response: httpx.Response, path: str, words: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == INVALID
    assert any(e["path"] == path and words in e["message"] for e in problem["errors"]), problem


XML_BAD = ["\ud800", "a\x00b", "\x1f", "\ufffe"]


@pytest.mark.parametrize("text", XML_BAD, ids=["surrogate", "nul", "unit-sep", "fffe"])
def test_xmlrpc_text_xml_cannot_hold_is_a_422_naming_the_field(
    xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path, text: str
) -> None:
    declared = {"pricing.quote": {"params": {"sku": "string", "qty": "int"}, "safe": True}}
    sent = sum(xmlrpc_legacy.calls.values())
    with serve(xmlrpc_adapter(xmlrpc_legacy.url, tmp_path, methods=declared)) as http:
        flat = _post(http, "/xmlrpc/pricing/pricing.quote", {"sku": text, "qty": 1})
        nested = _post(
            http, "/xmlrpc/pricing/untyped.echo", {"params": ["ok", {"tags": ["x", text]}]}
        )
        key = _post(http, "/xmlrpc/pricing/untyped.echo", {"params": [{text: 1}]})
        typed = _post(http, "/xmlrpc/pricing/catalog.item", {"params": [{"a": text}]})
    _refused(flat, "sku", "XML-RPC")
    _refused(nested, "params/1", "tags/1")
    _refused(key, "params/0", "the name")
    assert typed.status_code == 422  # catalog.item takes an int: refused by type first
    assert sum(xmlrpc_legacy.calls.values()) == sent  # nothing reached the legacy system


def test_xmlrpc_tab_newline_and_return_still_go_through(
    xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path
) -> None:
    with serve(xmlrpc_adapter(xmlrpc_legacy.url, tmp_path)) as http:
        response = _post(http, "/xmlrpc/pricing/untyped.echo", {"params": ["a\tb\nc\rd €"]})
    assert response.status_code == 200
    # the stdlib legacy answers CR raw, so it comes back as LF; we send it escaped
    assert response.json() == {"result": ["a\tb\nc\nd €"]}
    assert b"c&#13;d" in encode_call("m", ["c\rd"])


def test_jsonrpc_lone_surrogate_is_a_422_naming_the_field(
    jsonrpc_legacy: LegacyJsonRpcServer,
) -> None:
    sent = sum(jsonrpc_legacy.calls.values())
    with serve(jsonrpc_adapter(jsonrpc_legacy.url)) as http:
        flat = _post(http, "/jsonrpc/shop/pricing.quote", {"sku": "\ud800", "qty": 1})
        nested = _post(http, "/jsonrpc/shop/echo", {"params": {"a": [{"b": "x\udfff"}]}})
        control = _post(http, "/jsonrpc/shop/echo", {"params": ["a\x00b"]})
    _refused(flat, "sku", "UTF-8")
    assert nested.status_code == 422
    errors = nested.json()["errors"]  # one per union member tried: list, then object
    assert any(
        e["path"].startswith("params/") and e["path"].endswith("/a") and "0/b" in e["message"]
        for e in errors
    )
    assert control.status_code == 200  # JSON carries control characters escaped
    assert control.json()["result"]["args"] == ["a\x00b"]
    assert sum(jsonrpc_legacy.calls.values()) == sent + 1


@pytest.mark.parametrize("kind", ["xmlrpc", "jsonrpc"])
def test_numbers_that_are_not_finite_are_a_422(
    xmlrpc_legacy: LegacyXmlRpcServer,
    jsonrpc_legacy: LegacyJsonRpcServer,
    tmp_path: Path,
    kind: str,
) -> None:
    adapter: Any = (
        xmlrpc_adapter(xmlrpc_legacy.url, tmp_path)
        if kind == "xmlrpc"
        else jsonrpc_adapter(jsonrpc_legacy.url)
    )
    path = "untyped.echo" if kind == "xmlrpc" else "echo"
    system = "pricing" if kind == "xmlrpc" else "shop"
    with serve(adapter) as http:
        response = http.post(
            f"/{kind}/{system}/{path}",
            content=b'{"params": [1.5, NaN]}',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422, response.text  # JSON-RPC would send null: changed


def test_xmlrpc_datetime_is_documented_as_local_and_kept(
    xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path
) -> None:
    with serve(xmlrpc_adapter(xmlrpc_legacy.url, tmp_path)) as http:
        local = _post(http, "/xmlrpc/pricing/echo.nextDay", {"params": ["2024-05-01T13:30:00"]})
        aware = _post(
            http, "/xmlrpc/pricing/echo.nextDay", {"params": ["2024-05-01T13:30:00+02:00"]}
        )
        fraction = _post(
            http, "/xmlrpc/pricing/echo.nextDay", {"params": ["2024-05-01T13:30:00.5"]}
        )
        document = http.get("/openapi.json").json()
    assert local.json() == {"result": "2024-05-02T13:30:00"}
    assert aware.json() == {"result": "2024-05-02T11:30:00"}  # sent in UTC
    assert fraction.status_code == 422  # XML-RPC would drop the half second
    schemas = document["components"]["schemas"]
    answer = schemas["EchoNextDayResult"]["properties"]["result"]
    assert "format" not in answer  # RFC 3339's date-time needs an offset
    assert re.fullmatch(answer["pattern"], local.json()["result"])
    assert re.fullmatch(answer["pattern"], aware.json()["result"])


def _answer(value: str) -> bytes:
    return (
        "<?xml version='1.0'?><methodResponse><params><param>"
        f"<value>{value}</value></param></params></methodResponse>"
    ).encode()


@pytest.mark.parametrize(
    ("wire", "result", "status", "value"),
    [
        ("<int>5000000000</int>", "int", 502, None),
        ("<i4>-2147483649</i4>", "i4", 502, None),
        ("<int>2147483647</int>", "int", 200, 2147483647),
        ("<i8>5000000000</i8>", "i8", 200, 5000000000),
        ("<int>5000000000</int>", "any", 200, 5000000000),
        ("<double>nan</double>", "double", 502, None),
        ("<array><data><value><double>inf</double></value></data></array>", "any", 502, None),
        ("<string>5</string>", "int", 502, None),
    ],
    ids=["int", "i4", "int-max", "i8", "undeclared", "nan", "nested-inf", "text-for-int"],
)
def test_xmlrpc_answers_outside_the_documented_type_are_a_502(
    tmp_path: Path, wire: str, result: str, status: int, value: Any
) -> None:
    spec = {"introspect": False, "methods": {"count": {"params": {}, "result": result}}}
    with (
        canned_server(200, _answer(wire)) as url,
        serve(xmlrpc_adapter(url, tmp_path, **spec)) as http,
    ):
        response = _post(http, "/xmlrpc/pricing/count", {})
        document = http.get("/openapi.json").json()
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == {"result": value}  # unchanged
        documented = document["components"]["schemas"]["CountResult"]["properties"]
        schema = documented["result"]
        assert schema.get("minimum", -(2**63)) <= value <= schema.get("maximum", 2**63)
    else:
        assert response.json()["type"] == PROTOCOL
        assert "documented schema" in response.json()["detail"]


def test_xmlrpc_i8_parameters_are_sent_as_i8(
    xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path
) -> None:
    assert b"<i8>1099511627776</i8>" in encode_call("m", [2**40, 1])
    methods = {"untyped.echo": {"params": {"big": "i8", "small": "int"}}}
    with serve(xmlrpc_adapter(xmlrpc_legacy.url, tmp_path, methods=methods)) as http:
        big = _post(http, "/xmlrpc/pricing/untyped.echo", {"big": 2**40, "small": 1})
        small = _post(http, "/xmlrpc/pricing/untyped.echo", {"big": 1, "small": 2**40})
    # sent, and read by the legacy system: the stdlib then cannot answer it (a fault)
    assert big.json()["type"] == "urn:strangler:problem:legacy-fault"
    assert "OverflowError" in big.json()["faultstring"]
    _refused(small, "small", "less than or equal")


def test_xmlrpc_untyped_integers_beyond_32_bits_are_a_422(
    xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path
) -> None:
    with serve(xmlrpc_adapter(xmlrpc_legacy.url, tmp_path)) as http:
        response = _post(http, "/xmlrpc/pricing/untyped.echo", {"params": [1, {"n": 2**40}]})
    _refused(response, "params/1", "i8")


def test_jsonrpc_answer_outside_the_declared_type_is_a_502() -> None:
    answer = b'{"jsonrpc": "2.0", "id": 1, "result": {"total": "12.50"}}'
    with (
        canned_server(200, answer, "application/json") as url,
        serve(jsonrpc_adapter(url)) as http,
    ):
        response = _post(http, "/jsonrpc/shop/pricing.quote", {"sku": "SKU-1", "qty": 1})
    assert response.status_code == 502
    assert response.json()["type"] == PROTOCOL
    assert "result/total" in response.json()["detail"]
