"""HTTP and envelope plumbing shared by the hand-written legacy SOAP servers.

A server is a mapping from the qualified name of the Body's first child (``""``
for an empty Body) to a handler. A handler gets the parsed :class:`Request` and
returns an :class:`Answer` (Body and Header children), or raises :class:`Fault`.
The plumbing checks what a strict legacy stack would: the HTTP content type
matches the envelope's SOAP version, the XML has no DTD, the envelope is an
envelope; it answers faults with HTTP 500 in the request's SOAP version.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lxml import etree

from tests.servers import serve_http

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
XML_NS = "http://www.w3.org/XML/1998/namespace"

MEDIA_TYPES = {SOAP11: "text/xml", SOAP12: "application/soap+xml"}
# Fault codes by SOAP version: the caller's fault, ours, and an envelope we do not speak.
_CODES = {
    SOAP11: {"client": "Client", "server": "Server", "version": "VersionMismatch"},
    SOAP12: {"client": "Sender", "server": "Receiver", "version": "VersionMismatch"},
}
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
)
_MAX_BODY = 1 << 20


class Fault(Exception):
    """A SOAP fault; ``code`` is ``client`` or ``server`` (Sender/Receiver in SOAP 1.2)."""

    def __init__(
        self,
        code: str,
        reason: str,
        detail: etree._Element | None = None,
        subcode: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.code, self.reason, self.detail, self.subcode = code, reason, detail, subcode


@dataclass
class Request:
    """One parsed SOAP request."""

    soap: str  # envelope namespace
    header: etree._Element | None
    body: etree._Element
    content_type: str
    soap_action: str | None

    @property
    def action(self) -> str | None:
        """SOAP 1.2: the ``action`` parameter of the content type; SOAP 1.1: ``SOAPAction``."""
        if self.soap == SOAP11:
            return None if self.soap_action is None else self.soap_action.strip('"')
        for param in self.content_type.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "action":
                return value.strip('"')
        return None

    @property
    def operation(self) -> etree._Element | None:
        """The Body's first child element (the rpc wrapper or the bare part)."""
        return next((c for c in self.body if isinstance(c.tag, str)), None)


@dataclass
class Answer:
    """What goes into the reply's Body and Header."""

    body: list[etree._Element] = field(default_factory=list)
    header: list[etree._Element] = field(default_factory=list)


Handler = Callable[[Request], Answer]


def el(tag: str, *content: etree._Element | str | None) -> etree._Element:
    """An element ``tag`` (Clark notation) with text and child elements."""
    node = etree.Element(tag)
    for item in content:
        if item is None:
            continue
        if isinstance(item, str):
            node.text = (node.text or "") + item
        else:
            node.append(item)
    return node


def typed(tag: str, value: str, xsd_type: str) -> etree._Element:
    """An rpc/encoded accessor: ``<tag xsi:type="xsd:int">value</tag>``."""
    node = el(tag, value)
    node.set(f"{{{XSI}}}type", xsd_type)
    return node


def child(parent: etree._Element, tag: str) -> etree._Element:
    """The child ``tag`` (Clark notation) of ``parent``; a Client fault if it is missing."""
    found = parent.find(tag)
    if found is None:
        got = [etree.QName(c).text for c in parent if isinstance(c.tag, str)]
        raise Fault("client", f"{etree.QName(parent).localname}: expected {tag}, got {got}")
    return found


def text(parent: etree._Element, tag: str) -> str:
    return child(parent, tag).text or ""


def integer(parent: etree._Element, tag: str) -> int:
    raw = text(parent, tag).strip()
    try:
        return int(raw)
    except ValueError:
        raise Fault("client", f"{tag}: {raw!r} is not an integer") from None


def is_nil(node: etree._Element) -> bool:
    return node.get(f"{{{XSI}}}nil") in ("true", "1")


