"""PostgreSQL ``COPY … FROM STDIN`` of a batch, binary where that is exactly safe.

Binary ``COPY`` spares the server parsing every value's text (about a third of
its work for a batch of mixed columns) and the client formatting it. It has no
conversions, though: each value must be sent in the binary form of its column's
own type, or the server refuses the batch or, worse, reads other bytes than
meant (a ``datetime`` sent as a ``date`` loses its time). So the form is decided
per batch, per column, from the table's declared types and the Python types the
batch's values actually have:

=============================  ===================================================
column declared (its DDL)      values sent binary when all of them are
=============================  ===================================================
``BIGINT`` ``INTEGER``          ``int`` (not ``bool``) within the column's range
``SMALLINT``                    (checked here: psycopg's 2- and 4-byte forms wrap)
``DOUBLE PRECISION``            ``float``
``NUMERIC``                     ``Decimal`` (precision and scale applied by the
                                server)
``TEXT`` ``VARCHAR`` ``CHAR``   ``str`` (length checked by the server)
``BOOLEAN``                     ``bool``
``DATE``                        ``date`` (not ``datetime``)
``TIMESTAMP WITH TIME ZONE``    aware ``datetime``, or naive ones when the
                                session's zone is UTC (as their text form would be
                                read; sent as ``timestamp``, whose binary form is the
                                same microseconds since 2000-01-01)
``TIMESTAMP``                   naive ``datetime``
=============================  ===================================================

and ``None`` anywhere. Any other column or value (JSON, bytes, times, a
transform's ``int`` in a float column...) makes the batch go as text, where the
server converts as before; so does a binary attempt that fails (in a savepoint,
so the text attempt starts clean).
"""

from __future__ import annotations

import datetime as dt
import decimal
import operator
import struct
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa

__all__ = ["copy_rows"]

_NONE = type(None)
_TZINFO = operator.attrgetter("tzinfo")
_INT_RANGE = {"int2": (-(2**15), 2**15 - 1), "int4": (-(2**31), 2**31 - 1)}
_BINARY_FAILURES = (psycopg.Error, TypeError, ValueError, OverflowError, struct.error)


def copy_rows(
    connection: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """``COPY`` ``rows`` (values in the order of ``columns``) into ``table``."""
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    preparer = connection.dialect.identifier_preparer
    sql = (
        f"COPY {preparer.format_table(table)} "
        f"({', '.join(preparer.quote(c) for c in columns)}) FROM STDIN"
    )
    utc = _utc_session(driver)
    binary = _binary_plan(connection.dialect, table, columns, rows, utc)
    if binary is not None:
        try:
            with (
                connection.begin_nested(),
                driver.cursor() as cursor,
                cursor.copy(f"{sql} (FORMAT BINARY)") as copy,
            ):
                copy.set_types(binary)
                for row in rows:
                    copy.write_row(row)
            return
        except _BINARY_FAILURES:
            pass  # as text: the server converts, or says what is wrong
    _copy_text(driver, table, columns, rows, sql)


def _copy_text(
    driver: psycopg.Connection[Any],
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    sql: str,
) -> None:
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.JSON)]
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        if json_at:
            for row in rows:
                values = list(row)
                for i in json_at:
                    if values[i] is not None:
                        values[i] = orjson.dumps(values[i]).decode()
                copy.write_row(values)
        else:
            for row in rows:
                copy.write_row(row)


def _utc_session(driver: psycopg.Connection[Any]) -> bool:
    zone = driver.info.timezone
    return dt.datetime(2000, 1, 1, tzinfo=zone).utcoffset() == dt.timedelta(0) and (
        dt.datetime(2000, 7, 1, tzinfo=zone).utcoffset() == dt.timedelta(0)
    )


_BY_DDL: dict[str, tuple[str, frozenset[type]]] = {
    "BIGINT": ("int8", frozenset({int})),
    "INTEGER": ("int4", frozenset({int})),
    "SMALLINT": ("int2", frozenset({int})),
    "DOUBLE PRECISION": ("float8", frozenset({float})),
    "NUMERIC": ("numeric", frozenset({decimal.Decimal})),
    "TEXT": ("text", frozenset({str})),
    "VARCHAR": ("text", frozenset({str})),
    "CHAR": ("text", frozenset({str})),
    "BOOLEAN": ("bool", frozenset({bool})),
    "DATE": ("date", frozenset({dt.date})),
    "TIMESTAMP WITH TIME ZONE": ("timestamptz", frozenset({dt.datetime})),
    "TIMESTAMP WITHOUT TIME ZONE": ("timestamp", frozenset({dt.datetime})),
    "TIMESTAMP": ("timestamp", frozenset({dt.datetime})),
}
"""The column's type as its DDL declares it (length, precision and scale aside) → the
binary type sent and the Python types sent in it."""


def _declared(dialect: sa.Dialect, column: sa.Column[Any]) -> tuple[str, frozenset[type]] | None:
    """The binary type name of ``column`` and the Python types sent in it."""
    ddl = column.type.compile(dialect=dialect).upper()
    return _BY_DDL.get(ddl.split("(", 1)[0].strip())


def _binary_plan(
    dialect: sa.Dialect,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    utc: bool,
) -> list[str] | None:
    """The binary type names to send the rows in, or ``None``: send them as text."""
    declared = [_declared(dialect, table.c[c]) for c in columns]
    if any(d is None for d in declared):
        return None
    names: list[str] = []
    for found, column in zip(declared, zip(*rows, strict=True), strict=True):
        assert found is not None
        name, allowed = found
        if not set(map(type, column)) - {_NONE} <= allowed:
            return None
        bounds = _INT_RANGE.get(name)
        if bounds is not None:  # psycopg's int2 and int4 binary forms wrap, silently
            numbers = list(filter(None, column))  # zeros and nulls fit any column
            if numbers and (min(numbers) < bounds[0] or max(numbers) > bounds[1]):
                return None
        elif name in ("timestamp", "timestamptz"):
            zones = set(map(_TZINFO, filter(None, column)))  # a datetime is never false
            if len(zones) > 1 and None in zones:
                return None  # naive and aware together
            if None in zones and name == "timestamptz":
                if not utc:
                    return None
                # naive UTC: a timestamp's binary form is the same microseconds since
                # 2000-01-01 as a UTC timestamptz's
                name = "timestamp"
            elif zones and None not in zones and name == "timestamp":
                return None  # the text form would drop the zone: let it
        names.append(name)
    return names
