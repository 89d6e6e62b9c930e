"""Reflection: which tables exist, their columns and keys, shaped by the spec.

Two readers produce the same facts: SQLAlchemy's inspector (URL path) and
pyodbc's ODBC catalog calls ``SQLTables`` / ``SQLColumns`` / ``SQLPrimaryKeys``
(raw ODBC path, so drivers without a SQLAlchemy dialect work too).
:func:`build_tables` then applies the spec: which tables, key overrides,
column allow-lists, writes and CHAR padding, and the modern shape
(:mod:`.mapped`: names, codecs, enum labels read from code tables).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Protocol

import pyodbc  # type: ignore[import-not-found, unused-ignore]  # its .pyi is not PEP 561
import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from strangler.adapters.db.mapped import map_table
from strangler.adapters.db.meta import ColumnInfo, Kind, TableInfo
from strangler.adapters.db.types import (
    PgMoney,
    SqliteDateTime,
    SqliteNumber,
    base_type,
    generic_type,
    integer_bounds_odbc,
    integer_bounds_sa,
    kind_of_odbc,
    kind_of_sa,
)
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

    def codes(self, table: str, code: str, label: str) -> list[tuple[Any, Any]]:
        """The ``(code, label)`` rows of a code table."""
        ...


def _code_query(table: str, schema: str | None, code: str, label: str) -> sa.Select[Any]:
    t = sa.table(table, sa.column(code), sa.column(label), schema=schema)
    return sa.select(t.c[code], t.c[label])


class SqlAlchemyReader:
    """Reflection through SQLAlchemy's inspector."""

    def __init__(self, engine: sa.Engine, schema: str | None) -> None:
        self.dbms = engine.dialect.name
        self._engine = engine
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
            type_ = base_type(c["type"])
            kind, length, precision, scale = kind_of_sa(type_)
            money = str(getattr(type_, "__visit_name__", "")).upper() == "MONEY"
            type_ = _statement_type(self.dbms, kind, money) or type_
            bounds = integer_bounds_sa(type_, self.dbms) if kind == "integer" else None
            try:
                db_type = str(c["type"].compile(dialect=self._dialect))
            except sa.exc.SQLAlchemyError:
                db_type = type(c["type"]).__name__
            default = c.get("default") is not None or c.get("autoincrement") is True
            columns.append(
                ColumnInfo(
                    c["name"], kind, bool(c["nullable"]), type_, length, precision, scale,
                    default, db_type=db_type, bounds=bounds, as_stored=_as_stored(self.dbms, kind),
                )
            )  # fmt: skip
        return columns

    def primary_key(self, name: str) -> list[str]:
        return list(self._inspector.get_pk_constraint(name, self._schema)["constrained_columns"])

    def codes(self, table: str, code: str, label: str) -> list[tuple[Any, Any]]:
        with self._engine.connect() as connection:
            rows = connection.execute(_code_query(table, self._schema, code, label))
            return [tuple(row) for row in rows]


