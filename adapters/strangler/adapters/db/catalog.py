"""Reflection: which tables exist, their columns and keys, shaped by the spec.

Two readers produce the same facts: SQLAlchemy's inspector (URL path) and
pyodbc's ODBC catalog calls ``SQLTables`` / ``SQLColumns`` / ``SQLPrimaryKeys``
(raw ODBC path, so drivers without a SQLAlchemy dialect work too).
:func:`build_tables` then applies the spec: which tables, key overrides,
column allow-lists, writes and CHAR padding.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Protocol

import pyodbc  # type: ignore[import-not-found, unused-ignore]  # its .pyi is not PEP 561
import sqlalchemy as sa

from strangler.adapters.db.meta import ColumnInfo, TableInfo
from strangler.adapters.db.types import SqliteDateTime, generic_type, kind_of_odbc, kind_of_sa
from strangler.spec.database import DatabaseSystem, TableSpec

__all__ = ["OdbcReader", "Reader", "SqlAlchemyReader", "build_tables"]

log = logging.getLogger(__name__)


class Reader(Protocol):
    """The facts reflection needs, whatever the path."""

    dbms: str

    def table_names(self) -> dict[str, bool]:
        """Every table and view name → whether it is a view."""
        ...

    def columns(self, name: str) -> list[ColumnInfo]: ...

    def primary_key(self, name: str) -> list[str]: ...


class SqlAlchemyReader:
    """Reflection through SQLAlchemy's inspector."""

    def __init__(self, engine: sa.Engine, schema: str | None) -> None:
        self.dbms = engine.dialect.name
        self._dialect = engine.dialect
        self._inspector = sa.inspect(engine)
        self._schema = schema

    def table_names(self) -> dict[str, bool]:
        names = {n: False for n in self._inspector.get_table_names(self._schema)}
        names.update({n: True for n in self._inspector.get_view_names(self._schema)})
        return names

    def columns(self, name: str) -> list[ColumnInfo]:
        columns = []
        for c in self._inspector.get_columns(name, self._schema):
            type_ = c["type"]
            kind, length, precision, scale = kind_of_sa(type_)
            if self.dbms == "sqlite" and kind in ("datetime", "datetime_tz"):
                type_ = SqliteDateTime()
            try:
                db_type = str(c["type"].compile(dialect=self._dialect))
            except sa.exc.SQLAlchemyError:
                db_type = type(c["type"]).__name__
            default = c.get("default") is not None or c.get("autoincrement") is True
            columns.append(
                ColumnInfo(
                    c["name"], kind, bool(c["nullable"]), type_, length, precision, scale,
                    default, db_type=db_type,
                )
            )  # fmt: skip
        return columns

    def primary_key(self, name: str) -> list[str]:
        return list(self._inspector.get_pk_constraint(name, self._schema)["constrained_columns"])


class OdbcReader:
    """Reflection through the ODBC catalog functions of one open connection."""

    def __init__(self, connection: pyodbc.Connection, dbms: str, schema: str | None) -> None:
        self.dbms = dbms
        self._connection = connection
        self._schema = schema
        self._where: dict[str, tuple[Any, Any]] = {}

    def table_names(self) -> dict[str, bool]:
        cursor = self._connection.cursor()
        names = {}
        for row in cursor.tables(schema=self._schema, tableType="TABLE,VIEW").fetchall():
            names[row.table_name] = str(row.table_type).upper() == "VIEW"
            self._where[row.table_name] = (row.table_cat or None, row.table_schem or None)
        return names

    def columns(self, name: str) -> list[ColumnInfo]:
        catalog, schema = self._where.get(name, (None, self._schema))
        cursor = self._connection.cursor()
        rows = cursor.columns(table=name, catalog=catalog, schema=schema).fetchall()
        columns = []
        for row in sorted((r for r in rows if r.table_name == name), key=_ordinal):
            kind, length, precision, scale = kind_of_odbc(
                row.data_type, row.type_name, row.column_size, row.decimal_digits
            )
            column = ColumnInfo(
                row.column_name, kind, row.nullable != 0, generic_type(kind), length, precision,
                scale, row.column_def not in (None, "NULL", "null"), db_type=str(row.type_name),
            )  # fmt: skip
            columns.append(dataclasses.replace(column, sa_type=generic_type(kind, column)))
        return columns

    def primary_key(self, name: str) -> list[str]:
        catalog, schema = self._where.get(name, (None, self._schema))
        cursor = self._connection.cursor()
        rows = [r for r in cursor.primaryKeys(name, catalog, schema).fetchall() if r[2] == name]
        return [str(r[3]) for r in sorted(rows, key=lambda r: int(r[4] or 0))]


def _ordinal(row: Any) -> int:
    return int(row.ordinal_position or 0)


def build_tables(reader: Reader, spec: DatabaseSystem) -> list[TableInfo]:
    """The exposed tables; ``ValueError`` with a clear reason when the spec does not fit."""
    available = reader.table_names()
    implicit = spec.tables is None
    wanted = (
        {name: TableSpec() for name, view in available.items() if not view}
        if spec.tables is None
        else spec.tables
    )
    folded: dict[str, list[str]] = {}
    for name in available:
        folded.setdefault(name.lower(), []).append(name)
    tables = []
    for name, options in wanted.items():
        actual = name if name in available else _unique(folded.get(name.lower(), []))
        if actual is None:
            raise ValueError(f"no table or view {name!r} (found: {', '.join(sorted(available))})")
        table = _table(reader, name, actual, options, spec)
        if table is None and not implicit:
            raise ValueError(f"table {name!r} has no primary key: give its 'key' in the spec")
        if table is None:
            log.warning("table %s has no primary key; it is not exposed", name)
            continue
        tables.append(table)
    return tables


def _unique(names: list[str]) -> str | None:
    return names[0] if len(names) == 1 else None


def _table(
    reader: Reader, name: str, actual: str, options: TableSpec, spec: DatabaseSystem
) -> TableInfo | None:
    columns = reader.columns(actual)
    by_name = {c.name: c for c in columns}
    key = tuple(options.key or reader.primary_key(actual))
    if not key:
        return None
    for wanted in (*key, *(options.columns or ())):
        if wanted not in by_name:
            raise ValueError(f"table {name!r} has no column {wanted!r}")
    if options.columns is not None:
        if not set(key) <= set(options.columns):
            raise ValueError(f"table {name!r}: its key {', '.join(key)} must be among 'columns'")
        columns = [c for c in columns if c.name in options.columns]
    strip = (options.char_padding or spec.char_padding) == "strip"
    generated = len(key) == 1 and by_name[key[0]].kind == "integer"
    shaped = []
    for column in columns:
        if column.name in key:
            column = dataclasses.replace(
                column,
                nullable=False,
                has_default=column.has_default or generated,
            )
        shaped.append(dataclasses.replace(column, strip=strip and column.kind == "char"))
    return TableInfo(name, spec.db_schema, tuple(shaped), key, options.writes, db_name=actual)
