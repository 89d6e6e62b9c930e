"""rpc/encoded calls carry the SOAP encoding's type information (SOAP 1.1 section 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from strangler.adapters.soap.adapter import SoapAdapter
from strangler.adapters.soap.exchange import build_request
from strangler.spec.soap import SoapSystem

DATA = Path(__file__).parents[2] / "data" / "wsdl"
R2 = DATA / "soapbuilders_r2_base_rpcenc" / "round2_base.wsdl"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"


def _envelope(wsdl: Path, operation: str, body: dict[str, Any], cache: Path) -> Any:
    adapter = SoapAdapter("c", SoapSystem(kind="soap", wsdl=str(wsdl)), cache_dir=cache)
    (op,) = [o for o in adapter.operations() if o.name == operation and o.aliases]
    data, _ = build_request(adapter.client, op.target, body, None, "http://x/", "c")
    return etree.fromstring(data)


def _type_of(element: Any, attribute: str = XSI_TYPE) -> etree.QName:
    prefix, _, local = element.get(attribute).partition(":")
    return etree.QName(element.nsmap[prefix], local)


@pytest.mark.parametrize(
    ("operation", "body", "part", "expected"),
    [
        ("echoString", {"inputString": "x"}, "inputString", etree.QName(XSD, "string")),
        ("echoInteger", {"inputInteger": 5}, "inputInteger", etree.QName(XSD, "int")),
        (
            "echoStruct",
            {"inputStruct": {"varString": "s", "varInt": 1, "varFloat": 1.5}},
            "inputStruct",
            etree.QName("http://soapinterop.org/xsd", "SOAPStruct"),
        ),
    ],
)
def test_parts_are_typed(
    tmp_path: Path, operation: str, body: dict[str, Any], part: str, expected: etree.QName
) -> None:
    envelope = _envelope(R2, operation, body, tmp_path)
    wrapper = envelope[0][0]
    assert wrapper.get(f"{{{envelope.nsmap['soap-env']}}}encodingStyle") == ENC
    assert _type_of(wrapper.find(part)) == expected


def test_arrays_carry_their_item_type_and_length(tmp_path: Path) -> None:
    envelope = _envelope(R2, "echoStringArray", {"inputStringArray": ["a", "", "c"]}, tmp_path)
    array = envelope[0][0].find("inputStringArray")
    assert _type_of(array) == etree.QName(ENC, "Array")
    item_type, _, count = array.get(f"{{{ENC}}}arrayType").partition("[")
    prefix, _, local = item_type.partition(":")
    assert etree.QName(array.nsmap[prefix], local) == etree.QName(XSD, "string")
    assert count == "3]"
    for item in array:  # every prefix used in a value is declared
        assert _type_of(item) == etree.QName(XSD, "string")


def test_literal_operations_are_left_alone(tmp_path: Path) -> None:
    wsdl = DATA / "cxf_soapheader_rpc" / "soapheader_rpc.wsdl"
    adapter = SoapAdapter("c", SoapSystem(kind="soap", wsdl=str(wsdl)), cache_dir=tmp_path)
    assert not any(o.target.encoded for o in adapter.operations())