class OdbcReader:
    """Reflection through the ODBC catalog functions of one open connection."""

    def __init__(
        self,
        connection: pyodbc.Connection,
        dbms: str,
        schema: str | None,
        dialect: sa.Dialect | None = None,
    ) -> None:
        self.dbms = dbms
        self._dialect = dialect
        self._connection = connection
        self._schema = schema
        self._where: dict[str, tuple[Any, Any]] = {}

    def table_names(self) -> dict[str, bool]:
        """The tables of the connected catalog (database), in the spec's schema or the
        session's own: an account that sees other databases or schemas does not
        expose theirs (MariaDB's driver lists every database it may read)."""
        catalog = self._current_catalog()
        schema = self._schema or self._current_schema()
        cursor = self._connection.cursor()
        names = {}
        for row in cursor.tables(schema=schema, tableType="TABLE,VIEW").fetchall():
            if catalog and row.table_cat and str(row.table_cat) != catalog:
                continue
            names[row.table_name] = str(row.table_type).upper() == "VIEW"
            self._where[row.table_name] = (row.table_cat or None, row.table_schem or None)
        return names

    def _current_catalog(self) -> str | None:
        try:
            name = self._connection.getinfo(pyodbc.SQL_DATABASE_NAME)
        except pyodbc.Error:
            return None
        return str(name) if name else None

    def _current_schema(self) -> str | None:
        query = _CURRENT_SCHEMA.get(self.dbms)
        if query is None:
            return None
        cursor = self._connection.cursor()
        try:
            row = cursor.execute(query).fetchone()
        except pyodbc.Error:
            return None
        finally:
            self._connection.rollback()
        return str(row[0]) if row and row[0] else None

    def columns(self, name: str) -> list[ColumnInfo]:
        catalog, schema = self._where.get(name, (None, self._schema))
        cursor = self._connection.cursor()
        rows = cursor.columns(table=name, catalog=catalog, schema=schema).fetchall()
        columns = []
        for row in sorted((r for r in rows if r.table_name == name), key=_ordinal):
            kind, length, precision, scale = kind_of_odbc(
                row.data_type, row.type_name, row.column_size, row.decimal_digits
            )
            bounds = (
                integer_bounds_odbc(row.data_type, row.type_name, self.dbms)
                if kind == "integer"
                else None
            )
            column = ColumnInfo(
                row.column_name, kind, row.nullable != 0, generic_type(kind), length, precision,
                scale, row.column_def not in (None, "NULL", "null"), db_type=str(row.type_name),
                bounds=bounds, as_stored=_as_stored(self.dbms, kind),
            )  # fmt: skip
            money = str(row.type_name).lower() == "money"
            type_ = _statement_type(self.dbms, kind, money) or generic_type(kind, column)
            columns.append(dataclasses.replace(column, sa_type=type_))
        return columns

    def primary_key(self, name: str) -> list[str]:
        catalog, schema = self._where.get(name, (None, self._schema))
        cursor = self._connection.cursor()
        rows = [r for r in cursor.primaryKeys(name, catalog, schema).fetchall() if r[2] == name]
        return [str(r[3]) for r in sorted(rows, key=lambda r: int(r[4] or 0))]

    def codes(self, table: str, code: str, label: str) -> list[tuple[Any, Any]]:
        sql = str(_code_query(table, self._schema, code, label).compile(dialect=self._dialect))
        try:
            return [tuple(row) for row in self._connection.cursor().execute(sql).fetchall()]
        finally:
            self._connection.rollback()


_CURRENT_SCHEMA = {"postgresql": "SELECT current_schema()", "mssql": "SELECT SCHEMA_NAME()"}
_DATE_KINDS: frozenset[Kind] = frozenset({"date", "datetime", "datetime_tz", "time"})


def _statement_type(dbms: str, kind: Kind, money: bool) -> TypeEngine[Any] | None:
    """The type statements use where the reflected one would change values."""
    if dbms == "sqlite" and kind in _DATE_KINDS:
        return SqliteDateTime()
    if dbms == "sqlite" and kind == "decimal":
        return SqliteNumber()
    if dbms == "postgresql" and money:
        return PgMoney()
    return None


def _as_stored(dbms: str, kind: Kind) -> bool:
    return dbms == "sqlite" and kind in _DATE_KINDS


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
        tables.append(map_table(table, options, spec, _labels(reader, name, options)))
    served: dict[str, str] = {}
    for table in tables:
        if table.name in served:
            raise ValueError(
                f"tables {served[table.name]!r} and {table.sql_name!r} are both served "
                f"as {table.name!r}"
            )
        served[table.name] = table.sql_name
    return tables


def _labels(reader: Reader, name: str, options: TableSpec) -> dict[str, dict[str, str]]:
    """Each ``enum_table`` field's codes and labels, read from its code table."""
    labels: dict[str, dict[str, str]] = {}
    for column, field in options.fields.items():
        source = field.enum_table
        if source is None:
            continue
        try:
            rows = reader.codes(source.table, source.code, source.label)
        except (sa.exc.SQLAlchemyError, pyodbc.Error) as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            raise ValueError(
                f"table {name}.{column}: cannot read code table {source.table} "
                f"({source.code}, {source.label}): {reason}"
            ) from exc
        labels[column] = {
            _code(code): _code(text) for code, text in rows if code is not None and text is not None
        }
    return labels


def _code(value: Any) -> str:
    """A code or label as read (CHAR padding stripped; ``1.0`` is ``1``)."""
    if isinstance(value, str):
        return value.rstrip(" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
