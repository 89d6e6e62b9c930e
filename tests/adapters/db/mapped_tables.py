"""Legacy tables for the mapping tests: made in each backend's database, with their data.

``M_ORDERS`` holds every encoding the mapping converts (text and integer dates,
a sentinel, cents, a flag, codes from the code table ``M_STATUS``);
``M_NOTES`` takes writes and has a converted key; ``M_BROKEN`` holds values
that break their encoding (``31.02.2019``, a flag ``X``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import random
from typing import Any

import sqlalchemy as sa

__all__ = ["BROKEN", "FIELDS", "LABELS", "ORDERS", "create", "decoded", "mapped_spec"]

LABELS = {"O": "open", "P": "paid", "V": "void", "Z": "zombie"}
"""The code table's rows (``zombie`` is used by no order)."""

FIELDS: dict[str, Any] = {
    "ID": "orderId",
    "ORDER_DATE": {"as": "orderDate", "date": "DD.MM.YYYY"},
    "CREATED": {"as": "createdOn", "date": "YYYYMMDD", "null_values": [0]},
    "SHIPPED": {"as": "shippedOn", "date": "DDMMYYYY"},
    "AMOUNT": {"minor_units": 2},
    "BALANCE": {"minor_units": 2},
    "ACTIVE": {"flag": {"true": ["Y"], "false": ["N"]}},
    "STATUS": {"enum_table": {"table": "M_STATUS", "code": "CODE", "label": "LABEL"}},
}

_META = sa.MetaData()
_ORDERS = sa.Table(
    "M_ORDERS", _META,
    sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ORDER_DATE", sa.String(10), nullable=False),
    sa.Column("CREATED", sa.Integer),
    sa.Column("SHIPPED", sa.Integer),
    sa.Column("AMOUNT", sa.Integer, nullable=False),
    sa.Column("BALANCE", sa.String(20), nullable=False),  # cents kept as text
    sa.Column("ACTIVE", sa.CHAR(1), nullable=False),
    sa.Column("STATUS", sa.CHAR(1), nullable=False),
)  # fmt: skip
_STATUS = sa.Table(
    "M_STATUS", _META,
    sa.Column("CODE", sa.CHAR(1), primary_key=True),
    sa.Column("LABEL", sa.String(20), nullable=False),
)  # fmt: skip
_NOTES = sa.Table(
    "M_NOTES", _META,
    sa.Column("DUE", sa.String(10), primary_key=True),
    sa.Column("TITLE", sa.String(40), nullable=False),
    sa.Column("DONE", sa.CHAR(1), nullable=False),
    sa.Column("FEE", sa.Integer),
)  # fmt: skip
_BROKEN = sa.Table(
    "M_BROKEN", _META,
    sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("D", sa.String(10), nullable=False),
    sa.Column("F", sa.CHAR(1), nullable=False),
)  # fmt: skip

BROKEN = [(1, "16.05.2024", "Y"), (2, "31.02.2019", "N"), (3, "01.01.2020", "X")]


def _orders() -> list[dict[str, Any]]:
    rng = random.Random(8)
    days = [dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(2000)) for _ in range(15)]
    rows = []
    for i in range(1, 58):
        day = rng.choice(days)
        created = rng.choice([*days, None, 0])
        shipped = day + dt.timedelta(days=rng.randrange(40)) if i % 5 else None
        rows.append({
            "ID": i,
            "ORDER_DATE": day.strftime("%d.%m.%Y"),
            "CREATED": int(created.strftime("%Y%m%d")) if isinstance(created, dt.date) else created,
            "SHIPPED": int(shipped.strftime("%d%m%Y")) if shipped else None,
            "AMOUNT": rng.choice([0, 5, 1999, 5000, 12345, 99, 250000]),
            "ACTIVE": rng.choice("YN"),
            "STATUS": rng.choice("OPV"),
            "BALANCE": str(rng.choice([-500, -12, 0, 7, 99, 1200, 10000])),
        })  # fmt: skip
    return rows


ORDERS = _orders()


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    """An ``M_ORDERS`` row as the modern shape has it (Python values)."""

    def day(text: str | None, fmt: str) -> dt.date | None:
        return dt.datetime.strptime(text, fmt).date() if text else None

    created = row["CREATED"]
    shipped = row["SHIPPED"]
    return {
        "orderId": row["ID"],
        "orderDate": day(row["ORDER_DATE"], "%d.%m.%Y"),
        "createdOn": day(str(created), "%Y%m%d") if created else None,
        "shippedOn": day(f"{shipped:08d}", "%d%m%Y") if shipped else None,
        "amount": decimal.Decimal(row["AMOUNT"]).scaleb(-2),
        "balance": decimal.Decimal(int(row["BALANCE"])).scaleb(-2),
        "active": row["ACTIVE"] == "Y",
        "status": LABELS[row["STATUS"]],
    }


def create(engine: sa.Engine) -> None:
    """The tables and their rows (made again from scratch)."""
    _META.drop_all(engine)
    _META.create_all(engine)
    with engine.begin() as connection:
        connection.execute(_STATUS.insert(), [{"CODE": c, "LABEL": t} for c, t in LABELS.items()])
        connection.execute(_ORDERS.insert(), ORDERS)
        connection.execute(
            _BROKEN.insert(), [dict(zip(("ID", "D", "F"), r, strict=True)) for r in BROKEN]
        )


def mapped_spec(policy: str = "error") -> dict[str, Any]:
    """The ``tables`` of a spec serving the three tables in modern shape."""
    broken = {"on_broken": policy}
    return {
        "M_ORDERS": {"as": "orders", "fields": FIELDS},
        "M_NOTES": {
            "as": "notes",
            "writes": True,
            "fields": {
                "DUE": {"date": "DD.MM.YYYY"},
                "DONE": {"flag": {"true": ["J"], "false": ["N"]}},
                "FEE": {"minor_units": 2},
            },
        },
        "M_BROKEN": {
            "as": "broken",
            "fields": {
                "D": {"as": "day", "date": "DD.MM.YYYY", **broken},
                "F": {"as": "flag", "flag": {"true": ["Y"], "false": ["N"]}, **broken},
            },
        },
    }
