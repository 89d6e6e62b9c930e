"""spyne's SOAP 1.1 / 1.2 protocols, hardened and with standard fault output.

Two departures from stock spyne 2.14, each as small as possible:

* **Faults.** spyne writes the members of a ``Fault`` subclass straight into
  ``<Fault>`` (not schema-valid), and its ``Soap12`` rejects any detail that is
  not a ``dict``. Here every fault is written by hand: ``faultcode``,
  ``faultstring``, ``faultactor`` (only when set) and ``detail`` for SOAP 1.1;
  ``Code/Value`` (``Sender``/``Receiver``) with one unqualified ``Subcode``
  per further dotted part of the spyne fault code, ``Reason/Text``, ``Role``
  (only when set) and ``Detail`` for SOAP 1.2. A :class:`StockFault` detail
  is its ``<tns:StockFault>`` element. SOAP 1.2 *Sender* faults go out with
  HTTP 400, as its HTTP binding asks.
* **Hostile XML.** The lxml parser is pinned to no DTD loading, no entity
  resolution and no network, and any document carrying a DOCTYPE is refused
  with a ``Client.DTDNotAllowed`` fault (SOAP forbids DTDs in messages).
"""

from __future__ import annotations

from typing import Any, Final

from lxml import etree
from spyne import Fault
from spyne.const.http import HTTP_400, HTTP_500
from spyne.protocol.soap import Soap11, Soap12
from spyne.protocol.xml import _append
from spyne.util.etreeconv import root_dict_to_etree

from strangler.demo.inventory.models import StockFault

__all__ = ["SAFE_PARSER_OPTIONS", "InventorySoap11", "InventorySoap12"]

SAFE_PARSER_OPTIONS: Final[dict[str, bool]] = {
    "resolve_entities": False,
    "load_dtd": False,
    "dtd_validation": False,
    "no_network": True,
    "huge_tree": False,
}
"""lxml parser settings for requests; spyne's defaults, spelled out so they stay put."""

_SOAP12_TOP_CODES: Final = {
    "Client": "Sender",
    "Server": "Receiver",
    "Sender": "Sender",
    "Receiver": "Receiver",
    "VersionMismatch": "VersionMismatch",
    "MustUnderstand": "MustUnderstand",
    "DataEncodingUnknown": "DataEncodingUnknown",
}


def _detail_content(fault: Any) -> Any:
    """The element (or ``None``) to put inside the fault's detail."""
    if isinstance(fault, StockFault):
        return fault.detail_element()
    detail = getattr(fault, "detail", None)
    if isinstance(detail, dict) and detail:
        return root_dict_to_etree(detail)
    if isinstance(detail, etree._Element):
        return detail
    return None


def _reject_doctype(ctx: Any) -> None:
    root = ctx.in_document[0]
    if root.getroottree().docinfo.doctype:
        raise Fault("Client.DTDNotAllowed", "a SOAP message must not contain a DTD")


class InventorySoap11(Soap11):  # type: ignore[misc]
    """SOAP 1.1 with standard fault elements and a DTD-refusing parser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, **SAFE_PARSER_OPTIONS})

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        super().create_in_document(ctx, charset)
        _reject_doctype(ctx)

    def fault_to_parent(
        self, ctx: Any, cls: Any, inst: Any, parent: Any, ns: Any, *args: Any, **kwargs: Any
    ) -> None:
        env = self.ns_soap_env
        fault = etree.Element(f"{{{env}}}Fault")
        etree.SubElement(fault, "faultcode").text = f"{self.soap_env}:{inst.faultcode}"
        etree.SubElement(fault, "faultstring").text = inst.faultstring
        if inst.faultactor:
            etree.SubElement(fault, "faultactor").text = inst.faultactor
        content = _detail_content(inst)
        if content is not None:
            etree.SubElement(fault, "detail").append(content)
        _append(parent, fault)

    schema_validation_error_to_parent = fault_to_parent


class InventorySoap12(Soap12):  # type: ignore[misc]
    """SOAP 1.2 with well-formed faults (any detail) and a DTD-refusing parser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, **SAFE_PARSER_OPTIONS})

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        super().create_in_document(ctx, charset)
        _reject_doctype(ctx)

    def fault_to_http_response_code(self, fault: Any) -> str:
        code = str(getattr(fault, "faultcode", "Server"))
        return str(HTTP_400 if code.split(".")[0] in ("Client", "Sender") else HTTP_500)

    def fault_to_parent(
        self, ctx: Any, cls: Any, inst: Any, parent: Any, ns: Any, *args: Any, **kwargs: Any
    ) -> None:
        env = self.ns_soap_env
        fault = etree.Element(f"{{{env}}}Fault")
        top, *subcodes = str(inst.faultcode).split(".")
        holder = etree.SubElement(fault, f"{{{env}}}Code")
        value = _SOAP12_TOP_CODES.get(top, "Receiver")
        etree.SubElement(holder, f"{{{env}}}Value").text = f"{self.soap_env}:{value}"
        for subcode in subcodes:
            holder = etree.SubElement(holder, f"{{{env}}}Subcode")
            etree.SubElement(holder, f"{{{env}}}Value").text = subcode
        reason = etree.SubElement(fault, f"{{{env}}}Reason")
        text = etree.SubElement(reason, f"{{{env}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", inst.lang or "en")
        text.text = inst.faultstring
        if inst.faultactor:
            etree.SubElement(fault, f"{{{env}}}Role").text = inst.faultactor
        content = _detail_content(inst)
        if content is not None:
            etree.SubElement(fault, f"{{{env}}}Detail").append(content)
        _append(parent, fault)

    schema_validation_error_to_parent = fault_to_parent
