"""The XML-RPC adapter over real HTTP: REST in front of the stdlib's XML-RPC server."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from strangler.errors import SystemLoadError
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.adapters.rpc.conftest import serve, xmlrpc_adapter
from tests.adapters.rpc.xmlrpc_server import LegacyXmlRpcServer, start_xmlrpc_server
from tests.servers import run_app, unused_address

BASE = "/xmlrpc/pricing"


@pytest.fixture
def client(xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path) -> Iterator[httpx.Client]:
    with serve(xmlrpc_adapter(xmlrpc_legacy.url, tmp_path)) as http:
        yield http


def call(client: httpx.Client, method: str, body: Any) -> httpx.Response:
    return client.post(f"{BASE}/{method}", json=body)


def test_typed_positional_call(client: httpx.Client) -> None:
    response = call(client, "pricing.quote", {"params": ["SKU-1", 3]})
    assert response.status_code == 200, response.text
    assert response.json() == {"result": 29.97}


def test_each_signature_of_an_overloaded_method(client: httpx.Client) -> None:
    assert call(client, "math.add", {"params": [1, 2]}).json() == {"result": 3}
    assert call(client, "math.add", {"params": [1.5, 2.25]}).json() == {"result": 3.75}


@pytest.mark.parametrize(
    "params",
    [["SKU-1"], ["SKU-1", "three"], ["SKU-1", 2**31], ["SKU-1", 3, 4]],
    ids=["too-few", "wrong-type", "beyond-int32", "too-many"],
)
def test_params_that_fit_no_signature_are_a_422(client: httpx.Client, params: list[Any]) -> None:
    response = call(client, "pricing.quote", {"params": params})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_datetime_travels_as_iso8601(client: httpx.Client) -> None:
    naive = call(client, "echo.nextDay", {"params": ["2024-02-28T10:00:00"]})
    assert naive.json() == {"result": "2024-02-29T10:00:00"}
    aware = call(client, "echo.nextDay", {"params": ["2024-02-28T23:30:00+02:00"]})
    assert aware.json() == {"result": "2024-02-29T21:30:00"}  # sent in UTC


def test_base64_travels_as_base64_text(client: httpx.Client) -> None:
    data = base64.b64encode(b"\x00hello\xff").decode()
    response = call(client, "echo.reverse", {"params": [data]})
    assert base64.b64decode(response.json()["result"]) == b"\xffolleh\x00"
    assert call(client, "echo.reverse", {"params": ["not base64!"]}).status_code == 422


def test_struct_array_and_nil_results(client: httpx.Client) -> None:
    item = call(client, "catalog.item", {"params": [7]}).json()["result"]
    assert item == {
        "id": 7,
        "name": "Item 7",
        "price": 12.5,
        "active": True,
        "tags": ["a", "b"],
        "created": "2020-01-02T03:04:05",
        "blob": base64.b64encode(b"\x00\x01").decode(),
    }
    assert call(client, "catalog.skus", {}).json() == {"result": ["SKU-1", "SKU-2", "SKU-3"]}
    assert call(client, "maybe.nothing", None).json() == {"result": None}


def test_untyped_method_takes_any_params(client: httpx.Client) -> None:
    body = {"params": [1, "a", [True, None], {"k": 1.5}]}
    assert call(client, "untyped.echo", body).json() == {"result": body["params"]}


def test_openapi_is_valid_and_typed_from_signatures(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    validate(document)
    paths = document["paths"]
    assert not any(path.startswith(f"{BASE}/system.") for path in paths)
    schemas = document["components"]["schemas"]
    quote = schemas["QuoteParams"]["properties"]["params"]
    assert [p["type"] for p in quote["prefixItems"]] == ["string", "integer"]
    assert quote["minItems"] == quote["maxItems"] == 2
    add = schemas["MathAddParams"]["properties"]["params"]["anyOf"]
    assert [[p["type"] for p in s["prefixItems"]] for s in add] == [
        ["integer", "integer"],
        ["number", "number"],
    ]
    day = schemas["EchoNextDayParams"]["properties"]["params"]["prefixItems"][0]
    assert day["type"] == "string" and "format" not in day  # no offset: not RFC 3339
    assert re.fullmatch(day["pattern"], "2024-05-01T13:30:00")
    assert re.fullmatch(day["pattern"], "2024-05-01T13:30:00+02:00")  # sent in UTC
    next_day = schemas["EchoNextDayResult"]["properties"]["result"]
    assert "format" not in next_day and re.fullmatch(next_day["pattern"], "2024-05-01T13:30:00")
    assert not re.fullmatch(next_day["pattern"], "2024-05-01T13:30:00Z")
    blob = schemas["EchoReverseParams"]["properties"]["params"]["prefixItems"][0]
    assert blob["format"] == "base64"
    assert schemas["QuoteResult"]["properties"]["result"]["type"] == "number"
    untyped = paths[f"{BASE}/untyped.echo"]["post"]
    assert untyped["description"] == "Answer the parameters as they came."  # methodHelp


def test_spec_overrides_and_extends_introspection(
    xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path
) -> None:
    methods = {
        "pricing.quote": {
            "params": {"sku": {"type": "string", "pattern": "^SKU-(?!0)"}, "qty": {"type": "int"}},
            "safe": True,
            "description": "Price of qty items.",
        },
        "catalog.count": {"params": {}, "result": "int"},  # not on the server
    }
    adapter = xmlrpc_adapter(xmlrpc_legacy.url, tmp_path, methods=methods)
    with serve(adapter) as http:
        named = http.post(f"{BASE}/pricing.quote", json={"qty": 2, "sku": "SKU-9"})
        assert named.json() == {"result": 19.98}
        for sku in ("X", "SKU-0"):  # look-ahead: patterns are Python regular expressions
            refused = http.post(f"{BASE}/pricing.quote", json={"sku": sku, "qty": 2})
            assert refused.status_code == 422
        document = http.get("/openapi.json").json()
    validate(document)
    quote = document["paths"][f"{BASE}/pricing.quote"]["post"]
    assert quote["description"] == "Price of qty items."
    params = document["components"]["schemas"]["QuoteParams"]
    assert list(params["properties"]) == ["sku", "qty"]
    assert params["properties"]["sku"]["pattern"] == "^SKU-(?!0)"
    assert f"{BASE}/catalog.count" in document["paths"]
    assert next(op for op in adapter.operations() if op.name == "pricing.quote").safe


def test_server_without_introspection_uses_the_spec(tmp_path: Path) -> None:
    methods = {
        "pricing.quote": {"params": {"sku": "string", "qty": "i4"}, "result": "double"},
        "catalog.item": {"params": {"id": "int"}, "result": "struct"},
    }
    with start_xmlrpc_server(introspection=False) as legacy:
        adapter = xmlrpc_adapter(legacy.url, tmp_path, methods=methods)
        assert not adapter.introspected
        with serve(adapter) as http:
            quote = http.post(f"{BASE}/pricing.quote", json={"sku": "SKU-1", "qty": 1})
            assert quote.json() == {"result": 9.99}
            item = http.post(f"{BASE}/catalog.item", json={"id": 3}).json()["result"]
            assert item["name"] == "Item 3"
            document = http.get("/openapi.json").json()
            assert http.get("/readyz").json()["components"]["pricing"]["introspected"] is False
    validate(document)
    assert sorted(p for p in document["paths"] if p.startswith(BASE)) == [
        f"{BASE}/catalog.item",
        f"{BASE}/pricing.quote",
    ]
    schemas = document["components"]["schemas"]
    assert schemas["QuoteParams"]["properties"]["qty"]["type"] == "integer"
    assert schemas["QuoteResult"]["properties"]["result"]["type"] == "number"


def test_introspection_without_multicall(tmp_path: Path) -> None:
    with start_xmlrpc_server(multicall=False) as legacy:
        adapter = xmlrpc_adapter(legacy.url, tmp_path)
    quote = next(op for op in adapter.operations() if op.name == "pricing.quote")
    assert quote.input_model.model_json_schema()["properties"]["params"]["minItems"] == 2


def test_introspection_is_cached_for_a_restart_while_the_system_is_down(tmp_path: Path) -> None:
    with start_xmlrpc_server() as legacy:
        url = legacy.url
        first = [op.name for op in xmlrpc_adapter(url, tmp_path).operations()]
    again = xmlrpc_adapter(url, tmp_path)  # the server is gone now
    assert [op.name for op in again.operations()] == first
    assert again.introspected


def test_nothing_to_serve_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(SystemLoadError):
        xmlrpc_adapter(unused_address(), tmp_path, introspect_timeout_s=0.5)


def test_spec_file_kind_xmlrpc_builds_the_adapter(
    xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path
) -> None:
    text = (
        "systems:\n"
        "  pricing:\n"
        "    kind: xmlrpc\n"
        f"    url: {xmlrpc_legacy.url}\n"
        "    methods:\n"
        "      pricing.quote: {safe: true}\n"
    )
    spec = parse_spec(text, filename="test.yaml", base_dir=tmp_path, env={})
    with run_app(create_app(spec, cache_dir=tmp_path)) as url:
        response = httpx.post(url + f"{BASE}/pricing.quote", json={"params": ["SKU-1", 1]})
    assert response.json() == {"result": 9.99}
