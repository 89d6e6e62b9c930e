"""The legacy reorder "rules engine" behind ``GetReorderAdvice``.

Deterministic: the same inputs always give the same advice, which is what
makes it a good subject for shadow-traffic comparison with a rewrite. The
rules are checked in order and the first that matches decides:

``R1-DISCONTINUED``
    The item is discontinued: never reorder, sell through what is left.
``R2-CREDIT-HOLD``
    The customer id starts with ``HOLD-`` (account on credit hold): no reorder.
``R3-NO-DEMAND``
    The average daily sales are zero: nothing to replenish.
``R4-STOCK-SUFFICIENT``
    Stock on hand exceeds the *trigger level*: the larger of the item's
    catalogue reorder point and the demand expected during the lead time
    plus safety stock (3 days of sales, 7 for key accounts, whose customer
    id starts with ``KEY-``).
``R5-REORDER``
    Otherwise reorder enough to reach the trigger level plus 14 days of
    sales, rounded up to whole case packs.

Quantities derived from sales are rounded up (``ceil``) to whole units.
Inputs out of range (negative or non-finite figures, sales above
1,000,000 a day, lead times beyond 365 days) raise :class:`InvalidAdviceRequest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Final

from strangler.demo.inventory.data import CatalogueItem

__all__ = ["KEY_ACCOUNT_PREFIX", "ORDER_CYCLE_DAYS", "Advice", "InvalidAdviceRequest", "advise"]

SAFETY_DAYS: Final = 3
KEY_ACCOUNT_SAFETY_DAYS: Final = 7
ORDER_CYCLE_DAYS: Final = 14
KEY_ACCOUNT_PREFIX: Final = "KEY-"
CREDIT_HOLD_PREFIX: Final = "HOLD-"
MAX_LEAD_TIME_DAYS: Final = 365
MAX_DAILY_SALES: Final = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Advice:
    """What the engine recommends, and which rule decided it."""

    reorder: bool
    quantity: int
    reason: str
    rule_id: str


class InvalidAdviceRequest(ValueError):
    """The inputs are out of range (negative stock, sales or lead time)."""


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def _round_up_to(quantity: int, multiple: int) -> int:
    return -(-quantity // multiple) * multiple


def advise(
    item: CatalogueItem,
    customer_id: str,
    quantity_on_hand: int,
    average_daily_sales: Decimal,
    lead_time_days: int,
) -> Advice:
    """Apply the rules above to one SKU for one customer."""
    if quantity_on_hand < 0:
        raise InvalidAdviceRequest("quantityOnHand must not be negative")
    if not average_daily_sales.is_finite() or not 0 <= average_daily_sales <= MAX_DAILY_SALES:
        raise InvalidAdviceRequest(f"averageDailySales must be between 0 and {MAX_DAILY_SALES}")
    if not 0 <= lead_time_days <= MAX_LEAD_TIME_DAYS:
        raise InvalidAdviceRequest(f"leadTimeDays must be between 0 and {MAX_LEAD_TIME_DAYS}")

    if item.status == "DISCONTINUED":
        return Advice(
            False, 0, f"{item.sku} is discontinued; sell through remaining stock", "R1-DISCONTINUED"
        )
    if customer_id.upper().startswith(CREDIT_HOLD_PREFIX):
        return Advice(False, 0, f"customer {customer_id} is on credit hold", "R2-CREDIT-HOLD")
    if average_daily_sales == 0:
        return Advice(False, 0, "no recent sales; nothing to replenish", "R3-NO-DEMAND")

    key_account = customer_id.upper().startswith(KEY_ACCOUNT_PREFIX)
    safety_days = KEY_ACCOUNT_SAFETY_DAYS if key_account else SAFETY_DAYS
    lead_time_demand = _ceil(average_daily_sales * lead_time_days)
    safety_stock = _ceil(average_daily_sales * safety_days)
    trigger = max(lead_time_demand + safety_stock, item.reorder_point)

    if quantity_on_hand > trigger:
        return Advice(
            False,
            0,
            f"{quantity_on_hand} on hand is above trigger level {trigger} "
            f"({safety_days} safety days)",
            "R4-STOCK-SUFFICIENT",
        )

    target = trigger + _ceil(average_daily_sales * ORDER_CYCLE_DAYS)
    quantity = _round_up_to(target - quantity_on_hand, item.case_pack)
    account = "key account, " if key_account else ""
    return Advice(
        True,
        quantity,
        f"{quantity_on_hand} on hand is at or below trigger level "
        f"{trigger} ({account}{safety_days} safety days); order {quantity} in packs "
        f"of {item.case_pack}",
        "R5-REORDER",
    )
