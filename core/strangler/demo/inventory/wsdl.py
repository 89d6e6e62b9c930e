"""The shipped ``inventory.wsdl`` and how it is served.

``inventory.wsdl`` is one WSDL 1.1 document with a SOAP 1.1 binding
(``tns:InventorySoap11Binding``) and a SOAP 1.2 binding
(``tns:InventorySoap12Binding``) of the same port type, exposed by the
service ``tns:InventoryService`` as ports ``InventorySoap11`` and
``InventorySoap12``. It was hand-merged from the two documents spyne
generates (see :func:`generate_spyne_wsdl`); its port addresses point at
:data:`SHIPPED_BASE_URL` and are rewritten by :func:`render_wsdl` when served.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "BINDING_SOAP11",
    "BINDING_SOAP12",
    "PORT_SOAP11",
    "PORT_SOAP12",
    "SERVICE_QNAME",
    "SHIPPED_BASE_URL",
    "WSDL_PATH",
    "generate_spyne_wsdl",
    "render_wsdl",
]

WSDL_PATH: Final = Path(__file__).with_name("inventory.wsdl")
"""The canonical WSDL shipped with the package."""

SHIPPED_BASE_URL: Final = "http://localhost:8001"
"""Scheme, host and port of the port addresses in the shipped file."""

_TNS = "urn:strangler:demo:inventory"
SERVICE_QNAME: Final = f"{{{_TNS}}}InventoryService"
BINDING_SOAP11: Final = f"{{{_TNS}}}InventorySoap11Binding"
"""QName of the SOAP 1.1 binding, e.g. for zeep's ``client.create_service``."""
BINDING_SOAP12: Final = f"{{{_TNS}}}InventorySoap12Binding"
"""QName of the SOAP 1.2 binding."""
PORT_SOAP11: Final = "InventorySoap11"
PORT_SOAP12: Final = "InventorySoap12"


@cache
def _shipped_text() -> str:
    return WSDL_PATH.read_text(encoding="utf-8")


def render_wsdl(
    base_url: str, *, soap11_path: str = "/soap11", soap12_path: str = "/soap12"
) -> str:
    """The shipped WSDL with its two port addresses moved to ``base_url``.

    ``base_url`` is ``scheme://host:port`` without a trailing slash; the
    SOAP 1.1 port gets ``soap11_path`` appended, the SOAP 1.2 port ``soap12_path``.
    """
    text = _shipped_text()
    for shipped, path in (("/soap11", soap11_path), ("/soap12", soap12_path)):
        text = text.replace(
            f'location="{SHIPPED_BASE_URL}{shipped}"', f'location="{base_url.rstrip("/")}{path}"'
        )
    return text


def generate_spyne_wsdl(
    soap_version: Literal["1.1", "1.2"], base_url: str = SHIPPED_BASE_URL
) -> bytes:
    """The WSDL spyne itself generates for one SOAP version (the merge's input).

    Regenerate both after changing the service and merge the differences into
    ``inventory.wsdl`` by hand: the schema is shared, the bindings are not.
    """
    from spyne import Application
    from spyne.server.wsgi import WsgiApplication

    from strangler.demo.inventory.protocols import InventorySoap11, InventorySoap12
    from strangler.demo.inventory.service import InventoryService

    protocol = InventorySoap11 if soap_version == "1.1" else InventorySoap12
    app = Application(
        [InventoryService],
        tns=_TNS,
        name="InventoryService",
        in_protocol=protocol(),
        out_protocol=protocol(),
    )
    wsgi = WsgiApplication(app)
    path = "/soap11" if soap_version == "1.1" else "/soap12"
    wsgi.doc.wsdl11.build_interface_document(base_url + path)
    document: bytes = wsgi.doc.wsdl11.get_interface_document()
    return document
