"""SOAP Faults in the 1.1 or 1.2 form, with the problem's fields in the detail.

Every error the shim answers is first a problem (the RFC 9457 document the
REST edge would send: ``type``, ``title``, ``status``, ``detail`` and the
extension members), then a Fault of the request's SOAP version:

==============  ===============================  ==============================
problem         SOAP 1.1                         SOAP 1.2
==============  ===============================  ==============================
4xx             ``soap:Client``, HTTP 500        ``env:Sender``, HTTP 400
5xx             ``soap:Server``, HTTP 500        ``env:Receiver``, HTTP 500
``detail``      ``faultstring``                  ``env:Reason/env:Text``
the whole       ``detail/p:problem``             ``env:Detail/p:problem``
==============  ===============================  ==============================

``p`` is RFC 7807's XML namespace ``urn:ietf:rfc:7807``; arrays are repeated
``p:i`` elements (RFC 7807, appendix A). The problem's fields go in the detail
only for faults the shim raises itself: a legacy fault passed on keeps its own
code, subcodes and detail exactly (no detail element when it had none), as the
old clients saw it; a SOAP 1.1 dotted code (``Client.InvalidRequest``) answered in
SOAP 1.2 is ``Sender`` with the refinements as Subcodes. A fault the WSDL
declares for the operation is answered in its declared shape: the legacy
fault's own detail element when the legacy system sent one, or the declared
element written from the problem's ``faultdetail`` (a route's side).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from strangler.shim.envelope import MEDIA_TYPES, SOAP11, SOAP12

__all__ = ["PROBLEM_NS", "Fault", "fault_envelope"]

PROBLEM_NS = "urn:ietf:rfc:7807"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")


class Fault:
    """A Fault ready to send: HTTP status, content type and envelope bytes."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body
        self.headers: list[tuple[bytes, bytes]] = []


def fault_envelope(
    version: str,
    problem: dict[str, Any],
    *,
    declared: list[Any] | None = None,
    operation: Any = None,
    legacy: bool = False,
) -> Fault:
    """The Fault for ``problem`` in SOAP ``version``.

    ``declared``: detail elements to send instead of the problem (a legacy
    fault's own); ``operation``: zeep's binding operation, whose declared faults
    the problem's ``faultdetail`` is matched against. ``legacy``: the fault is
    the legacy system's, passed on: its detail is ``declared`` exactly (None: it
    had no detail element), never the problem's fields. A problem of type
    ``legacy-fault`` (a route's answer) is passed on the same way.
    """
    client = int(problem.get("status", 500)) < 500
    details: list[Any] | None = declared if declared else _declared_from(problem, operation)
    if not details:  # a legacy fault's own detail (or none at all), else the problem
        passed_on = legacy or _from_legacy(problem)
        details = declared if passed_on else [problem_element(problem)]
    reason = str(problem.get("faultstring") or problem.get("detail") or problem.get("title"))
    qualified = _qualified(problem.get("faultcode"))
    code = _code(version, None if qualified else problem.get("faultcode"), client)
    if version == "1.2":
        if qualified is not None:  # a code of its own (WS-Security's, say): a Subcode
            problem = {**problem, "subcodes": [qualified.text, *(problem.get("subcodes") or [])]}
        elif not problem.get("subcodes") and _dotted(problem.get("faultcode")):
            problem = {**problem, "subcodes": _dotted(problem.get("faultcode"))}
        root = _fault12(code, reason, problem, details)
        status = 400 if code == "Sender" else 500
    else:
        root = _fault11(qualified or code, reason, problem, details)
        status = 500
    body = etree.tostring(root, encoding="utf-8", xml_declaration=True)
    return Fault(status, f"{MEDIA_TYPES[version]}; charset=utf-8", body)


def _code(version: str, legacy: Any, client: bool) -> str:
    """The fault code's local name: a legacy fault's own when it has one."""
    local = str(legacy).rsplit("}", 1)[-1].rsplit(":", 1)[-1] if legacy else ""
    blames_caller = local.lower().startswith(("client", "sender")) if local else client
    if version == "1.2":
        if local in ("VersionMismatch", "MustUnderstand", "DataEncodingUnknown"):
            return local
        return "Sender" if blames_caller else "Receiver"
    if (
        local
        and _NAME.match(local)
        and local.lower().startswith(("client", "server", "versionmismatch", "mustunderstand"))
    ):
        return local
    return "Client" if blames_caller else "Server"


