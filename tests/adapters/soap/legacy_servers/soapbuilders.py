"""rpc/encoded: the SOAPBuilders interop echo service, rounds 2 (base) and 3 (group D).

Round 2 base (``round2_base.wsdl``, wrapper namespace ``http://soapinterop.org/``)
echoes strings, ints, floats, booleans, base64, ``SOAPStruct`` and SOAP-ENC
arrays of them; round 3 import2 (``http://soapinterop/``) echoes a ``SOAPStruct``.
Like the interop servers of the time, values are decoded by what the WSDL says
(zeep sends no ``xsi:type``), checked, and encoded back as SOAP section 5 wants:
every accessor typed with ``xsi:type``, arrays as ``SOAP-ENC:Array`` with
``SOAP-ENC:arrayType="xsd:string[n]"``, the wrapper with ``soap:encodingStyle``.

A struct whose ``varInt`` is negative is refused with a Client fault carrying
a detail, as a business rule of this "legacy" system.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lxml import etree

from tests.adapters.soap.legacy_servers.plumbing import (
    SOAP11,
    SOAP_ENC,
    XSI,
    Answer,
    Fault,
    LegacyServer,
    Request,
    child,
    el,
    serve,
    typed,
)

R2_WSDL = "soapbuilders_r2_base_rpcenc/round2_base.wsdl"
R3_WSDL = "soapbuilders_r3_import2_rpcenc/round3_groupD_import2.wsdl"
R2_NS = "http://soapinterop.org/"
R3_NS = "http://soapinterop/"
TYPES_NS = "http://soapinterop.org/xsd"

_FIELDS = (("varString", "xsd:string"), ("varInt", "xsd:int"), ("varFloat", "xsd:float"))


def _scalar(node: etree._Element, xsd_type: str) -> Any:
    raw = (node.text or "").strip()
    try:
        if xsd_type == "xsd:int":
            return int(raw)
        if xsd_type == "xsd:float":
            return float(raw)
        if xsd_type == "xsd:boolean":
            return {"true": True, "1": True, "false": False, "0": False}[raw]
        if xsd_type == "xsd:base64Binary":
            return base64.b64decode(raw, validate=True)
    except (ValueError, KeyError):
        raise Fault("client", f"{node.tag}: {raw!r} is not an {xsd_type}") from None
    return node.text or ""


def _lexical(value: Any, xsd_type: str) -> str:
    if xsd_type == "xsd:boolean":
        return "true" if value else "false"
    if xsd_type == "xsd:base64Binary":
        return base64.b64encode(value).decode("ascii")
    return repr(value) if isinstance(value, float) else str(value)


def _struct(node: etree._Element) -> dict[str, Any]:
    value = {name: _scalar(child(node, name), kind) for name, kind in _FIELDS}
    if value["varInt"] < 0:
        detail = el(f"{{{TYPES_NS}}}StructRejected", el("varInt", str(value["varInt"])))
        raise Fault("client", "varInt must not be negative", detail)
    return value


def _struct_out(tag: str, value: dict[str, Any]) -> etree._Element:
    fields = [typed(name, _lexical(value[name], kind), kind) for name, kind in _FIELDS]
    node = el(tag, *fields)
    node.set(f"{{{XSI}}}type", "s:SOAPStruct")
    return node


def _items(node: etree._Element) -> list[etree._Element]:
    """The members of a SOAP-ENC array, whatever the item elements are called."""
    return [item for item in node if isinstance(item.tag, str)]


def _array_out(tag: str, members: list[etree._Element], item_type: str) -> etree._Element:
    node = el(tag, *members)
    node.set(f"{{{XSI}}}type", "SOAP-ENC:Array")
    node.set(f"{{{SOAP_ENC}}}arrayType", f"{item_type}[{len(members)}]")
    return node


def _reply(namespace: str, operation: str, *parts: etree._Element) -> Answer:
    wrapper = el(f"{{{namespace}}}{operation}Response", *parts)
    wrapper.set(f"{{{SOAP11}}}encodingStyle", SOAP_ENC)
    return Answer([wrapper])


def _echo_scalar(suffix: str, xsd_type: str) -> Callable[[Request], Answer]:
    def handle(request: Request) -> Answer:
        assert request.operation is not None
        value = _scalar(child(request.operation, f"input{suffix}"), xsd_type)
        out = typed(f"output{suffix}", _lexical(value, xsd_type), xsd_type)
        return _reply(R2_NS, f"echo{suffix}", out)

    return handle


def _echo_array(suffix: str, xsd_type: str) -> Callable[[Request], Answer]:
    def handle(request: Request) -> Answer:
        assert request.operation is not None
        values = [_scalar(i, xsd_type) for i in _items(child(request.operation, f"input{suffix}"))]
        items = [typed("item", _lexical(v, xsd_type), xsd_type) for v in values]
        return _reply(R2_NS, f"echo{suffix}", _array_out(f"output{suffix}", items, xsd_type))

    return handle


def echo_struct(request: Request) -> Answer:
    assert request.operation is not None
    value = _struct(child(request.operation, "inputStruct"))
    return _reply(R2_NS, "echoStruct", _struct_out("outputStruct", value))


def echo_struct_array(request: Request) -> Answer:
    assert request.operation is not None
    structs = [_struct(i) for i in _items(child(request.operation, "inputStructArray"))]
    items = [_struct_out("item", value) for value in structs]
    return _reply(R2_NS, "echoStructArray", _array_out("outputStructArray", items, "s:SOAPStruct"))


def echo_void(request: Request) -> Answer:
    return _reply(R2_NS, "echoVoid")


def r3_echo_struct(request: Request) -> Answer:
    assert request.operation is not None
    value = _struct(child(request.operation, "inputStruct"))
    return _reply(R3_NS, "echoStruct", _struct_out("Result", value))


@contextmanager
def running() -> Iterator[LegacyServer]:
    """One endpoint for both rounds (told apart by the wrapper's namespace)."""
    operations = {
        f"{{{R2_NS}}}echoString": _echo_scalar("String", "xsd:string"),
        f"{{{R2_NS}}}echoInteger": _echo_scalar("Integer", "xsd:int"),
        f"{{{R2_NS}}}echoFloat": _echo_scalar("Float", "xsd:float"),
        f"{{{R2_NS}}}echoBoolean": _echo_scalar("Boolean", "xsd:boolean"),
        f"{{{R2_NS}}}echoBase64": _echo_scalar("Base64", "xsd:base64Binary"),
        f"{{{R2_NS}}}echoStringArray": _echo_array("StringArray", "xsd:string"),
        f"{{{R2_NS}}}echoIntegerArray": _echo_array("IntegerArray", "xsd:int"),
        f"{{{R2_NS}}}echoStruct": echo_struct,
        f"{{{R2_NS}}}echoStructArray": echo_struct_array,
        f"{{{R2_NS}}}echoVoid": echo_void,
        f"{{{R3_NS}}}echoStruct": r3_echo_struct,
    }
    with serve(operations, nsmap={"s": TYPES_NS}) as server:
        yield server
