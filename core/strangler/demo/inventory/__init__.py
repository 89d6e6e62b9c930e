"""The demo estate's legacy SOAP ``InventoryService`` (spyne, SOAP 1.1 and 1.2).

A small retailer back end to strangle: stock levels, a catalogue, a reorder
rules engine and stock adjustments, document/literal wrapped in namespace
``urn:strangler:demo:inventory``, with a ``RequestContext`` SOAP header, a
declared ``StockFault`` and WS-Security / HTTP Basic protected endpoints.

>>> with start_inventory_server() as server:       # doctest: +SKIP
...     client = zeep.Client(server.wsdl_url)
...     client.service.GetStock("SKU-1001")

Run it in the foreground with ``python -m strangler.demo.inventory``.
"""

from strangler.demo.inventory.models import TNS
from strangler.demo.inventory.security import password_digest
from strangler.demo.inventory.server import InventoryServer, start_inventory_server
from strangler.demo.inventory.wsdl import (
    BINDING_SOAP11,
    BINDING_SOAP12,
    PORT_SOAP11,
    PORT_SOAP12,
    SERVICE_QNAME,
    WSDL_PATH,
    render_wsdl,
)
from strangler.demo.inventory.wsgi import (
    BASIC_SOAP11_PATH,
    SOAP11_PATH,
    SOAP12_PATH,
    WSDL_ROUTE,
    WSSE_SOAP11_PATH,
    InventoryWsgiApp,
)

__all__ = [
    "BASIC_SOAP11_PATH",
    "BINDING_SOAP11",
    "BINDING_SOAP12",
    "PORT_SOAP11",
    "PORT_SOAP12",
    "SERVICE_QNAME",
    "SOAP11_PATH",
    "SOAP12_PATH",
    "TNS",
    "WSDL_PATH",
    "WSDL_ROUTE",
    "WSSE_SOAP11_PATH",
    "InventoryServer",
    "InventoryWsgiApp",
    "password_digest",
    "render_wsdl",
    "start_inventory_server",
]
