"""Writing many rows into a table fast: ``COPY`` on PostgreSQL, ``executemany`` elsewhere.

PostgreSQL receives the rows through psycopg's ``cursor.copy()`` on the
connection's own transaction, in binary where the batch's values fit the columns'
declared types exactly, else as text (the server parses each value's text form by
the column's type; JSON values are sent as JSON text; naive datetimes are read in
the session's zone, UTC for the store's engines): :mod:`strangler.etl.pg_copy`.
Other databases get one ``executemany`` of tuples, each value through its column
type's bind processing: what ``connection.execute`` does, without a dict per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from strangler.etl.pg_copy import copy_rows

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
        copy_rows(connection, table, columns, rows)
    else:
        _executemany(connection, table, columns, rows)


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
