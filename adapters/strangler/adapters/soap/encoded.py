"""SOAP encoding (rpc/encoded): the type information such services expect.

zeep writes rpc/encoded requests like rpc/literal ones: no ``encodingStyle``
and no ``xsi:type`` on the parts. Services of that era (Axis 1, SOAP::Lite,
.NET remoting) often need the type of each part, and ``SOAP-ENC:arrayType`` on
arrays, to decode a call. :func:`encoded_operations` finds which operations a
binding declares ``use="encoded"`` and :func:`add_type_information` adds what
the SOAP 1.1 encoding rules (section 5) ask for to the envelope zeep built.

The encoding's rules zeep does not follow, applied here:

* an omitted accessor means null or the default (section 5.1): :func:`encoded_parts`
  lets a call leave parts out (the accessor is omitted) or send null (``xsi:nil``);
* struct members are told apart by name only (section 5.4.1), so they may come in
  any order: :func:`order_struct_members` puts a reply's in the schema's order first;
* an ``xsd:anyType`` array item carries its own type (section 5.4.2): :func:`encoded_parts`
  turns each JSON value into a typed item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from lxml import etree
from zeep.xsd import Any as XsdAny
from zeep.xsd import AnySimpleType, AnyType, ComplexType, Element, SkipValue

from strangler.adapters.soap import zeep_api

__all__ = [
    "SOAP_ENC",
    "EncodedCall",
    "add_type_information",
    "complete_envelope",
    "encoded_operations",
    "encoded_parts",
    "order_struct_members",
]

SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSD = "http://www.w3.org/2001/XMLSchema"
_WSDL = "http://schemas.xmlsoap.org/wsdl/"
_SOAP_BINDINGS = (
    "http://schemas.xmlsoap.org/wsdl/soap/",
    "http://schemas.xmlsoap.org/wsdl/soap12/",
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def encoded_operations(document: Any) -> set[tuple[str, str]]:
    """(binding QName text, operation name) for every operation whose input is encoded."""
    found: set[tuple[str, str]] = set()
    for definition in zeep_api.wsdl_definitions(document):
        try:
            root = etree.fromstring(document.transport.load(definition.location), _PARSER)
        except (OSError, etree.XMLSyntaxError, ValueError):
            continue
        namespace = root.get("targetNamespace", "")
        for binding in root.iterfind(f"{{{_WSDL}}}binding"):
            name = etree.QName(namespace, binding.get("name", "")).text
            for operation in binding.iterfind(f"{{{_WSDL}}}operation"):
                for soap in _SOAP_BINDINGS:
                    body = operation.find(f"{{{_WSDL}}}input/{{{soap}}}body")
                    if body is not None and body.get("use") == "encoded":
                        found.add((name, operation.get("name", "")))
    return found


def add_type_information(envelope: Any, message: Any) -> Any:
    """The envelope with the call's wrapper marked SOAP-encoded and each part typed.

    Returns a new root element (namespace prefixes can only be declared on a new
    element in lxml); the body is moved, not copied.
    """
    soap_env = envelope.nsmap.get("soap-env") or etree.QName(envelope).namespace
    body = envelope.find(f"{{{soap_env}}}Body")
    if body is None or len(body) == 0 or message.body is None:
        return envelope
    parts = dict(message.body.type.elements)
    marks: list[tuple[Any, etree.QName, etree.QName | None, int]] = []
    for child in body[0]:
        part = parts.get(etree.QName(child).localname)
        if part is None or child.get(f"{{{_XSI}}}type") is not None:
            continue
        xsd_type = part.type
        if isinstance(xsd_type, ComplexType) and zeep_api.array_type(xsd_type) is not None:
            count = len([c for c in child if isinstance(c.tag, str)])
            marks.append((child, etree.QName(SOAP_ENC, "Array"), _array_item_type(xsd_type), count))
        elif getattr(xsd_type, "qname", None) is not None:
            marks.append((child, xsd_type.qname, None, 0))
    namespaces = {q.namespace for _, q, _, _ in marks} | {
        i.namespace for _, _, i, _ in marks if i is not None
    }
    root, prefixes = _declare(envelope, {n for n in namespaces if n} | {_XSI, SOAP_ENC})
    wrapper = root.find(f"{{{soap_env}}}Body")[0]
    wrapper.set(f"{{{soap_env}}}encodingStyle", SOAP_ENC)
    for child, type_name, item, count in marks:
        child.set(f"{{{_XSI}}}type", f"{prefixes[type_name.namespace]}:{type_name.localname}")
        if item is not None:
            child.set(
                f"{{{SOAP_ENC}}}arrayType",
                f"{prefixes[item.namespace]}:{item.localname}[{count}]",
            )
    return root


_KNOWN = {"http://www.w3.org/2001/XMLSchema": "xsd", SOAP_ENC: "SOAP-ENC", _XSI: "xsi"}


def _declare(envelope: Any, namespaces: set[str]) -> tuple[Any, dict[str, str]]:
    """A copy of the envelope's root declaring ``namespaces``, and their prefixes.

    Every prefix declared inside the envelope is declared on the new root too:
    lxml drops declarations it thinks redundant when elements move, and it cannot
    know that attribute values such as ``xsi:type="xs:string"`` use them.
    """
    nsmap: dict[str | None, str] = {}
    for element in envelope.iter():
        if isinstance(element.tag, str):
            for prefix, uri in element.nsmap.items():
                nsmap.setdefault(prefix, uri)
    prefixes = {uri: prefix for prefix, uri in nsmap.items() if prefix}
    for n, uri in enumerate(sorted(namespaces - set(prefixes))):
        prefix = _KNOWN.get(uri, f"t{n}")
        while prefix in nsmap:
            prefix += "_"
        nsmap[prefix] = uri
        prefixes[uri] = prefix
    root = etree.Element(envelope.tag, attrib=dict(envelope.attrib), nsmap=cast(Any, nsmap))
    root.extend(list(envelope))
    return root, prefixes


def _array_item_type(xsd_type: Any) -> etree.QName | None:
    """The item type of a SOAP-ENC array (its ``wsdl:arrayType``), if zeep resolved it."""
    item = getattr(zeep_api.array_type(xsd_type), "array_type", None)
    qname = getattr(item, "qname", None)
    return qname if isinstance(qname, etree.QName) else None


# -- omitted and null parts, free-form items (requests) ------------------------------------


Path = tuple[str | int, ...]
"""Where an element is below the call's wrapper: member names and array positions."""


