"""SOAP encoding (rpc/encoded): the type information such services expect.

zeep writes rpc/encoded requests like rpc/literal ones: no ``encodingStyle``
and no ``xsi:type`` on the parts. Services of that era (Axis 1, SOAP::Lite,
.NET remoting) often need the type of each part, and ``SOAP-ENC:arrayType`` on
arrays, to decode a call. :func:`encoded_operations` finds which operations a
binding declares ``use="encoded"`` and :func:`add_type_information` adds what
the SOAP 1.1 encoding rules (section 5) ask for to the envelope zeep built.
"""

from __future__ import annotations

from typing import Any, cast

from lxml import etree
from zeep.xsd import ComplexType

from strangler.adapters.soap import zeep_api

__all__ = ["SOAP_ENC", "add_type_information", "encoded_operations"]

SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
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
