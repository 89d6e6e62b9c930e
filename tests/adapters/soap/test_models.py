"""XSD → pydantic → OpenAPI, on a WSDL that uses every feature the mapping handles.

The generated request model must accept exactly what the XSD accepts, and the
envelope zeep builds from a validated request must be valid against the XSD.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree
from pydantic import BaseModel, ValidationError

from strangler.adapters.soap.adapter import SoapAdapter
from strangler.adapters.soap.exchange import build_request
from strangler.adapters.soap.openapi import wsdl_to_openapi
from strangler.spec.soap import SoapSystem

FEATURES = Path(__file__).parent / "data" / "features.wsdl"
VALID: dict[str, Any] = {
    "code": "ABC-12",
    "colour": "RED",
    "customer": {"id": 7, "name": "Ada", "vip": True},
    "email": "ada@example.org",
    "lines": ["one", "two"],
    "note": None,
    "amount": "12.50",
    "placed": "2024-03-01T10:00:00+01:00",
    "due": "2024-03-05",
    "count": 3,
    "quantity": 5,
    "scan": "aGVsbG8=",
}


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> SoapAdapter:
    spec = SoapSystem(kind="soap", wsdl=str(FEATURES))
    return SoapAdapter("features", spec, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def order_model(adapter: SoapAdapter) -> type[BaseModel]:
    (operation,) = [op for op in adapter.operations() if op.name == "Order"]
    return operation.input_model


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    document = wsdl_to_openapi(str(FEATURES), cache_dir=tmp_path_factory.mktemp("cache"))
    result: dict[str, Any] = document["components"]["schemas"]
    return result


def test_valid_order_is_accepted(order_model: type[BaseModel]) -> None:
    order = order_model.model_validate(VALID)
    dumped = order.model_dump(by_alias=True, exclude_unset=True)
    assert dumped["customer"] == {"id": 7, "name": "Ada", "vip": True}
    assert dumped["scan"] == b"hello"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"colour": "BLUE"}, "colour"),  # enumeration
        ({"code": "abc-12"}, "code"),  # pattern
        ({"code": "ABC-1234567890"}, "code"),  # maxLength
        ({"quantity": 100}, "quantity"),  # maxInclusive
        ({"count": -1}, "count"),  # unsignedShort
        ({"lines": []}, "lines"),  # minOccurs=1 array
        ({"comment": None}, "comment"),  # optional is not nillable
        ({"phone": "123"}, ""),  # choice: two branches
        ({"email": None}, "email"),  # choice branch is not nillable
        ({"customer": {"name": "Ada"}}, "customer.id"),  # required attribute
        ({"placed": "yesterday"}, "placed"),  # dateTime
        ({"amount": "twelve"}, "amount"),  # decimal
        ({"surprise": 1}, "surprise"),  # unknown field
    ],
)
def test_invalid_orders_are_refused(
    order_model: type[BaseModel], change: dict[str, Any], path: str
) -> None:
    data = copy.deepcopy(VALID)
    data.update(change)
    with pytest.raises(ValidationError) as info:
        order_model.model_validate(data)
    paths = {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
    assert path in paths or (path == "" and paths == {""})


def test_choice_needs_one_branch(order_model: type[BaseModel]) -> None:
    data = {k: v for k, v in VALID.items() if k != "email"}
    with pytest.raises(ValidationError, match="one of"):
        order_model.model_validate(data)
    order_model.model_validate({**data, "phone": "+44 1"})


def test_nillable_may_be_null_but_not_missing(order_model: type[BaseModel]) -> None:
    data = {k: v for k, v in VALID.items() if k != "note"}
    with pytest.raises(ValidationError):
        order_model.model_validate(data)


def test_openapi_schema_shows_the_xsd(schemas: dict[str, Any]) -> None:
    order = schemas["Order"]
    props = order["properties"]
    assert props["colour"]["enum"] == ["RED", "GREEN"]
    assert props["colour"]["description"] == "A paint colour."
    assert props["code"]["pattern"] == "^(?:[A-Z]{3}-[0-9]+)$"
    assert props["code"]["maxLength"] == 12
    assert props["quantity"]["minimum"] == 1 and props["quantity"]["maximum"] == 99
    assert props["lines"]["type"] == "array" and props["lines"]["minItems"] == 1
    assert {"type": "null"} in props["note"]["anyOf"]
    assert "anyOf" not in props["comment"] and "default" not in props["comment"]
    assert props["amount"]["format"] == "decimal"
    assert props["placed"]["format"] == "date-time"
    assert props["due"]["format"] == "xsd-date"  # not RFC 3339's: an xsd:date may have a zone
    assert re.fullmatch(props["due"]["pattern"], "2017-12-01-05:00")
    assert props["scan"]["contentEncoding"] == "base64"
    assert order["oneOf"] == [{"required": ["email"]}, {"required": ["phone"]}]
    assert set(order["required"]) >= {"code", "colour", "customer", "lines", "note", "amount"}
    assert "comment" not in order["required"]
    customer = schemas["Customer"]
    assert set(customer["properties"]) == {"id", "name", "vip"}  # extension: base + own
    assert "id" in customer["required"]


def test_envelope_from_a_valid_request_is_valid_against_the_xsd(
    adapter: SoapAdapter, order_model: type[BaseModel]
) -> None:
    (operation,) = [op for op in adapter.operations() if op.name == "Order"]
    payload = order_model.model_validate(VALID).model_dump(by_alias=True, exclude_unset=True)
    envelope, headers = build_request(
        adapter.client, operation.target, payload, None, "http://127.0.0.1:9/", "features"
    )
    assert headers["SOAPAction"] == '"urn:Order"'
    body = etree.fromstring(envelope).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    assert body is not None
    order = body[0]
    from xmlschema.extras.wsdl import Wsdl11Document

    schema: xmlschema.XMLSchemaBase = Wsdl11Document(str(FEATURES)).schema
    schema.validate(order)
    ns = "{urn:strangler:test:features}"
    assert order.findtext(f"{ns}colour") == "RED"
    assert order.findtext(f"{ns}amount") == "12.50"
    assert order.findtext(f"{ns}scan") == "aGVsbG8="
    assert order.find(f"{ns}customer").get("id") == "7"  # type: ignore[union-attr]
    assert order.find(f"{ns}phone") is None


def test_any_content_is_parsed_safely(order_model: type[BaseModel]) -> None:
    ok = order_model.model_validate({**VALID, "_value_1": '<x:note xmlns:x="urn:x">hi</x:note>'})
    element = ok.model_dump(by_alias=True)["_value_1"]
    assert etree.QName(element).localname == "note"
    for hostile in (
        '<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>',
        "<a><unclosed></a>",
        "<a>" + "x" * (1 << 20) + "</a>",
        42,
    ):
        with pytest.raises(ValidationError) as info:
            order_model.model_validate({**VALID, "_value_1": hostile})
        assert info.value.errors()[0]["loc"] == ("_value_1",)


def test_any_content_reaches_the_envelope(
    adapter: SoapAdapter, order_model: type[BaseModel]
) -> None:
    (operation,) = [op for op in adapter.operations() if op.name == "Order"]
    data = {**VALID, "_value_1": '<x:note xmlns:x="urn:other">hi</x:note>'}
    payload = order_model.model_validate(data).model_dump(by_alias=True, exclude_unset=True)
    envelope, _ = build_request(
        adapter.client, operation.target, payload, None, "http://127.0.0.1:9/", "features"
    )
    assert b'<x:note xmlns:x="urn:other">hi</x:note>' in envelope