@dataclass
class EncodedCall:
    """The call's parts for zeep, and the accessors zeep cannot write, added after it."""

    values: dict[str, Any]
    late: list[tuple[Path, Any, str, Any]] = field(default_factory=list)
    """(path of the parent, its type, member name, accessor) for each accessor to add."""


def encoded_parts(message: Any, body: dict[str, Any]) -> EncodedCall:
    """The call's parts for zeep; finish the envelope with :func:`complete_envelope`.

    A part left out is not written (zeep would refuse it as missing); a null part is
    written ``xsi:nil="true"``; a free-form array (``xsd:anyType`` items, which zeep
    cannot write from JSON values) is written with items that say their own type.
    """
    call = EncodedCall(values={})
    if message.body is None:
        call.values = body
        return call
    wrapper = message.body.type
    for name, part in wrapper.elements:
        if name not in body:
            call.values[name] = SkipValue
        elif body[name] is None:
            call.values[name] = SkipValue
            call.late.append(((), wrapper, name, _nil(part, name)))
        else:
            call.values[name] = _free_form(body[name], (), wrapper, part, call.late)
    call.values.update({k: v for k, v in body.items() if k not in call.values})
    return call


def complete_envelope(envelope: Any, call: EncodedCall) -> None:
    """Add the accessors :func:`encoded_parts` kept from zeep, each in its place."""
    if not call.late:
        return
    soap_env = envelope.nsmap.get("soap-env") or etree.QName(envelope).namespace
    wrapper = envelope.find(f"{{{soap_env}}}Body")[0]
    for path, parent_type, name, accessor in call.late:
        parent = _find(wrapper, path)
        if parent is not None:
            _insert(parent, parent_type, name, accessor)


def _nil(part: Any, name: str) -> Any:
    accessor = etree.Element(part.qname if part.qname is not None else name)
    accessor.set(f"{{{_XSI}}}nil", "true")
    return accessor


def _insert(parent: Any, parent_type: Any, name: str, accessor: Any) -> None:
    """Insert ``accessor`` after the members that come before ``name`` in the type."""
    order = [n for n, _ in parent_type.elements]
    before = set(order[: order.index(name)])
    position = 0
    for index, child in enumerate(parent):
        if isinstance(child.tag, str) and etree.QName(child).localname in before:
            position = index + 1
    parent.insert(position, accessor)


def _find(element: Any, path: Path) -> Any:
    for step in path:
        children = [c for c in element if isinstance(c.tag, str)]
        if isinstance(step, int):
            element = children[step] if step < len(children) else None
        else:
            element = next((c for c in children if etree.QName(c).localname == step), None)
        if element is None:
            return None
    return element


