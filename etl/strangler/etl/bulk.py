"""Writing many rows into a table fast: ``COPY`` on PostgreSQL, ``executemany`` elsewhere.

PostgreSQL receives the rows through psycopg's ``cursor.copy()`` on the
connection's own transaction (the server parses each value's text form by the
column's type; JSON values are sent as JSON text; naive datetimes are read in the
session's zone, UTC for the store's engines). Other databases get one
``executemany`` of tuples, each value through its column type's bind processing:
what ``connection.execute`` does, without a dict per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa

__all__ = ["write_rows"]


def write_rows(
    connection: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert ``rows`` (values in the order of ``columns``) into ``table``."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        _copy(connection, table, columns, rows)
    else:
        _executemany(connection, table, columns, rows)


def _copy(
    connection: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    preparer = connection.dialect.identifier_preparer
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.JSON)]
    sql = (
        f"COPY {preparer.format_table(table)} "
        f"({', '.join(preparer.quote(c) for c in columns)}) FROM STDIN"
    )
    driver = connection.connection.driver_connection
    assert driver is not None
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


def _executemany(
    connection: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    dialect = connection.dialect
    statement = sa.insert(table).values({c: sa.bindparam(c) for c in columns})
    compiled = statement.compile(dialect=dialect)
    if not compiled.positional or compiled.positiontup is None:  # a driver of named params
        connection.execute(statement, [dict(zip(columns, r, strict=True)) for r in rows])
        return
    order = compiled.positiontup
    at = [list(columns).index(name) for name in order]
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order
    ]
    if any(processors):
        values = [
            tuple(p(r[i]) if p else r[i] for p, i in zip(processors, at, strict=True)) for r in rows
        ]
    else:
        values = [tuple(r[i] for i in at) for r in rows]
    connection.exec_driver_sql(compiled.string, values)
