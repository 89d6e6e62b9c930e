"""The demo estate's legacy ERP: a retailer's old order database in one SQLite file.

>>> path = build_erp_database(Path("/tmp/erp.sqlite"))   # doctest: +SKIP
>>> erp_url(path)                                          # doctest: +SKIP
'sqlite:////tmp/erp.sqlite'

Data dictionary
---------------
Table and column names are upper case and unquoted. All data is generated
deterministically from a seed (default 7: 200 customers, 2,000 orders,
about 6,000 order lines, 56 stock rows), as of 2024-06-30 18:00 UTC.

``CUSTOMERS`` — key ``CUST_NO``

- ``CUST_NO CHAR(8)``: a segment letter and five digits, **right-padded with
  two spaces** (``'C10001  '``). ``C`` retail, ``W`` wholesale, ``K`` key account.
- ``FIRST_NAME``, ``LAST_NAME``, ``CITY`` ``VARCHAR(30)``: UPPER CASE, ASCII only.
- ``EMAIL VARCHAR(80)``: lower case, NULL for about 15 % of customers.
- ``CREDIT_LIMIT INTEGER``: money in **euro cents** (``250000`` = 2,500.00 EUR).
- ``STATUS CHAR(1)``: ``A`` active, ``H`` on hold, ``X`` closed.
- ``CREATED_YYYYMMDD INTEGER``: a date as a number, ``20120520``.

``ORDERS`` — key ``ORDER_NO``

- ``ORDER_NO INTEGER``: from 100001, ascending with ``ORDER_DATE``.
- ``CUST_NO CHAR(8)``: padded, references ``CUSTOMERS``.
- ``ORDER_DATE TEXT``: **``DD.MM.YYYY``** (``'07.03.2023'``); sorting the text
  does not sort by date. Never earlier than the customer's creation date.
- ``STATUS CHAR(1)``: ``N`` new, ``S`` shipped, ``C`` cancelled.
- ``TOTAL DECIMAL(12, 2)``: the sum of the order's ``QTY * UNIT_PRICE``
  (cancelled orders keep their total).
- ``UPDATED_AT TEXT``: last change, fixed-width ISO 8601 in UTC with no zone
  and always six fractional digits (``'2024-03-05T14:22:10.004211'``), so text
  order is time order. Indexed, for CDC polling on ``UPDATED_AT > :watermark``.

``ORDER_LINES`` — **composite key** (``ORDER_NO``, ``LINE_NO``)

- ``ORDER_NO INTEGER``: references ``ORDERS``.
- ``LINE_NO INTEGER``: **10, 20, 30, ...** (room for inserting lines), 1-5 per order.
- ``SKU CHAR(12)``: an inventory demo SKU **right-padded to 12** (``'SKU-1001    '``).
- ``QTY INTEGER``: 1-12.
- ``UNIT_PRICE DECIMAL(10, 2)``: the catalogue list price.

``STOCK`` — **composite key** (``SKU``, ``WAREHOUSE``)

- ``SKU CHAR(12)``: padded like ``ORDER_LINES.SKU``.
- ``WAREHOUSE VARCHAR(12)``: ``WH-CENTRAL``, ``WH-NORTH``, ``WH-OUTLET``, ``WH-SOUTH``
  (not padded). ``WH-CENTRAL`` holds the inventory service's starting figures.
- ``ON_HAND INTEGER``, ``REORDER_POINT INTEGER``.

Quirks to expect
----------------
- Padded ``CHAR`` keys: SQLite does not pad or trim, so compare with the
  padded value or ``RTRIM(col)``; a plain ``'C10001'`` matches nothing.
- Money three ways: integer cents (``CREDIT_LIMIT``) and ``DECIMAL`` columns,
  which SQLite stores by NUMERIC affinity as REAL, or INTEGER for whole
  amounts (``59`` rather than ``59.00``). Read them as ``Numeric(scale=2)``.
- Three date encodings: ``YYYYMMDD`` integers, ``DD.MM.YYYY`` text and ISO text.
- Foreign keys are declared but SQLite does not enforce them by default.
- Discontinued SKUs (``SKU-1004``, ``SKU-2003``, ``SKU-4004``) only appear in
  orders before 2023.

:func:`touch_orders` stamps random orders with a fresh ``UPDATED_AT`` (strictly
increasing, past every existing value) to drive a CDC demo.
"""

from strangler.demo.erp.database import (
    build_erp_database,
    erp_url,
    orders_watermark,
    touch_orders,
)
from strangler.demo.erp.generate import AS_OF
from strangler.demo.erp.schema import (
    CUSTOMER_SEGMENTS,
    CUSTOMER_STATUSES,
    ERP_PRIMARY_KEYS,
    ERP_TABLES,
    ORDER_STATUSES,
    SCHEMA_VERSION,
)

__all__ = [
    "AS_OF",
    "CUSTOMER_SEGMENTS",
    "CUSTOMER_STATUSES",
    "ERP_PRIMARY_KEYS",
    "ERP_TABLES",
    "ORDER_STATUSES",
    "SCHEMA_VERSION",
    "build_erp_database",
    "erp_url",
    "orders_watermark",
    "touch_orders",
]
