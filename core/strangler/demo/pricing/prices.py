"""The pricing rules: list prices from the inventory catalogue, tier and volume discounts.

Pure functions in exact decimals; the XML-RPC layer turns the results into
doubles at the very end, as the legacy service always did.

Discounts add up: the customer's tier (from the first letter of the ERP
customer number: ``K`` key account 15 %, ``W`` wholesale 8 %, anything else
0 %) plus a volume break (2 % from 24 units, 5 % from 100).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from strangler.demo.inventory.data import BACKEND_ERROR_SKU, CATALOGUE, CatalogueItem

__all__ = [
    "CURRENCY",
    "TIER_DISCOUNT_PCT",
    "VOLUME_DISCOUNT_PCT",
    "BackendError",
    "InvalidRequest",
    "PricingError",
    "Quote",
    "UnknownSku",
    "catalogue_item",
    "discount_pct",
    "price_list",
    "quote",
    "valid_until",
]

CURRENCY: Final = "EUR"
TIER_DISCOUNT_PCT: Final[dict[str, Decimal]] = {"K": Decimal(15), "W": Decimal(8)}
"""Discount by the first letter of the customer number; other customers pay list price."""
VOLUME_DISCOUNT_PCT: Final[tuple[tuple[int, Decimal], ...]] = (
    (100, Decimal(5)),
    (24, Decimal(2)),
)
"""``(minimum quantity, extra discount)``, largest break first."""

_CENTS: Final = Decimal("0.01")
_BY_SKU: Final[dict[str, CatalogueItem]] = {item.sku: item for item in CATALOGUE}


class PricingError(Exception):
    """A request the pricing service refuses; ``code`` becomes the XML-RPC fault code."""

    code = 500


class InvalidRequest(PricingError):
    """Arguments of the wrong type or out of range."""

    code = 400


class UnknownSku(PricingError):
    """The SKU is not in the catalogue."""

    code = 404


class BackendError(PricingError):
    """The (simulated) price database behind the service failed."""

    code = 500


@dataclass(frozen=True, slots=True)
class Quote:
    """The price of ``quantity`` units of one SKU for one customer."""

    sku: str
    quantity: int
    unit_price: Decimal
    discount_pct: Decimal
    total: Decimal
    currency: str = CURRENCY


def catalogue_item(sku: object) -> CatalogueItem:
    """The catalogue entry for ``sku`` (case and surrounding blanks ignored, so an
    ERP ``CHAR(12)`` value works as it is)."""
    if not isinstance(sku, str) or not sku.strip():
        raise InvalidRequest(f"sku must be a non-empty string, got {sku!r}")
    wanted = sku.strip().upper()
    if wanted == BACKEND_ERROR_SKU:
        raise BackendError(f"price database unavailable while reading {wanted}")
    try:
        return _BY_SKU[wanted]
    except KeyError:
        raise UnknownSku(f"unknown sku {wanted!r}") from None


def discount_pct(customer_no: object, quantity: int) -> Decimal:
    """The customer's tier discount plus the volume break for ``quantity``, in percent."""
    if customer_no is not None and not isinstance(customer_no, str):
        raise InvalidRequest(f"customer_no must be a string, got {customer_no!r}")
    tier = (customer_no or "").strip().upper()[:1]
    pct = TIER_DISCOUNT_PCT.get(tier, Decimal(0))
    for minimum, extra in VOLUME_DISCOUNT_PCT:
        if quantity >= minimum:
            return pct + extra
    return pct


def quote(sku: object, quantity: object, customer_no: object) -> Quote:
    """Price ``quantity`` of ``sku`` for ``customer_no``; ``total`` rounds half up to cents."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidRequest(f"quantity must be an int, got {quantity!r}")
    if quantity <= 0:
        raise InvalidRequest(f"quantity must be positive, got {quantity}")
    item = catalogue_item(sku)
    pct = discount_pct(customer_no, quantity)
    gross = item.unit_price * quantity
    total = (gross * (100 - pct) / 100).quantize(_CENTS, rounding=ROUND_HALF_UP)
    return Quote(item.sku, quantity, item.unit_price, pct, total)


def price_list(category: object = None) -> list[CatalogueItem]:
    """The catalogue of one category (case-insensitive), or all of it for ``None``/``""``.

    An unknown category has no items: the answer is an empty list, not a fault.
    """
    if category is not None and not isinstance(category, str):
        raise InvalidRequest(f"category must be a string, got {category!r}")
    wanted = (category or "").strip().lower()
    return [item for item in CATALOGUE if not wanted or item.category == wanted]


def valid_until(now: datetime) -> datetime:
    """When the current prices expire: the last second of ``now``'s month (UTC, no zone)."""
    last_day = calendar.monthrange(now.year, now.month)[1]
    return datetime(now.year, now.month, last_day, 23, 59, 59)
