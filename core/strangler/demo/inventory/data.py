"""The retailer's stock data: a small catalogue and a thread-safe stock ledger.

The catalogue is fixed; stock quantities live in a :class:`StockLedger` that
belongs to one server instance, so ``AdjustStock`` on one server never leaks
into another (tests start many servers side by side).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

__all__ = [
    "BACKEND_ERROR_SKU",
    "CATALOGUE",
    "DEFAULT_WAREHOUSE",
    "TENANT_WAREHOUSES",
    "CatalogueItem",
    "NegativeStockError",
    "StockLedger",
    "StockRecord",
    "UnknownSkuError",
    "warehouse_for",
]

DEFAULT_WAREHOUSE: Final = "WH-CENTRAL"
"""Warehouse reported when the caller names no tenant (or an unknown one)."""

TENANT_WAREHOUSES: Final[dict[str, str]] = {
    "north": "WH-NORTH",
    "south": "WH-SOUTH",
    "outlet": "WH-OUTLET",
}
"""Each tenant (from the ``RequestContext`` SOAP header) ships from its own warehouse."""

BACKEND_ERROR_SKU: Final = "ERR-BACKEND"
"""A SKU that makes every operation fail with a *Server* fault (a broken back end)."""


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """One line of the catalogue, plus the stock figures it starts with."""

    sku: str
    name: str
    category: str
    unit_price: Decimal
    status: str  # "ACTIVE" or "DISCONTINUED"
    initial_quantity: int
    reorder_point: int
    case_pack: int


def _item(
    sku: str,
    name: str,
    category: str,
    price: str,
    status: str,
    qty: int,
    reorder_point: int,
    case_pack: int,
) -> CatalogueItem:
    return CatalogueItem(sku, name, category, Decimal(price), status, qty, reorder_point, case_pack)


CATALOGUE: Final[tuple[CatalogueItem, ...]] = (
    _item("SKU-1001", "Espresso beans 1kg", "grocery", "18.90", "ACTIVE", 240, 60, 12),
    _item("SKU-1002", "Oat milk 1l", "grocery", "2.15", "ACTIVE", 880, 300, 24),
    _item("SKU-1003", "Dark chocolate 100g", "grocery", "1.99", "ACTIVE", 35, 80, 20),
    _item("SKU-1004", "Instant noodles 5-pack", "grocery", "3.49", "DISCONTINUED", 12, 0, 10),
    _item("SKU-2001", "Cotton T-shirt M", "apparel", "9.99", "ACTIVE", 150, 40, 10),
    _item("SKU-2002", "Rain jacket L", "apparel", "59.00", "ACTIVE", 18, 15, 6),
    _item("SKU-2003", "Wool socks 3-pack", "apparel", "12.50", "DISCONTINUED", 0, 0, 12),
    _item("SKU-3001", "LED bulb E27 9W", "hardware", "4.25", "ACTIVE", 500, 120, 50),
    _item("SKU-3002", "Cordless drill 18V", "hardware", "89.90", "ACTIVE", 9, 8, 2),
    _item("SKU-3003", "Wood screws 4x40 (200)", "hardware", "6.80", "ACTIVE", 64, 30, 8),
    _item("SKU-4001", "USB-C cable 1m", "electronics", "7.99", "ACTIVE", 320, 100, 25),
    _item("SKU-4002", "Wireless mouse", "electronics", "24.90", "ACTIVE", 44, 20, 5),
    _item("SKU-4003", "27in monitor", "electronics", "229.00", "ACTIVE", 3, 5, 1),
    _item("SKU-4004", "MP3 player 8GB", "electronics", "39.00", "DISCONTINUED", 7, 0, 4),
)

_BY_SKU: Final[dict[str, CatalogueItem]] = {item.sku: item for item in CATALOGUE}


def warehouse_for(tenant: str | None) -> str:
    """The warehouse that serves ``tenant`` (case-insensitive); the central one by default."""
    if not tenant:
        return DEFAULT_WAREHOUSE
    return TENANT_WAREHOUSES.get(tenant.strip().lower(), DEFAULT_WAREHOUSE)


class UnknownSkuError(LookupError):
    """The SKU is not in the catalogue."""

    def __init__(self, sku: str) -> None:
        super().__init__(f"unknown SKU {sku!r}")
        self.sku = sku


class NegativeStockError(ValueError):
    """An adjustment would take the quantity on hand below zero."""

    def __init__(self, sku: str, quantity: int, delta: int) -> None:
        super().__init__(f"adjusting {sku} by {delta} would leave {quantity + delta} on hand")
        self.sku = sku


@dataclass(frozen=True, slots=True)
class StockRecord:
    """A snapshot of one SKU's stock."""

    sku: str
    quantity: int
    reorder_point: int
    updated_at: datetime


class StockLedger:
    """Quantities on hand per SKU; every method is safe to call from many threads."""

    def __init__(self, started_at: datetime | None = None) -> None:
        when = started_at or datetime(2024, 1, 2, 6, 0, tzinfo=UTC)
        self._lock = threading.Lock()
        self._records = {
            item.sku: StockRecord(item.sku, item.initial_quantity, item.reorder_point, when)
            for item in CATALOGUE
        }

    @staticmethod
    def item(sku: str) -> CatalogueItem:
        """The catalogue entry for ``sku``; raises :class:`UnknownSkuError`."""
        try:
            return _BY_SKU[sku]
        except KeyError:
            raise UnknownSkuError(sku) from None

    @staticmethod
    def items(category: str | None = None) -> list[CatalogueItem]:
        """The catalogue, optionally only one category (case-insensitive), in SKU order."""
        wanted = category.strip().lower() if category else None
        return [item for item in CATALOGUE if wanted is None or item.category == wanted]

    def get(self, sku: str) -> StockRecord:
        """The current stock of ``sku``; raises :class:`UnknownSkuError`."""
        with self._lock:
            record = self._records.get(sku)
        if record is None:
            raise UnknownSkuError(sku)
        return record

    def adjust(self, sku: str, delta: int) -> StockRecord:
        """Add ``delta`` (may be negative) to the quantity on hand, atomically.

        Raises :class:`UnknownSkuError`, or :class:`NegativeStockError` (leaving
        the stock untouched) when the result would be below zero.
        """
        with self._lock:
            record = self._records.get(sku)
            if record is None:
                raise UnknownSkuError(sku)
            if record.quantity + delta < 0:
                raise NegativeStockError(sku, record.quantity, delta)
            updated = StockRecord(
                sku,
                record.quantity + delta,
                record.reorder_point,
                datetime.now(UTC).replace(microsecond=0),
            )
            self._records[sku] = updated
            return updated
