"""A legacy ERP table in each source database, and specs whose feature views read it.

``ORDERS_X`` stores what the demo ERP stores: text dates ``DD.MM.YYYY``,
``YYYYMMDD`` integers, money in cents and CHAR-padded customer numbers, plus an
``UPDATED_AT`` timestamp the views use as their watermark. The system maps it
to ``orders`` (orderNumber, customerNumber, orderDate, createdOn, total,
updatedAt), as a REST client would see it.

Sources (``SOURCES``): PostgreSQL (``postgresql+psycopg://`` and raw ODBC),
MariaDB (raw ODBC and ``mysql+pyodbc://``), SQLite (``sqlite:///`` and raw ODBC).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from strangler.spec import Spec
from strangler.spec.models import spec_model
from tests.etl.stores import fresh_database

__all__ = [
    "BASE",
    "FIELDS",
    "SOURCES",
    "LegacyDb",
    "expected",
    "legacy_db",
    "order_rows",
    "spec_data",
    "spec_for",
]

SOURCES = ("postgresql", "postgresql-odbc", "mariadb-odbc", "mariadb-sa", "sqlite", "sqlite-odbc")
BASE = dt.datetime(2024, 3, 1, 8, 0, 0)
"""The first row's ``UPDATED_AT``; row ``i`` is ``i`` minutes later."""

_META = sa.MetaData()
ORDERS = sa.Table(
    "ORDERS_X", _META,
    sa.Column("ORDER_NO", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("CUST_NO", sa.CHAR(8), nullable=False),
    sa.Column("ORDER_DATE", sa.String(10), nullable=False),
    sa.Column("CREATED", sa.Integer, nullable=False),
    sa.Column("TOTAL_CENTS", sa.Integer, nullable=False),
    sa.Column("UPDATED_AT", sa.DateTime, nullable=False),
)  # fmt: skip

FIELDS: dict[str, Any] = {
    "ORDER_NO": "orderNumber",
    "CUST_NO": {"as": "customerNumber", "width": 8},
    "ORDER_DATE": {"as": "orderDate", "date": "DD.MM.YYYY"},
    "CREATED": {"as": "createdOn", "date": "YYYYMMDD"},
    "TOTAL_CENTS": {"as": "total", "minor_units": 2},
    "UPDATED_AT": "updatedAt",
}


def order_rows(first: int, count: int, *, minute: int | None = None) -> list[dict[str, Any]]:
    """Rows ``first`` .. ``first + count - 1`` as stored (``minute``: all updated then)."""
    rows = []
    for i in range(first, first + count):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=i % 90)
        rows.append({
            "ORDER_NO": i,
            "CUST_NO": f"C{i % 37:03d}",  # CHAR(8): padded by the database
            "ORDER_DATE": day.strftime("%d.%m.%Y"),
            "CREATED": int((day - dt.timedelta(days=3)).strftime("%Y%m%d")),
            "TOTAL_CENTS": 1000 + (i * 37) % 50000,
            "UPDATED_AT": BASE + dt.timedelta(minutes=i if minute is None else minute),
        })  # fmt: skip
    return rows


def expected(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the feature table holds it (decoded by the mapping)."""
    return {
        "orderNumber": row["ORDER_NO"],
        "customerNumber": row["CUST_NO"].rstrip(" "),
        "orderDate": dt.datetime.strptime(row["ORDER_DATE"], "%d.%m.%Y").date(),
        "createdOn": dt.datetime.strptime(str(row["CREATED"]), "%Y%m%d").date(),
        "total": decimal.Decimal(row["TOTAL_CENTS"]).scaleb(-2),
        "updatedAt": row["UPDATED_AT"],
    }


@dataclass
class LegacyDb:
    """One source database holding ``ORDERS_X``, and how a spec reaches it."""

    name: str
    url: str  # SQLAlchemy URL, for the test's own writes
    connection: dict[str, str]  # the system's url or odbc
    engine: sa.Engine

    def insert(self, rows: Sequence[dict[str, Any]], batch: int = 2000) -> None:
        with self.engine.begin() as connection:
            for start in range(0, len(rows), batch):
                connection.execute(ORDERS.insert(), list(rows[start : start + batch]))

    def update(self, order_no: int, **values: Any) -> None:
        key = ORDERS.c.ORDER_NO
        with self.engine.begin() as connection:
            connection.execute(ORDERS.update().where(key == order_no).values(**values))

    def execute(self, sql: str) -> None:
        with self.engine.begin() as connection:
            connection.exec_driver_sql(sql)


@contextmanager
def legacy_db(name: str, folder: Path) -> Iterator[LegacyDb]:
    """A fresh database of source ``name`` (see ``SOURCES``) with an empty ``ORDERS_X``."""
    dialect = name.partition("-")[0]
    with fresh_database(dialect, folder) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        _META.create_all(engine)
        connection = {"url": url}
        database = sa.make_url(url).database
        if name == "mariadb-odbc":
            connection = {
                "odbc": "DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=3306;"
                f"DATABASE={database};UID=root;PWD="
            }
        elif name == "postgresql-odbc":
            connection = {
                "odbc": "DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;PORT=5432;"
                f"DATABASE={database};UID=postgres"
            }
        elif name == "sqlite-odbc":
            connection = {"odbc": f"DRIVER={{SQLite3}};Database={database}"}
        try:
            yield LegacyDb(name, url, connection, engine)
        finally:
            engine.dispose()


def spec_for(
    db: LegacyDb,
    views: dict[str, Any],
    *,
    store: str | None = None,
    extra_systems: dict[str, Any] | None = None,
) -> Spec:
    """A spec with system ``erp`` over ``db`` (``ORDERS_X`` served as ``orders``)."""
    spec: Spec = spec_model().model_validate(
        spec_data(db, views, store=store, extra_systems=extra_systems)
    )
    return spec


def spec_data(
    db: LegacyDb,
    views: dict[str, Any],
    *,
    store: str | None = None,
    extra_systems: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The data of :func:`spec_for` (JSON-able, for a child process)."""
    return {
        "systems": {
            "erp": {
                "kind": "database",
                **db.connection,
                "tables": {"ORDERS_X": {"as": "orders", "fields": FIELDS}},
            },
            **(extra_systems or {}),
        },
        "features": {"store": store, "views": views},
    }
