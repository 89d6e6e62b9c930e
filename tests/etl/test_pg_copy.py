"""PostgreSQL COPY of a batch, binary where exactly safe, on a real server: whatever form
a batch goes in, the table holds what the text form (the server's own conversions)
leaves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from strangler.etl import pg_copy
from strangler.etl.bulk import write_rows
from strangler.etl.tables import UtcDateTime
from tests.etl.stores import fresh_database

CEST = dt.timezone(dt.timedelta(hours=2))
COLUMNS = ("k", "n", "small", "f", "d", "s", "v", "b", "day", "at", "naive_at", "j")


def _table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("k", sa.BigInteger()),
        sa.Column("n", sa.Integer()),
        sa.Column("small", sa.SmallInteger()),
        sa.Column("f", sa.Double()),
        sa.Column("d", postgresql.NUMERIC(12, 2)),
        sa.Column("s", sa.Text()),
        sa.Column("v", sa.String(8)),
        sa.Column("b", sa.Boolean()),
        sa.Column("day", sa.Date()),
        sa.Column("at", UtcDateTime()),
        sa.Column("naive_at", sa.DateTime()),
        sa.Column("j", sa.Integer()),
    )


def _row(i: int, **changed: Any) -> tuple[Any, ...]:
    values: dict[str, Any] = {
        "k": 10**15 + i,
        "n": i,
        "small": i % 100,
        "f": i / 7,
        "d": Decimal(f"{i}.{i % 100:02}"),
        "s": f"text {i} é",
        "v": f"v{i}",
        "b": i % 2 == 0,
        "day": dt.date(2024, 1, 1) + dt.timedelta(days=i),
        "at": dt.datetime(2024, 1, 1, 8, 0, 0, 123456, tzinfo=dt.UTC) + dt.timedelta(hours=i),
        "naive_at": dt.datetime(2024, 1, 1, 8, 0, 0, 7) + dt.timedelta(minutes=i),
        "j": None,
    }
    values.update(changed)
    return tuple(values[c] for c in COLUMNS)


IN_CEST = dt.datetime(2024, 5, 1, tzinfo=CEST)
NAIVE = dt.datetime(2024, 5, 1, 1, 2, 3, 4)
CASES: dict[str, tuple[list[tuple[Any, ...]], bool]] = {
    "exact types": ([_row(i) for i in range(50)] + [(None,) * len(COLUMNS)], True),
    "aware times in other zones": ([_row(i, at=IN_CEST) for i in range(5)], True),
    "naive times in a zoned column": ([_row(i, at=NAIVE) for i in range(5)], True),
    "naive and aware together": ([_row(0), _row(1, at=dt.datetime(2024, 5, 1))], False),
    "a datetime in a date column": ([_row(0), _row(1, day=dt.datetime(2024, 5, 1, 13))], False),
    "an int in a float column": ([_row(0), _row(1, f=3)], False),
    "a bool in an integer column": ([_row(0), _row(1, n=True)], False),
    "an int in a numeric column": ([_row(0), _row(1, d=7)], False),
    "text in a numeric column": ([_row(0), _row(1, d="1.25")], False),
    "an aware time in a plain timestamp column": ([_row(0, naive_at=IN_CEST)], False),
    "a number too large for its column": ([_row(0), _row(1, small=40_000)], False),
    "a number too large for a 4-byte column": ([_row(0), _row(1, n=-(2**31) - 1)], False),
    "a number too large for a bigint": ([_row(0), _row(1, k=2**63)], True),
}  # fmt: skip


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    from strangler.etl.store import make_engine

    with fresh_database("postgresql", Path(tmp_path_factory.mktemp("copy"))) as url:
        made = make_engine(url)
        try:
            yield made
        finally:
            made.dispose()


def _load(engine: sa.Engine, table: sa.Table, rows: list[tuple[Any, ...]], *, text: bool) -> Any:
    table.create(engine)
    try:
        with engine.begin() as connection:
            if text:
                driver = connection.connection.driver_connection
                preparer = connection.dialect.identifier_preparer
                sql = f"COPY {preparer.format_table(table)} ({', '.join(COLUMNS)}) FROM STDIN"
                pg_copy._copy_text(driver, table, COLUMNS, rows, sql)  # type: ignore[arg-type]
            else:
                write_rows(connection, table, COLUMNS, rows)
        with engine.connect() as connection:
            return connection.execute(sa.select(table).order_by(table.c.k)).all()
    except sa.exc.DBAPIError as exc:
        return type(exc.orig).__name__
    except psycopg.Error as exc:
        return type(exc).__name__
    finally:
        table.drop(engine)


@pytest.mark.parametrize("case", list(CASES))
def test_a_batch_leaves_what_its_text_form_leaves(engine: sa.Engine, case: str) -> None:
    rows, binary = CASES[case]
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        plan = pg_copy._binary_plan(
            connection.dialect,
            _table("planned"),
            COLUMNS,
            rows,
            pg_copy._utc_session(driver),  # type: ignore[arg-type]
        )
    assert (plan is not None) == binary
    as_text = _load(engine, _table("as_text"), rows, text=True)
    copied = _load(engine, _table("copied"), rows, text=False)
    assert copied == as_text
    if case.startswith("a number too large"):  # never wrapped: refused, saying why
        assert copied == "NumericValueOutOfRange"
    elif case not in ("text in a numeric column", "a bool in an integer column"):
        assert isinstance(copied, list) and len(copied) == len(rows)