def _dotted(code: Any) -> list[str]:
    """The refinements of a SOAP 1.1 dotted code (``Client.InvalidRequest``), which are
    SOAP 1.2 Subcodes (``Sender`` / ``InvalidRequest``); none for a plain code."""
    local = str(code or "").rsplit("}", 1)[-1].rsplit(":", 1)[-1]
    return [part for part in local.split(".")[1:] if _NAME.match(part)]


def _qualified(code: Any) -> etree.QName | None:
    """A fault code in a namespace other than SOAP's own (``{ns}local``), else None."""
    text = str(code or "")
    if not text.startswith("{"):
        return None
    qname = etree.QName(text)
    return None if qname.namespace in (SOAP11, SOAP12) else qname


def _fault11(
    code: str | etree.QName, reason: str, problem: dict[str, Any], details: list[Any] | None
) -> Any:
    root = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    fault = etree.SubElement(etree.SubElement(root, f"{{{SOAP11}}}Body"), f"{{{SOAP11}}}Fault")
    if isinstance(code, etree.QName):
        node = etree.SubElement(fault, "faultcode", nsmap={"c": code.namespace or ""})
        node.text = f"c:{code.localname}"
    else:
        etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = reason
    if problem.get("faultactor"):
        etree.SubElement(fault, "faultactor").text = str(problem["faultactor"])
    if details is not None:
        etree.SubElement(fault, "detail").extend(details)
    return root


def _fault12(code: str, reason: str, problem: dict[str, Any], details: list[Any] | None) -> Any:
    root = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"env": SOAP12})
    fault = etree.SubElement(etree.SubElement(root, f"{{{SOAP12}}}Body"), f"{{{SOAP12}}}Fault")
    parent = etree.SubElement(fault, f"{{{SOAP12}}}Code")
    etree.SubElement(parent, f"{{{SOAP12}}}Value").text = f"env:{code}"
    for subcode in problem.get("subcodes") or []:
        parent = etree.SubElement(parent, f"{{{SOAP12}}}Subcode")
        qname = etree.QName(str(subcode)) if str(subcode).startswith("{") else None
        if qname is not None and qname.namespace:
            node = etree.SubElement(parent, f"{{{SOAP12}}}Value", nsmap={"sub": qname.namespace})
            node.text = f"sub:{qname.localname}"
        else:
            etree.SubElement(parent, f"{{{SOAP12}}}Value").text = str(subcode)
    text = etree.SubElement(etree.SubElement(fault, f"{{{SOAP12}}}Reason"), f"{{{SOAP12}}}Text")
    text.set(_XML_LANG, "en")
    text.text = reason
    if problem.get("faultactor"):
        etree.SubElement(fault, f"{{{SOAP12}}}Role").text = str(problem["faultactor"])
    if details is not None:
        etree.SubElement(fault, f"{{{SOAP12}}}Detail").extend(details)
    return root


def _from_legacy(problem: dict[str, Any]) -> bool:
    """Whether ``problem`` is a legacy system's fault passed on (a route's answer)."""
    return str(problem.get("type") or "").endswith("legacy-fault")


def problem_element(problem: dict[str, Any]) -> Any:
    """The problem document as RFC 7807's XML form."""
    root = etree.Element(f"{{{PROBLEM_NS}}}problem", nsmap={"p": PROBLEM_NS})
    for key, value in problem.items():
        if value is None or not _NAME.match(key):
            continue
        _member(root, key, value)
    return root


def _member(parent: Any, key: str, value: Any) -> None:
    node = etree.SubElement(parent, f"{{{PROBLEM_NS}}}{key}")
    _fill(node, value)


def _fill(node: Any, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if item is not None and _NAME.match(str(key)):
                _member(node, str(key), item)
    elif isinstance(value, list | tuple):
        for item in value:
            _fill(etree.SubElement(node, f"{{{PROBLEM_NS}}}i"), item)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    else:
        node.text = str(value)


def _declared_from(problem: dict[str, Any], operation: Any) -> list[Any]:
    """The problem's ``faultdetail`` written as the operation's declared fault, if one fits."""
    detail = problem.get("faultdetail")
    if operation is None or not isinstance(detail, dict):
        return []
    for message in getattr(operation, "faults", {}).values():
        for part in message.abstract.parts.values():
            element = part.element
            if element is None or element.qname.localname not in detail:
                continue
            value = detail[element.qname.localname]
            holder = etree.Element("holder")
            try:
                element.render(holder, element(**value) if isinstance(value, dict) else value)
            except (TypeError, ValueError, LookupError):
                return []
            return list(holder)
    return []
