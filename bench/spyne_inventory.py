"""The benchmark's peer: spyne serving the demo's InventoryService natively.

The same spyne service class as the demo's legacy server (its four operations,
the rules engine answering ``GetReorderAdvice`` in-process), as a plain spyne
``WsgiApplication`` for gunicorn: ``gunicorn spyne_inventory:application``.
SOAP 1.1 at any path.
"""

from __future__ import annotations

from spyne import Application
from spyne import const as spyne_const
from spyne.server.wsgi import WsgiApplication

from strangler.demo.inventory.data import StockLedger
from strangler.demo.inventory.models import TNS
from strangler.demo.inventory.protocols import InventorySoap11
from strangler.demo.inventory.service import InventoryService

spyne_const.MIN_GC_INTERVAL = float("inf")  # no gc.collect() after requests (as the demo)

_app = Application(
    [InventoryService],
    tns=TNS,
    name="InventoryService",
    in_protocol=InventorySoap11(validator="soft"),
    out_protocol=InventorySoap11(),
)
_app.user_data = StockLedger()
application = WsgiApplication(_app)