def envelope(soap: str, answer: Answer, nsmap: Mapping[str, str] | None = None) -> bytes:
    """A reply envelope; ``nsmap`` declares extra prefixes (e.g. for ``xsi:type`` values)."""
    names = {"soap": soap, "xsi": XSI, "xsd": XSD, "SOAP-ENC": SOAP_ENC, **(nsmap or {})}
    root = etree.Element(f"{{{soap}}}Envelope", nsmap=names)
    if answer.header:
        etree.SubElement(root, f"{{{soap}}}Header").extend(answer.header)
    etree.SubElement(root, f"{{{soap}}}Body").extend(answer.body)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def fault_envelope(soap: str, fault: Fault) -> bytes:
    """The Fault in the shape of SOAP 1.1 or 1.2."""
    code = f"soap:{_CODES[soap][fault.code]}"
    if soap == SOAP11:
        node = el(f"{{{SOAP11}}}Fault", el("faultcode", code), el("faultstring", fault.reason))
        if fault.detail is not None:
            node.append(el("detail", fault.detail))
        return envelope(soap, Answer([node]))
    value = el(f"{{{SOAP12}}}Code", el(f"{{{SOAP12}}}Value", code))
    nsmap: dict[str, str] = {}
    if fault.subcode:
        nsmap["app"] = etree.QName(fault.subcode).namespace or ""
        sub = f"app:{etree.QName(fault.subcode).localname}"
        value.append(el(f"{{{SOAP12}}}Subcode", el(f"{{{SOAP12}}}Value", sub)))
    reason = el(f"{{{SOAP12}}}Reason", el(f"{{{SOAP12}}}Text", fault.reason))
    reason[0].set(f"{{{XML_NS}}}lang", "en")
    node = el(f"{{{SOAP12}}}Fault", value, reason)
    if fault.detail is not None:
        node.append(el(f"{{{SOAP12}}}Detail", fault.detail))
    return envelope(soap, Answer([node]), nsmap)


def parse(data: bytes, content_type: str, soap_action: str | None) -> Request:
    """The request envelope; DTDs, non-envelopes and a content type of the wrong
    SOAP version are refused with a fault."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise Fault("client", f"not well-formed XML: {exc}") from None
    info: Any = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise Fault("client", "DTDs are not accepted")
    soap = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "Envelope" or soap not in MEDIA_TYPES:
        raise Fault("version", f"not a SOAP envelope: {root.tag}")
    media = content_type.split(";")[0].strip().lower()
    if media != MEDIA_TYPES[soap]:
        raise Fault("client", f"SOAP {soap} envelope sent as {media!r}")
    body = root.find(f"{{{soap}}}Body")
    if body is None:
        raise Fault("client", "the envelope has no Body")
    return Request(soap, root.find(f"{{{soap}}}Header"), body, content_type, soap_action)


@dataclass
class LegacyServer:
    """A running server: its base URL and the requests it received."""

    url: str
    requests: list[Request] = field(default_factory=list)


@contextlib.contextmanager
def serve(
    operations: Mapping[str, Handler], nsmap: Mapping[str, str] | None = None
) -> Iterator[LegacyServer]:
    """Serve ``operations`` on a free loopback port (any path) until the block ends."""
    state = LegacyServer(url="")

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            if length > _MAX_BODY:
                self._send(413, b"", "text/plain")
                return
            data = self.rfile.read(length)
            content_type = self.headers.get("content-type", "")
            soap = SOAP12 if "soap+xml" in content_type else SOAP11
            try:
                request = parse(data, content_type, self.headers.get("soapaction"))
                soap = request.soap
                state.requests.append(request)
                operation = request.operation
                key = etree.QName(operation).text if operation is not None else ""
                if key not in operations:
                    raise Fault("client", f"no operation for body element {key!r}")
                reply, status = envelope(soap, operations[key](request), nsmap), 200
            except Fault as fault:
                reply, status = fault_envelope(soap, fault), 500
            except Exception as exc:  # a bug here must show as a Server fault, not a hang
                reply, status = fault_envelope(soap, Fault("server", f"internal: {exc!r}")), 500
            self._send(status, reply, f"{MEDIA_TYPES[soap]}; charset=utf-8")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)) as url:
        state.url = url
        yield state
