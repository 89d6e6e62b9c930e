"""One SOAP exchange: build the envelope with zeep, post it, read the reply.

Foreign errors are translated here, once, into the project's error tree
(:mod:`strangler.errors`), keeping the original as ``__cause__``.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from zeep import Client
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, XMLSyntaxError
from zeep.helpers import serialize_object

from strangler.adapters.calls import Reply
from strangler.adapters.soap import zeep_api
from strangler.adapters.soap.catalog import SoapTarget
from strangler.adapters.soap.encoded import add_type_information
from strangler.errors import (
    FaultInfo,
    InvalidInput,
    LegacyFault,
    LegacyProtocolError,
)

__all__ = ["Reply", "build_request", "read_reply", "to_json_ready"]

_CLIENT_CODES = ("client", "sender")
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def build_request(
    client: Client,
    target: SoapTarget,
    body: dict[str, Any],
    header: dict[str, Any] | None,
    address: str,
    system: str,
) -> tuple[bytes, dict[str, str]]:
    """Serialise the call into an envelope and its HTTP headers."""
    kwargs = dict(body)
    args: tuple[Any, ...] = ()
    nil_body = False
    if target.simple_body is not None:  # a bare body part of simple type
        args = (kwargs.pop(target.simple_body, None),)
        nil_body = args[0] is None  # null for a nillable part: zeep would write "None"
    if header:
        kwargs["_soapheaders"] = header
    try:
        envelope, headers = zeep_api.create_envelope(
            target.binding, target.operation, args, kwargs, client=client, address=address
        )
    except (TypeError, ValueError, ZeepError) as exc:
        raise InvalidInput(f"{target.operation}: {exc}") from exc
    if nil_body:
        _nil_body_part(envelope)
    operation = target.binding.get(target.operation)
    if target.encoded:
        envelope = add_type_information(envelope, operation.input)
    if target.soap_version == "1.2" and operation.soapaction is None:
        # zeep writes `action="None"` into the SOAP 1.2 content type when there is no soapAction.
        headers["Content-Type"] = headers["Content-Type"].replace('; action="None"', "")
    data = etree.tostring(envelope, encoding="utf-8", xml_declaration=True)
    return data, headers


def _nil_body_part(envelope: Any) -> None:
    """Mark the bare simple-typed body part ``xsi:nil`` (zeep renders ``None`` as text)."""
    body = next(c for c in envelope if isinstance(c.tag, str) and c.tag.endswith("}Body"))
    for part in body:
        part.text = None
        part.set(_XSI_NIL, "true")


def read_reply(client: Client, target: SoapTarget, reply: Reply, *, system: str) -> tuple[Any, Any]:
    """Parse the reply into (body, header) values, or raise the fault it carries."""
    operation = target.operation
    if reply.status in (201, 202) and not reply.content:
        return None, None
    if not reply.content:
        raise LegacyProtocolError(
            f"{system} answered HTTP {reply.status} with no content",
            system=system,
            operation=operation,
        )
    if reply.content_type.startswith("multipart/"):
        raise LegacyProtocolError(
            f"{system} answered with {reply.content_type.split(';')[0]}, which is not supported",
            system=system,
            operation=operation,
        )
    binding = target.binding
    try:
        doc = zeep_api.parse_reply(reply.content, binding.transport, client.settings)
    except (XMLSyntaxError, etree.XMLSyntaxError, ZeepError) as exc:
        raise LegacyProtocolError(
            f"{system} answered HTTP {reply.status} with unreadable XML: {exc}",
            system=system,
            operation=operation,
        ) from exc
    nsmap = binding.nsmap
    fault = doc.find("soap-env:Body/soap-env:Fault", namespaces=nsmap)
    if fault is not None:
        _raise_fault(binding, doc, target, system)
    if reply.status != 200:
        raise LegacyProtocolError(
            f"{system} answered HTTP {reply.status} without a SOAP fault",
            system=system,
            operation=operation,
        )
    op = binding.get(operation)
    body = doc.find("soap-env:Body", namespaces=nsmap)
    if body is None:
        raise LegacyProtocolError(
            f"{system} answered without a SOAP Body", system=system, operation=operation
        )
    header = doc.find("soap-env:Header", namespaces=nsmap)
    try:
        with zeep_api.adapter_parsing():  # empty string elements read as ""
            result = zeep_api.deserialize_body(op.output, body) if op.output.body else None
            headers = zeep_api.deserialize_header(op.output, header)
    except (ZeepError, ValueError, TypeError) as exc:
        raise LegacyProtocolError(
            f"{system} answered {operation} with XML that does not fit the WSDL: {exc}",
            system=system,
            operation=operation,
        ) from exc
    return result, headers


def _raise_fault(binding: Any, doc: Any, target: SoapTarget, system: str) -> None:
    try:
        binding.process_error(doc, binding.get(target.operation))
    except Fault as exc:
        code = exc.code or "Server"
        local = code.split("}")[-1].split(":")[-1].lower()
        subcodes = [getattr(s, "text", str(s)) for s in (exc.subcodes or [])]
        info = FaultInfo(
            code=code,
            message=exc.message or "SOAP fault",
            actor=exc.actor,
            detail=element_to_json(exc.detail) if exc.detail is not None else None,
            subcodes=subcodes,
        )
        raise LegacyFault(
            info,
            system=system,
            operation=target.operation,
            client_error=local.startswith(_CLIENT_CODES),
        ) from exc


def element_to_json(element: Any) -> Any:
    """A plain JSON shape for an XML element (used for fault details and xsd:any)."""
    children = [c for c in element if isinstance(c.tag, str)]
    attributes = {etree.QName(k).localname: v for k, v in element.attrib.items()}
    if not children:
        text = (element.text or "").strip()
        if attributes:
            return {**attributes, "_text": text} if text else attributes
        return text
    result: dict[str, Any] = dict(attributes)
    for child in children:
        key = etree.QName(child).localname
        value = element_to_json(child)
        if key in result:
            existing = result[key]
            result[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            result[key] = value
    return result


def to_json_ready(value: Any, name: str | None = None) -> Any:
    """zeep's values as JSON-ready data: the body's fields as an object.

    xsd:any content (lxml elements) becomes an XML string. ``name`` is the element of
    a bare simple-typed reply: its value (null when ``xsi:nil``) goes under that key.
    """
    plain = _xml_to_text(serialize_object(value, target_cls=dict))
    if isinstance(plain, dict):
        return plain
    if plain is None:
        return {name: None} if name else {}
    return {name or "value": plain}


def _xml_to_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _xml_to_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_xml_to_text(v) for v in value]
    if isinstance(value, etree._Element):
        return etree.tostring(value, encoding="unicode")
    return value
