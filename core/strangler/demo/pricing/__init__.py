"""The demo estate's legacy XML-RPC pricing service (standard library ``xmlrpc.server``).

Prices for the inventory demo's catalogue, with discounts for the ERP's
customer tiers, served at ``http://host:port/RPC2`` with introspection:

=======================  =============================================  ==========================
method                   signature                                      faults
=======================  =============================================  ==========================
``pricing.quote``        struct quote(string sku, int quantity,         400 quantity <= 0 or not
                         string customer_no)                            an int; 404; 500
``pricing.list_price``   double list_price(string sku)                  404 unknown sku; 500
``pricing.price_list``   array price_list(string category) /            400 category not a string
                         array price_list()
``pricing.valid_until``  dateTime.iso8601 valid_until()
``pricing.ping``         boolean ping()
=======================  =============================================  ==========================

A quote is ``{sku, quantity, unit_price, discount_pct, total, currency}``
(money as doubles, currency ``EUR``); a price list entry is ``{sku, name,
category, unit_price, currency, status}``. SKUs are matched ignoring case and
surrounding blanks (an ERP ``CHAR(12)`` value works); ``ERR-BACKEND`` always
fails with fault 500. Unknown methods fault with ``-32601``, a wrong number of
arguments with ``400``. ``system.listMethods``, ``system.methodSignature``,
``system.methodHelp`` and ``system.multicall`` are available.

>>> with start_pricing_server() as server:                 # doctest: +SKIP
...     ServerProxy(server.url).pricing.quote("SKU-1001", 24, "K10001")

Run it in the foreground with ``python -m strangler.demo.pricing``.
"""

from strangler.demo.pricing.prices import (
    CURRENCY,
    TIER_DISCOUNT_PCT,
    VOLUME_DISCOUNT_PCT,
)
from strangler.demo.pricing.rpc import MAX_REQUEST_BYTES, METHOD_NOT_FOUND, RPC_PATH
from strangler.demo.pricing.server import PricingServer, start_pricing_server
from strangler.demo.pricing.service import PricingService

__all__ = [
    "CURRENCY",
    "MAX_REQUEST_BYTES",
    "METHOD_NOT_FOUND",
    "RPC_PATH",
    "TIER_DISCOUNT_PCT",
    "VOLUME_DISCOUNT_PCT",
    "PricingServer",
    "PricingService",
    "start_pricing_server",
]
