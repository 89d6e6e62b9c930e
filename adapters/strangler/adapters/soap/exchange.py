"""One SOAP exchange: build the envelope with zeep, post it, read the reply.

Foreign errors are translated here, once, into the project's error tree
(:mod:`strangler.errors`), keeping the original as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

from lxml import etree
from pydantic import BaseModel, ValidationError
from zeep import Client
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault
from zeep.helpers import serialize_object

from strangler.adapters.base import Operation
from strangler.adapters.calls import Reply
from strangler.adapters.soap import zeep_api
from strangler.adapters.soap.catalog import SoapTarget
from strangler.adapters.soap.encoded import (
    add_type_information,
    complete_envelope,
    encoded_parts,
    order_struct_members,
)
from strangler.adapters.soap.reply_xml import (
    ReplyTooComplex,
    UnreadableReply,
    media_type,
    parse_envelope,
)
from strangler.errors import (
    FaultInfo,
    InvalidInput,
    LegacyFault,
    LegacyProtocolError,
)

__all__ = [
    "THREAD_BYTES",
    "Reply",
    "build_request",
    "check_answer",
    "read_answer",
    "read_reply",
    "read_reply_document",
    "to_json_ready",
]

THREAD_BYTES = 256 * 1024
"""Replies larger than this are parsed in a worker thread, off the event loop."""

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
    operation = target.binding.get(target.operation)
    encoded = None
    if target.encoded:  # parts may be left out or null (SOAP 1.1 section 5.1)
        encoded = encoded_parts(operation.input, kwargs)
        kwargs = encoded.values
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
    if encoded is not None:
        complete_envelope(envelope, encoded)
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


async def read_answer(
    client: Client, operation: Operation[SoapTarget], reply: Reply, *, system: str
) -> Any:
    """The reply as the JSON answer the operation's response model describes.

    Replies over :data:`THREAD_BYTES` are read in a worker thread, off the event loop.
    """
    if len(reply.content) > THREAD_BYTES:
        return await asyncio.to_thread(_answer, client, operation, reply, system)
    return _answer(client, operation, reply, system)


def _answer(client: Client, operation: Operation[SoapTarget], reply: Reply, system: str) -> Any:
    target = operation.target
    body, _ = read_reply(client, target, reply, system=system)
    data = to_json_ready(body, target.simple_reply)
    check_answer(operation.output_model, data, system=system, operation=target.operation)
    return data


def read_reply(client: Client, target: SoapTarget, reply: Reply, *, system: str) -> tuple[Any, Any]:
    """Parse the reply into (body, header) values, or raise the fault it carries.

    A reply that is not the envelope the WSDL describes is a ``LegacyProtocolError``
    saying what did not match; so is one too big to parse (:mod:`.reply_xml`).
    """
    body, header, _ = read_reply_document(client, target, reply, system=system)
    return body, header


def read_reply_document(
    client: Client, target: SoapTarget, reply: Reply, *, system: str
) -> tuple[Any, Any, Any]:
    """As :func:`read_reply`, with the parsed reply envelope (lxml) as a third value
    (None for an empty one-way reply). It stays as the legacy system wrote it: a
    SOAP-encoded Body, which reading reorders and resolves in place, is read from a copy."""
    operation = target.operation

    def mismatch(what: str) -> LegacyProtocolError:
        return LegacyProtocolError(
            f"{system} answered {operation} with a reply that does not match the WSDL: {what}",
            system=system,
            operation=operation,
        )

    if reply.status in (201, 202) and not reply.content:
        return None, None, None
    if not reply.content:
        raise LegacyProtocolError(
            f"{system} answered HTTP {reply.status} with no content",
            system=system,
            operation=operation,
        )
    media = media_type(reply.content_type)
    if media.startswith("multipart/"):
        raise LegacyProtocolError(
            f"{system} answered with {media}: MTOM and SOAP attachments are not supported",
            system=system,
            operation=operation,
        )
    binding = target.binding
    try:
        doc = parse_envelope(reply.content)
    except ReplyTooComplex as exc:
        raise LegacyProtocolError(
            f"{system} answered {operation} with a reply too complex to read: {exc}",
            system=system,
            operation=operation,
        ) from exc
    except UnreadableReply as exc:
        raise LegacyProtocolError(
            f"{system} answered HTTP {reply.status} with unreadable XML: {exc}",
            system=system,
            operation=operation,
        ) from exc
    soap_env = binding.nsmap["soap-env"]
    if doc.tag != f"{{{soap_env}}}Envelope":
        raise mismatch(f"the root element is {etree.QName(doc).text}, not {{{soap_env}}}Envelope")
    body = doc.find(f"{{{soap_env}}}Body")
    if body is not None and body.find(f"{{{soap_env}}}Fault") is not None:
        _raise_fault(binding, doc, target, system)
    if reply.status != 200:
        raise LegacyProtocolError(
            f"{system} answered HTTP {reply.status} without a SOAP fault",
            system=system,
            operation=operation,
        )
    if body is None:
        raise mismatch("the envelope has no Body")
    output = binding.get(operation).output
    if output is None:  # a one-way operation: nothing in the reply is ours to read
        return None, None, doc
    _check_body(body, output, target, mismatch)
    header = doc.find(f"{{{soap_env}}}Header")
    if target.encoded:  # the whole envelope: its prefixes name the types (xsi:type values)
        body = copy.deepcopy(doc).find(f"{{{soap_env}}}Body")
    try:
        with zeep_api.adapter_parsing():  # strings and dates read as they were written
            if target.encoded and output.body is not None:
                order_struct_members(body, output.body)
            result = zeep_api.deserialize_body(output, body) if output.body is not None else None
            headers = zeep_api.deserialize_header(output, header)
    except (ZeepError, ValueError, TypeError, LookupError) as exc:
        raise mismatch(str(exc)) from exc
    except RecursionError as exc:
        raise mismatch("elements nest too deeply to read") from exc
    return result, headers, doc


def _check_body(
    body: Any, output: Any, target: SoapTarget, mismatch: Callable[[str], Exception]
) -> None:
    """The Body's elements are the ones the output message names (by name and namespace)."""
    elements = [c for c in body if isinstance(c.tag, str)]
    part = output.body
    if part is None:  # no body parts (an rpc reply may still carry an empty wrapper)
        return
    if not elements:
        raise mismatch(f"the Body is empty; expected {_expected(part, target)}")
    if part.qname == etree.QName(body):  # several document parts: each under the Body
        allowed = {e.qname for _, e in part.type.elements if getattr(e, "qname", None)}
        unknown = [e for e in elements if etree.QName(e) not in allowed]
        if unknown:
            raise mismatch(f"unexpected {_names(unknown)} in the Body")
        return
    first, rest = elements[0], elements[1:]
    if target.style == "rpc":
        # The wrapper's name is the operation's and "Response" (WS-I R2729) or the output
        # message's; SOAP encoding may add independent elements (multi-ref, with an id).
        names = {f"{target.operation}Response", part.qname.localname}
        namespace = etree.QName(first).namespace
        if etree.QName(first).localname not in names or namespace != part.qname.namespace:
            raise mismatch(f"the Body holds {_names([first])}; expected {_expected(part, target)}")
        rest = [e for e in rest if e.get("id") is None]
    elif etree.QName(first) != part.qname:
        raise mismatch(f"the Body holds {_names([first])}; expected {_expected(part, target)}")
    if rest:
        raise mismatch(f"unexpected {_names(rest)} after {etree.QName(first).text} in the Body")


def _names(elements: list[Any]) -> str:
    more = " ..." if len(elements) > 3 else ""
    return ", ".join(etree.QName(e).text for e in elements[:3]) + more


def _expected(part: Any, target: SoapTarget) -> str:
    if target.style == "rpc":
        return f"{{{part.qname.namespace or ''}}}{target.operation}Response"
    return str(part.qname.text)


def check_answer(model: type[BaseModel], data: Any, *, system: str, operation: str) -> None:
    """The answer matches the response model (the OpenAPI document), or a protocol error
    names the first values that do not (a required value missing is one)."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:3]:
            path = "/".join(str(p) for p in error["loc"]) or "(the answer)"
            if error.get("input", ...) is None:
                problems.append(f"{path} is missing")
            else:
                problems.append(f"{path}: {error['msg']}")
        more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        raise LegacyProtocolError(
            f"{system} answered {operation} with a reply that does not match the WSDL: "
            + "; ".join(problems)
            + more,
            system=system,
            operation=operation,
        ) from None


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
