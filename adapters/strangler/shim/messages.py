"""A request's envelope read into the legacy shape, an answer written back into one.

Both directions use zeep's own message classes for the binding's operation,
as the SOAP adapter does for its calls, so what is read and written is what
the WSDL describes: document/literal wrapped and bare, rpc/literal and
rpc/encoded (with the type information SOAP encoding asks for), headers.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from pydantic import BaseModel, ValidationError
from zeep.exceptions import Error as ZeepError

from strangler.adapters.soap import zeep_api
from strangler.adapters.soap.catalog import HEADER_FIELD
from strangler.adapters.soap.encoded import (
    add_type_information,
    complete_envelope,
    encoded_parts,
    order_struct_members,
)
from strangler.adapters.soap.exchange import to_json_ready
from strangler.errors import InputProblem, InvalidInput, LegacyProtocolError
from strangler.shim.answers import Declined, read_plainly
from strangler.shim.catalog import ShimOperation
from strangler.shim.envelope import SOAP11, SOAP12, NotUnderstood, in_version

__all__ = ["legacy_answer", "read_request", "write_answer"]

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"


def read_request(op: ShimOperation, body: Any, header: Any) -> BaseModel:
    """The request's Body (and Header) as the legacy operation's input model.

    ``InvalidInput`` when the envelope does not fit the WSDL: an element the
    schema does not allow, a value of the wrong type or facet, a missing one.
    """
    target = op.legacy.target
    message = op.binding_operation.input
    if target.simple_body is not None and _nil_first(body):  # zeep cannot read a nil part
        return _validated(op.legacy.input_model, {target.simple_body: None}, op.name)
    header = _declared_blocks(message, header, op.name)
    plain: dict[str, Any] | None = None
    try:
        with zeep_api.adapter_parsing():
            if op.request_plan is not None:
                try:
                    plain = read_plainly(op.request_plan, body)
                except Declined:
                    plain = None  # zeep reads it, or refuses it in its words
            if target.encoded and message.body is not None:
                zeep_api.resolve_multiref(body)
                order_struct_members(body, message.body)
            value = None
            if plain is None and message.body is not None:
                value = zeep_api.deserialize_body(message, body)
            headers = zeep_api.deserialize_header(message, header) if target.has_header else None
    except (ZeepError, ValueError, TypeError, LookupError, ArithmeticError) as exc:
        reason = str(exc) or type(exc).__name__
        raise InvalidInput(f"{op.name}: the request does not fit the WSDL: {reason}") from exc
    except RecursionError as exc:
        raise InvalidInput(f"{op.name}: elements nest too deeply to read") from exc
    data = plain if plain is not None else to_json_ready(value, target.simple_body)
    header_values = to_json_ready(headers) if headers is not None else {}
    if any(v is not None for v in header_values.values()):
        data[HEADER_FIELD] = header_values
    return _validated(op.legacy.input_model, data, op.name)


def _declared_blocks(message: Any, header: Any, operation: str) -> Any:
    """The Header with only the blocks the operation declares; others are dropped (SOAP
    lets a receiver ignore them) unless marked ``mustUnderstand`` (a MustUnderstand fault).
    """
    if header is None:
        return None
    declared = {
        str(e.qname.text)
        for _, e in getattr(
            getattr(message, "header", None) and message.header.type, "elements", ()
        )
        if getattr(e, "qname", None) is not None
    }
    for block in [c for c in header if isinstance(c.tag, str)]:
        if block.tag in declared:
            continue
        understood = {block.get(f"{{{ns}}}mustUnderstand") for ns in (SOAP11, SOAP12)} & {
            "1",
            "true",
        }
        if understood:
            raise NotUnderstood(f"{operation}: the header {block.tag} is not understood")
        header.remove(block)
    return header


def _nil_first(body: Any) -> bool:
    first = next((c for c in body if isinstance(c.tag, str)), None)
    return first is not None and first.get(_XSI_NIL) in ("true", "1")


def _validated(model: type[BaseModel], data: Any, operation: str) -> BaseModel:
    """``data`` as ``model``; zeep reads an absent optional element as None, so a value
    the model refuses is tried again with the Nones left out."""
    try:
        return model.model_validate(data)
    except ValidationError:
        pass
    try:
        return model.model_validate(_without_none(data))
    except ValidationError as exc:
        problems = [
            InputProblem("/".join(str(p) for p in err["loc"]) or "/", err["msg"])
            for err in exc.errors(include_url=False)
        ]
        listed = "; ".join(f"{p.path}: {p.message}" for p in problems[:5])
        raise InvalidInput(f"{operation}: {listed}", problems) from None


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def legacy_answer(op: ShimOperation, data: Any) -> dict[str, Any]:
    """An answer in the legacy shape checked against the WSDL's output (python values).

    A value the schema does not allow is a ``LegacyProtocolError`` naming it:
    the side that answered broke the contract, not the caller.
    """
    try:
        model = op.legacy.output_model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'/'.join(str(p) for p in err['loc']) or '(the answer)'}: {err['msg']}"
            for err in exc.errors(include_url=False)[:3]
        ]
        raise LegacyProtocolError(
            f"the answer to {op.name} does not fit the WSDL: " + "; ".join(problems),
            system=op.legacy.system,
            operation=op.name,
        ) from None
    return model.model_dump(by_alias=True, exclude_none=True)


def write_answer(
    op: ShimOperation,
    answer: dict[str, Any],
    header: dict[str, Any] | None = None,
    version: str | None = None,
) -> tuple[bytes, Any]:
    """The reply envelope (bytes) for a legacy-shaped ``answer`` (and the values of the
    reply's header parts, if any), and its root element; in SOAP ``version`` when the
    request spoke another than the binding's (a 1.1 envelope at a 1.2 service)."""
    plan = op.answer_plan if not header else None
    if plan is not None:
        try:
            envelope = plan.render(answer, version or op.version)
        except Declined:
            pass  # zeep writes it, or refuses it in its words
        else:
            return etree.tostring(envelope, encoding="utf-8", xml_declaration=True), envelope
    target = op.legacy.target
    message = op.binding_operation.output
    kwargs = dict(answer)
    args: tuple[Any, ...] = ()
    nil_body = False
    if target.simple_reply is not None:
        args = (kwargs.pop(target.simple_reply, None),)
        nil_body = args[0] is None
    encoded = None
    typed: dict[str, Any] = {}
    if target.encoded and message.body is not None:
        typed = _typed_arrays(message.body.type, kwargs)
        rest = {k: v for k, v in kwargs.items() if k not in typed}
        encoded = encoded_parts(message, rest)
        kwargs = {**encoded.values, **typed}
    if header:
        kwargs["_soapheaders"] = header
    try:
        envelope = message.serialize(*args, **kwargs).content
    except (TypeError, ValueError, ZeepError) as exc:
        raise LegacyProtocolError(
            f"the answer to {op.name} cannot be written as the WSDL says: {exc}",
            system=op.legacy.system,
            operation=op.name,
        ) from exc
    if nil_body:
        _nil_body(envelope)
    if target.style == "rpc" and message.body is None:
        _rpc_wrapper(envelope, op.binding_operation)
    if encoded is not None:
        complete_envelope(envelope, encoded)
        envelope = add_type_information(envelope, message)
        _type_items(envelope, typed)
        envelope = _type_members(envelope, message)
    if version is not None and version != op.version:
        envelope = in_version(envelope, version)
    return etree.tostring(envelope, encoding="utf-8", xml_declaration=True), envelope


def _typed_arrays(xsd_type: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The parts of ``values`` that are SOAP-encoded arrays whose item type the WSDL
    names (``wsdl:arrayType``), as zeep array values, so their items are written as
    that type; free-form arrays are left to :func:`encoded_parts`."""
    members = dict(getattr(xsd_type, "elements", ()))
    typed: dict[str, Any] = {}
    for name, value in values.items():
        element = members.get(name)
        if element is None or not isinstance(value, list):
            continue
        item = getattr(zeep_api.array_type(element.type), "array_type", None)
        if item is not None and type(item).__name__ not in ("AnyType", "AnySimpleType"):
            typed[name] = element.type(value)
    return typed


def _type_items(envelope: Any, typed: dict[str, Any]) -> None:
    """Each item of a typed array says its type (``xsi:type``, as its ``arrayType``
    names it): readers decode SOAP-encoded array items by it."""
    body = next(c for c in envelope if isinstance(c.tag, str) and c.tag.endswith("}Body"))
    wrapper = next((c for c in body if isinstance(c.tag, str)), None)
    if wrapper is None:
        return
    for accessor in wrapper:
        if not isinstance(accessor.tag, str) or etree.QName(accessor).localname not in typed:
            continue
        array_type = accessor.get(f"{{{_SOAP_ENC}}}arrayType", "")
        item_type = array_type.rsplit("[", 1)[0]
        if not item_type:
            continue
        for item in accessor:
            if isinstance(item.tag, str) and item.get(_XSI_TYPE) is None:
                item.set(_XSI_TYPE, item_type)


def _type_members(envelope: Any, message: Any) -> Any:
    """Each accessor inside the parts says its type too, as SOAP-encoded writers do
    (``xsi:type`` on struct members and array items, from the schema); the members of
    an array whose type declares no member element are named ``item``, the name SOAP
    encoding's writers give them. Returns the root (a new one when a type's namespace
    had to be declared)."""
    body = next(c for c in envelope if isinstance(c.tag, str) and c.tag.endswith("}Body"))
    wrapper = next((c for c in body if isinstance(c.tag, str)), None)
    if wrapper is None:
        return envelope
    parts = dict(message.body.type.elements)
    marks: list[tuple[Any, etree.QName]] = []
    for accessor in wrapper:
        part = parts.get(etree.QName(accessor).localname) if isinstance(accessor.tag, str) else None
        if part is not None:
            _type_inside(accessor, part.type, marks)
    if not marks:
        return envelope
    namespaces = {str(q.namespace) for _, q in marks if q.namespace}
    root = _declaring(envelope, namespaces)
    prefixes = {uri: prefix for prefix, uri in root.nsmap.items() if prefix}
    for element, qname in marks:
        prefix = prefixes.get(qname.namespace) if qname.namespace else None
        element.set(_XSI_TYPE, f"{prefix}:{qname.localname}" if prefix else qname.localname)
    return root


def _type_inside(element: Any, xsd_type: Any, marks: list[tuple[Any, etree.QName]]) -> None:
    """Mark the accessors below ``element`` (of ``xsd_type``) with their types."""
    if element.get(_XSI_NIL) in ("true", "1"):
        return
    children = [c for c in element if isinstance(c.tag, str)]
    array = zeep_api.array_type(xsd_type)
    if array is not None:
        item_type = getattr(array, "array_type", None)
        named = any(getattr(e, "name", None) for _, e in getattr(xsd_type, "elements", ()))
        for item in children:
            if not named:
                item.tag = "item"
            if item_type is not None:
                _mark(item, item_type, marks)
                _type_inside(item, item_type, marks)
        return
    members = dict(getattr(xsd_type, "elements", ()))
    for child in children:
        member = members.get(etree.QName(child).localname)
        if member is None or not hasattr(member, "type"):
            continue
        _mark(child, member.type, marks)
        _type_inside(child, member.type, marks)


def _mark(element: Any, xsd_type: Any, marks: list[tuple[Any, etree.QName]]) -> None:
    qname = getattr(xsd_type, "qname", None)
    if (
        isinstance(qname, etree.QName)
        and element.get(_XSI_TYPE) is None
        and element.get(_XSI_NIL) not in ("true", "1")
        and type(xsd_type).__name__ not in ("AnyType", "AnySimpleType")
    ):
        marks.append((element, qname))


def _declaring(envelope: Any, namespaces: set[str]) -> Any:
    """``envelope``, or a new root like it that declares the ``namespaces`` it lacks
    (lxml declares a prefix only on a new element; the children are moved)."""
    nsmap = dict(envelope.nsmap)
    missing = sorted((namespaces | {_XSI}) - set(nsmap.values()))
    if not missing:
        return envelope
    for n, uri in enumerate(missing):
        prefix = _PREFIXES.get(uri, f"t{n}")
        while prefix in nsmap:
            prefix += "_"
        nsmap[prefix] = uri
    root = etree.Element(envelope.tag, attrib=dict(envelope.attrib), nsmap=nsmap)
    root.text = envelope.text
    root.extend(list(envelope))
    return root


_PREFIXES = {"http://www.w3.org/2001/XMLSchema": "xsd", _XSI: "xsi"}


def _rpc_wrapper(envelope: Any, operation: Any) -> None:
    """An rpc answer without parts is still its wrapper element, empty (WSDL 1.1,
    3.5): zeep writes an empty Body, which some readers cannot take. The wrapper is
    named after the output message, in the namespace the binding gives the request's."""
    body = next(c for c in envelope if isinstance(c.tag, str) and c.tag.endswith("}Body"))
    if any(isinstance(c.tag, str) for c in body):
        return
    abstract = getattr(getattr(operation, "abstract", None), "output_message", None)
    request = getattr(operation.input, "body", None) if operation.input is not None else None
    if abstract is None or request is None:
        return
    namespace = etree.QName(request.qname).namespace
    local = etree.QName(abstract.name).localname
    body.append(
        etree.Element(
            f"{{{namespace}}}{local}" if namespace else local,
            nsmap={"ns0": namespace} if namespace else None,
        )
    )


def _nil_body(envelope: Any) -> None:
    body = next(c for c in envelope if isinstance(c.tag, str) and c.tag.endswith("}Body"))
    for part in body:
        part.text = None
        part.set(_XSI_NIL, "true")
