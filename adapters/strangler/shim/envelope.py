"""An incoming SOAP request: its version, its action and the parts of its envelope.

The version is the envelope's namespace (SOAP 1.1 or 1.2); the HTTP content
type must agree (``text/xml`` for 1.1, ``application/soap+xml`` for 1.2). The
action is the ``SOAPAction`` header (1.1) or the content type's ``action``
parameter (1.2; 1.1 clients that send one are heard too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from strangler.errors import InvalidInput

__all__ = [
    "MEDIA_TYPES",
    "SOAP11",
    "SOAP12",
    "Incoming",
    "NotAnEnvelope",
    "NotUnderstood",
    "VersionMismatch",
    "in_version",
    "read_envelope",
    "soap_action",
]

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
MEDIA_TYPES = {"1.1": "text/xml", "1.2": "application/soap+xml"}
_VERSIONS = {SOAP11: "1.1", SOAP12: "1.2"}


class NotAnEnvelope(InvalidInput):
    """The body is XML but not a SOAP envelope the shim can read."""

    soap_version: str | None = None


class VersionMismatch(InvalidInput):
    """The root is not a SOAP 1.1 or 1.2 Envelope (the ``VersionMismatch`` fault)."""

    fault_code = "VersionMismatch"


class NotUnderstood(InvalidInput):
    """A header block marked ``mustUnderstand`` that the operation does not declare."""

    fault_code = "MustUnderstand"


@dataclass(frozen=True)
class Incoming:
    """A parsed request envelope."""

    version: str
    action: str | None
    envelope: Any
    header: Any
    body: Any

    @property
    def namespace(self) -> str:
        return SOAP11 if self.version == "1.1" else SOAP12

    @property
    def first(self) -> Any:
        """The Body's first element (a wrapper, a bare part), or None for an empty Body."""
        return next((c for c in self.body if isinstance(c.tag, str)), None)


def soap_action(headers: dict[str, str]) -> str | None:
    """The action a request names: ``SOAPAction``, else the content type's ``action``."""
    action = headers.get("soapaction")
    if action is not None:
        action = action.strip().strip('"')
        if action:
            return action
    for param in headers.get("content-type", "").split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "action":
            return value.strip().strip('"') or None
    return None


def guess_version(content_type: str) -> str:
    """The SOAP version a content type speaks (for a fault before the envelope is read)."""
    return "1.2" if "soap+xml" in content_type.lower() else "1.1"


def read_envelope(body: bytes, headers: dict[str, str], parse: Callable[[bytes], Any]) -> Incoming:
    """The request in ``body``, parsed by ``parse`` (which enforces the limits)."""
    root = parse(body)
    name = etree.QName(root)
    version = _VERSIONS.get(name.namespace or "")
    if name.localname != "Envelope" or version is None:
        raise VersionMismatch(f"the root element is {name.text}, not a SOAP 1.1 or 1.2 Envelope")
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media != MEDIA_TYPES[version]:
        refused = NotAnEnvelope(
            f"a SOAP {version} envelope is sent as {MEDIA_TYPES[version]}, not {media}"
        )
        refused.soap_version = version  # answered in the envelope's version
        raise refused
    namespace = name.namespace
    header = body_element = None
    for child in root:
        if not isinstance(child.tag, str):
            continue
        if child.tag == f"{{{namespace}}}Header" and header is None and body_element is None:
            header = child
        elif child.tag == f"{{{namespace}}}Body" and body_element is None:
            body_element = child
        else:
            raise NotAnEnvelope(f"unexpected {etree.QName(child).text} in the Envelope")
    if body_element is None:
        raise NotAnEnvelope("the Envelope has no Body")
    return Incoming(version, soap_action(headers), root, header, body_element)


def in_version(envelope: Any, version: str) -> Any:
    """``envelope`` (an lxml root) in SOAP ``version``: the envelope's own elements and
    attributes (``Envelope``, ``Header``, ``Body``, ``mustUnderstand``...) moved to that
    version's namespace, everything inside them untouched."""
    old = SOAP12 if version == "1.1" else SOAP11
    new = SOAP11 if version == "1.1" else SOAP12
    if etree.QName(envelope).namespace != old:
        return envelope
    prefix = next((p for p, ns in envelope.nsmap.items() if ns == old), None) or "soap"
    nsmap = {p: ns for p, ns in envelope.nsmap.items() if ns != old}
    nsmap[prefix] = new
    root = etree.Element(f"{{{new}}}{etree.QName(envelope).localname}", nsmap=nsmap)
    for key, value in envelope.attrib.items():
        root.set(_moved(key, old, new), value)
    root.text = envelope.text
    root.extend(list(envelope))
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag.startswith(f"{{{old}}}"):
            element.tag = _moved(element.tag, old, new)
        for key in [str(k) for k in element.attrib if str(k).startswith(f"{{{old}}}")]:
            element.set(_moved(key, old, new), element.attrib.pop(key))
    etree.cleanup_namespaces(root)
    return root


def _moved(name: str, old: str, new: str) -> str:
    return f"{{{new}}}{name[len(old) + 2 :]}" if name.startswith(f"{{{old}}}") else name