def _free_form(value: Any, path: Path, parent_type: Any, element: Any, late: list[Any]) -> Any:
    """``value`` for zeep; a free-form array is skipped and its accessor added to ``late``."""
    xsd_type = element.type
    if not isinstance(xsd_type, ComplexType):
        return value
    name = str(element.name)
    if zeep_api.array_type(xsd_type) is not None and isinstance(value, list):
        item, item_type = _array_item(xsd_type)
        if isinstance(item, XsdAny) and _free(item_type):
            accessor = _any_item(value, element.qname if element.qname is not None else name)
            late.append((path, parent_type, name, accessor))
            return SkipValue
        if isinstance(item, Element):
            return [
                _free_form(v, (*path, name, n), xsd_type, item, late) for n, v in enumerate(value)
            ]
        return value
    if isinstance(value, dict):
        members = dict(xsd_type.elements)
        return {
            k: _free_form(v, (*path, name), xsd_type, members[k], late) if k in members else v
            for k, v in value.items()
        }
    return value


def _free(item_type: Any) -> bool:
    return item_type is None or (
        isinstance(item_type, AnyType) and not isinstance(item_type, AnySimpleType)
    )


_JSON_TYPES: tuple[tuple[type[Any], str], ...] = (
    (bool, "boolean"),
    (int, "long"),
    (float, "double"),
    (str, "string"),
)


def _any_item(value: Any, tag: Any = "item") -> Any:
    """One JSON value as a SOAP-encoded accessor that says its own type."""
    node = etree.Element(tag, nsmap=cast(Any, {"xsi": _XSI, "xsd": _XSD, "SOAP-ENC": SOAP_ENC}))
    if value is None:
        node.set(f"{{{_XSI}}}nil", "true")
    elif isinstance(value, dict):
        for key, member in value.items():
            node.append(_any_item(member, key))
    elif isinstance(value, list):
        node.set(f"{{{_XSI}}}type", "SOAP-ENC:Array")
        node.set(f"{{{SOAP_ENC}}}arrayType", f"xsd:anyType[{len(value)}]")
        node.extend(_any_item(v) for v in value)
    else:
        kind = next(name for cls, name in _JSON_TYPES if isinstance(value, cls))
        node.set(f"{{{_XSI}}}type", f"xsd:{kind}")
        if isinstance(value, bool):
            node.text = "true" if value else "false"
        elif isinstance(value, float):
            node.text = repr(value)
        else:
            node.text = str(value)
    return node


def _array_item(xsd_type: Any) -> tuple[Any, Any]:
    """The item particle of a SOAP-ENC array and the items' type (None: any type)."""
    items = [element for _, element in xsd_type.elements]
    item = items[0] if len(items) == 1 else None
    if isinstance(item, XsdAny):
        return item, item.restrict
    if isinstance(item, Element):
        return item, item.type
    return item, None


# -- struct members by name (replies) -----------------------------------------------------


def order_struct_members(body: Any, part: Any) -> None:
    """Put the members of each struct in the reply in the schema's order, in place.

    Multi-reference values (``href``/``id``) are resolved first, so that every struct
    is where its accessor is. Members the schema does not know stay last, for zeep
    to report.
    """
    zeep_api.resolve_multiref(body)
    wrapper = next((c for c in body if isinstance(c.tag, str)), None)
    if wrapper is not None:
        _order(wrapper, part.type, 0)


_MAX_ORDER_DEPTH = 100


def _order(element: Any, xsd_type: Any, depth: int) -> None:
    if not isinstance(xsd_type, ComplexType) or depth > _MAX_ORDER_DEPTH:
        return
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return
    if zeep_api.array_type(xsd_type) is not None:
        _, item_type = _array_item(xsd_type)
        for child in children:
            _order(child, item_type, depth + 1)
        return
    members: dict[str, tuple[int, Any]] = {}
    for index, (_, member) in enumerate(xsd_type.elements):
        if isinstance(member, Element) and not isinstance(member, XsdAny):
            members.setdefault(str(member.name), (index, member))
    unknown = (len(members), None)
    placed = [
        (members.get(etree.QName(c).localname, unknown), n, c) for n, c in enumerate(children)
    ]
    ordered = sorted(placed, key=lambda p: (p[0][0], p[1]))
    if ordered != placed:
        for child in children:
            element.remove(child)
        element.extend(c for _, _, c in ordered)
    for (_, member), _, child in ordered:
        if member is not None:
            _order(child, member.type, depth + 1)
