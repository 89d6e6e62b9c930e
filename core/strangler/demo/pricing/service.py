"""The ``pricing.*`` methods as XML-RPC clients see them: structs, doubles, signatures.

Each method carries its docstring (``system.methodHelp``) and a
``_signature`` attribute in the XML-RPC introspection form, a list of
``[return type, parameter types...]`` lists (``system.methodSignature``).
Failures are raised as :class:`~strangler.demo.pricing.prices.PricingError`;
the server turns them into faults with the error's ``code``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from strangler.demo.pricing import prices

__all__ = ["PricingService", "signature"]

F = TypeVar("F", bound=Callable[..., Any])
Clock = Callable[[], datetime]

PREFIX: Final = "pricing."


def signature(*signatures: list[str]) -> Callable[[F], F]:
    """Attach introspection signatures, e.g. ``@signature(["double", "string"])``."""

    def attach(func: F) -> F:
        func._signature = [list(sig) for sig in signatures]  # type: ignore[attr-defined]
        return func

    return attach


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class PricingService:
    """The legacy pricing API; one instance serves every thread (it keeps no state)."""

    def __init__(self, clock: Clock = _utc_now) -> None:
        self._clock = clock

    def methods(self) -> dict[str, Callable[..., Any]]:
        """Every public method under its dotted XML-RPC name (``pricing.quote``...)."""
        return {
            PREFIX + name: getattr(self, name)
            for name in ("quote", "list_price", "price_list", "valid_until", "ping")
        }

    @signature(["struct", "string", "int", "string"])
    def quote(self, sku: str, quantity: int, customer_no: str) -> dict[str, Any]:
        """Price QUANTITY units of SKU for the ERP customer CUSTOMER_NO.

        Returns {sku, quantity, unit_price, discount_pct, total, currency}:
        unit_price is the list price, discount_pct the tier discount (K 15,
        W 8) plus the volume break (2 from 24 units, 5 from 100), total the
        discounted amount rounded to cents. Faults: 400 bad quantity,
        404 unknown sku, 500 price database unavailable.
        """
        result = prices.quote(sku, quantity, customer_no)
        return {
            "sku": result.sku,
            "quantity": result.quantity,
            "unit_price": float(result.unit_price),
            "discount_pct": float(result.discount_pct),
            "total": float(result.total),
            "currency": result.currency,
        }

    @signature(["double", "string"])
    def list_price(self, sku: str) -> float:
        """The undiscounted unit price of SKU in EUR. Faults: 404 unknown sku, 500."""
        return float(prices.catalogue_item(sku).unit_price)

    @signature(["array", "string"], ["array"])
    def price_list(self, category: str | None = None) -> list[dict[str, Any]]:
        """The list prices of one CATEGORY (grocery, apparel, hardware, electronics).

        Without a category (or with an empty one) the whole catalogue. Each
        entry is {sku, name, category, unit_price, currency, status}; an
        unknown category gives an empty array.
        """
        return [
            {
                "sku": item.sku,
                "name": item.name,
                "category": item.category,
                "unit_price": float(item.unit_price),
                "currency": prices.CURRENCY,
                "status": item.status,
            }
            for item in prices.price_list(category)
        ]

    @signature(["dateTime.iso8601"])
    def valid_until(self) -> datetime:
        """When today's prices expire: the last second of the month, UTC."""
        return prices.valid_until(self._clock())

    @signature(["boolean"])
    def ping(self) -> bool:
        """True while the service is up."""
        return True
