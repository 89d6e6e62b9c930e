"""Deterministic ERP rows: the same seed always gives byte-for-byte the same data.

Rows come out as plain tuples in column order, with the legacy encodings
already applied (padded keys, ``DD.MM.YYYY`` dates, money in cents or as
decimal strings), ready for ``executemany``. Orders and stock use the
inventory demo's catalogue, so the whole estate talks about the same SKUs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Final

from strangler.demo.erp.schema import CUST_NO_WIDTH, SKU_WIDTH, pad
from strangler.demo.inventory.data import (
    CATALOGUE,
    DEFAULT_WAREHOUSE,
    TENANT_WAREHOUSES,
)

__all__ = [
    "AS_OF",
    "ErpRows",
    "format_order_date",
    "format_timestamp",
    "generate_rows",
]

AS_OF: Final = datetime(2024, 6, 30, 18, 0, 0)
"""The moment the generated snapshot was "taken": no generated timestamp is later."""

_WINDOW_START: Final = date(2022, 1, 1)
_DISCONTINUED_AFTER: Final = date(2023, 1, 1)
_CREATED_FROM: Final = date(2009, 1, 1)
_CREATED_TO: Final = date(2023, 12, 31)
_WAREHOUSES: Final = (DEFAULT_WAREHOUSE, *sorted(TENANT_WAREHOUSES.values()))
_CENTS: Final = Decimal("0.01")

_FIRST: Final = (
    "ANNA", "BERND", "CLARA", "DAVID", "EMMA", "FELIX", "GRETA", "HANS", "INGA", "JONAS",
    "KATJA", "LUKAS", "MARIA", "NILS", "OLGA", "PAUL", "RITA", "STEFAN", "TINA", "UWE",
)  # fmt: skip
_LAST: Final = (
    "ALBRECHT", "BECKER", "DIETRICH", "FISCHER", "HOFFMANN", "JUNG", "KELLER", "LANGE",
    "MEYER", "NEUMANN", "OTTO", "RICHTER", "SCHMIDT", "VOGEL", "WAGNER", "ZIMMER",
)  # fmt: skip
_CITIES: Final = (
    "BERLIN", "BREMEN", "DRESDEN", "ESSEN", "HAMBURG", "KOELN", "LEIPZIG", "MUENCHEN",
)  # fmt: skip
_SEGMENT_WEIGHTS: Final = (("C", 80), ("W", 15), ("K", 5))
_CREDIT_EUROS: Final[dict[str, tuple[int, ...]]] = {
    "C": (500, 1000, 2500),
    "W": (10_000, 25_000, 50_000),
    "K": (100_000, 250_000),
}

Row = tuple[object, ...]


@dataclass
class ErpRows:
    """All rows of one generated ERP, per table, in insertion order."""

    customers: list[Row] = field(default_factory=list)
    orders: list[Row] = field(default_factory=list)
    order_lines: list[Row] = field(default_factory=list)
    stock: list[Row] = field(default_factory=list)


def format_order_date(day: date) -> str:
    """``ORDERS.ORDER_DATE`` text: ``DD.MM.YYYY``."""
    return day.strftime("%d.%m.%Y")


def format_timestamp(moment: datetime) -> str:
    """``ORDERS.UPDATED_AT`` text: fixed-width ISO 8601, microseconds, no zone (UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _random_day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, (end - start).days))


def _customers(rng: random.Random, count: int) -> list[tuple[str, date]]:
    """``(customer number, created date)`` pairs; the prefix letter is the segment."""
    prefixes = [prefix for prefix, _ in _SEGMENT_WEIGHTS]
    weights = [weight for _, weight in _SEGMENT_WEIGHTS]
    people = []
    for number in range(10001, 10001 + count):
        prefix = rng.choices(prefixes, weights)[0]
        people.append((f"{prefix}{number:05d}", _random_day(rng, _CREATED_FROM, _CREATED_TO)))
    return people


def _customer_rows(rng: random.Random, people: list[tuple[str, date]]) -> list[Row]:
    rows: list[Row] = []
    for cust_no, created in people:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        email = f"{first}.{last}@example.com".lower() if rng.random() < 0.85 else None
        limit_cents = rng.choice(_CREDIT_EUROS[cust_no[0]]) * 100
        status = rng.choices("AHX", (85, 10, 5))[0]
        city = rng.choice(_CITIES)
        created_number = int(created.strftime("%Y%m%d"))
        rows.append(
            (pad(cust_no, CUST_NO_WIDTH), first, last, city, email, limit_cents, status,
             created_number)
        )  # fmt: skip
    return rows


def _order_rows(rng: random.Random, people: list[tuple[str, date]], count: int) -> ErpRows:
    """Orders and their lines; order numbers ascend with the order date."""
    rows = ErpRows()
    end = AS_OF.date()
    latest = AS_OF - timedelta(seconds=1)  # room for the microseconds added below
    dated = []
    for _ in range(count):
        cust_no, created = rng.choice(people)
        dated.append((_random_day(rng, max(created, _WINDOW_START), end), cust_no))
    dated.sort()
    for order_no, (day, cust_no) in enumerate(dated, start=100001):
        on_sale = [
            item for item in CATALOGUE if item.status == "ACTIVE" or day < _DISCONTINUED_AFTER
        ]
        total = Decimal(0)
        for index, item in enumerate(rng.sample(on_sale, rng.randint(1, 5)), start=1):
            qty = rng.randint(1, 12)
            total += item.unit_price * qty
            rows.order_lines.append(
                (order_no, index * 10, pad(item.sku, SKU_WIDTH), qty, str(item.unit_price))
            )
        recent = (end - day).days < 14
        status = "C" if rng.random() < 0.04 else ("N" if recent else "S")
        placed = datetime.combine(day, time()) + timedelta(seconds=rng.randint(8 * 3600, 20 * 3600))
        changed = placed if status == "N" else placed + timedelta(hours=rng.randint(2, 240))
        changed = min(changed, latest) + timedelta(microseconds=rng.randint(0, 999_999))
        rows.orders.append(
            (order_no, pad(cust_no, CUST_NO_WIDTH), format_order_date(day), status,
             str(total.quantize(_CENTS)), format_timestamp(changed))
        )  # fmt: skip
    return rows


def generate_rows(customers: int, orders: int, seed: int) -> ErpRows:
    """Every table's rows for ``customers`` customers and ``orders`` orders."""
    if customers < 1 and orders > 0:
        raise ValueError("orders need at least one customer")
    rng = random.Random(seed)
    people = _customers(rng, customers)
    customer_rows = _customer_rows(rng, people)
    rows = _order_rows(rng, people, orders)
    rows.customers = customer_rows
    for item in CATALOGUE:
        for warehouse in _WAREHOUSES:
            central = warehouse == DEFAULT_WAREHOUSE
            on_hand = item.initial_quantity if central else rng.randint(0, item.initial_quantity)
            reorder = item.reorder_point if central else item.reorder_point // 2
            rows.stock.append((pad(item.sku, SKU_WIDTH), warehouse, on_hand, reorder))
    return rows
