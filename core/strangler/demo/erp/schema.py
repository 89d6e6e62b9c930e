"""The ERP's tables as the legacy system declares them: DDL, keys and code values.

The DDL is plain SQLite SQL with the types the old system used (``CHAR``,
``DECIMAL``), so SQLAlchemy reflection reports ``CHAR(8)``, ``DECIMAL(12, 2)``
and the composite primary keys exactly as a spec writer will meet them.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CUSTOMER_SEGMENTS",
    "CUSTOMER_STATUSES",
    "CUST_NO_WIDTH",
    "DDL",
    "ERP_PRIMARY_KEYS",
    "ERP_TABLES",
    "ORDER_STATUSES",
    "SCHEMA_VERSION",
    "SKU_WIDTH",
    "pad",
]

SCHEMA_VERSION: Final = 1
"""Stored in ``PRAGMA user_version``; bump it whenever the DDL or the generator changes."""

ERP_TABLES: Final[tuple[str, ...]] = ("CUSTOMERS", "ORDERS", "ORDER_LINES", "STOCK")
"""Every table of the ERP, parents before children."""

ERP_PRIMARY_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "CUSTOMERS": ("CUST_NO",),
    "ORDERS": ("ORDER_NO",),
    "ORDER_LINES": ("ORDER_NO", "LINE_NO"),
    "STOCK": ("SKU", "WAREHOUSE"),
}
"""The primary key columns of each table, in key order."""

CUST_NO_WIDTH: Final = 8
"""``CUST_NO`` is ``CHAR(8)``: six significant characters, right-padded with spaces."""

SKU_WIDTH: Final = 12
"""``SKU`` is ``CHAR(12)``: ``SKU-1001`` plus four trailing spaces."""

CUSTOMER_SEGMENTS: Final[dict[str, str]] = {
    "C": "retail",
    "W": "wholesale",
    "K": "key account",
}
"""The first letter of a customer number names the customer's segment."""

CUSTOMER_STATUSES: Final[dict[str, str]] = {"A": "active", "H": "on hold", "X": "closed"}
"""``CUSTOMERS.STATUS`` codes."""

ORDER_STATUSES: Final[dict[str, str]] = {"N": "new", "S": "shipped", "C": "cancelled"}
"""``ORDERS.STATUS`` codes."""

DDL: Final[tuple[str, ...]] = (
    """
    CREATE TABLE CUSTOMERS (
        CUST_NO          CHAR(8)      NOT NULL,
        FIRST_NAME       VARCHAR(30)  NOT NULL,
        LAST_NAME        VARCHAR(30)  NOT NULL,
        CITY             VARCHAR(30)  NOT NULL,
        EMAIL            VARCHAR(80),
        CREDIT_LIMIT     INTEGER      NOT NULL,
        STATUS           CHAR(1)      NOT NULL DEFAULT 'A',
        CREATED_YYYYMMDD INTEGER      NOT NULL,
        CONSTRAINT PK_CUSTOMERS PRIMARY KEY (CUST_NO)
    )
    """,
    """
    CREATE TABLE ORDERS (
        ORDER_NO   INTEGER        NOT NULL,
        CUST_NO    CHAR(8)        NOT NULL,
        ORDER_DATE TEXT           NOT NULL,
        STATUS     CHAR(1)        NOT NULL DEFAULT 'N',
        TOTAL      DECIMAL(12, 2) NOT NULL,
        UPDATED_AT TEXT           NOT NULL,
        CONSTRAINT PK_ORDERS PRIMARY KEY (ORDER_NO),
        CONSTRAINT FK_ORDERS_CUSTOMERS FOREIGN KEY (CUST_NO) REFERENCES CUSTOMERS (CUST_NO)
    )
    """,
    "CREATE INDEX IX_ORDERS_CUST_NO ON ORDERS (CUST_NO)",
    "CREATE INDEX IX_ORDERS_UPDATED_AT ON ORDERS (UPDATED_AT)",
    """
    CREATE TABLE ORDER_LINES (
        ORDER_NO   INTEGER        NOT NULL,
        LINE_NO    INTEGER        NOT NULL,
        SKU        CHAR(12)       NOT NULL,
        QTY        INTEGER        NOT NULL,
        UNIT_PRICE DECIMAL(10, 2) NOT NULL,
        CONSTRAINT PK_ORDER_LINES PRIMARY KEY (ORDER_NO, LINE_NO),
        CONSTRAINT FK_ORDER_LINES_ORDERS FOREIGN KEY (ORDER_NO) REFERENCES ORDERS (ORDER_NO)
    )
    """,
    """
    CREATE TABLE STOCK (
        SKU           CHAR(12)    NOT NULL,
        WAREHOUSE     VARCHAR(12) NOT NULL,
        ON_HAND       INTEGER     NOT NULL,
        REORDER_POINT INTEGER     NOT NULL,
        CONSTRAINT PK_STOCK PRIMARY KEY (SKU, WAREHOUSE)
    )
    """,
)
"""The statements that create an empty ERP schema, in order."""


def pad(value: str, width: int) -> str:
    """``value`` right-padded with spaces to ``width``, as a ``CHAR(width)`` column holds it."""
    if len(value) > width:
        raise ValueError(f"{value!r} is longer than CHAR({width})")
    return value.ljust(width)
