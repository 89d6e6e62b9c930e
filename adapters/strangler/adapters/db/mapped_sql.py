"""Converted columns in SQL: the mapping's pushdown trees as SQLAlchemy expressions.

A codec's ``sortable()`` tree (:mod:`strangler.mapping.pushdown`) is rendered
over the stored column, so filters, sorts and keyset cursors on a converted
column are evaluated by the database and compare as the decoded values do
(``DD.MM.YYYY`` text is compared as ``substring(..7, 4) || substring(..4, 2)
|| substring(..1, 2)``). The rendering is dialect-neutral Core
(``SUBSTRING``/``substr``, ``RTRIM``, ``CASE``, integer ``//`` and ``%``),
compiled by whichever dialect runs the statement: SQLite, PostgreSQL,
MariaDB/MySQL and SQL Server, on the SQLAlchemy and the raw ODBC paths alike.

A cursor over a converted column carries the rendered expression's value for
the last row, as the database computed it (see :func:`cursor_json`).
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, functions
from sqlalchemy.sql.compiler import SQLCompiler

from strangler.adapters.db.meta import ColumnInfo
from strangler.mapping.pushdown import (
    Arithmetic,
    AsInteger,
    Cases,
    Expr,
    NullIf,
    RTrim,
    Slices,
    Stored,
)

__all__ = ["cursor_json", "from_cursor", "render", "sort_expression"]


class _Substring(functions.GenericFunction[str]):
    """``SUBSTRING(text, start, length)`` (1-based); ``substr`` on SQLite."""

    type = sa.String()
    inherit_cache = True


@compiles(_Substring)
def _substring(element: _Substring, compiler: SQLCompiler, **kw: Any) -> str:
    return f"SUBSTRING({compiler.process(element.clauses, **kw)})"


@compiles(_Substring, "sqlite")
def _substr(element: _Substring, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)})"


def _int(value: int) -> ColumnElement[Any]:
    """A small constant of the tree (an offset, a divisor) written into the SQL: no
    bound parameter whose type a database would have to guess."""
    return sa.literal_column(str(int(value)), sa.Integer())


def _typed(value: Any) -> ColumnElement[Any]:
    """A constant of the spec (a code, a label) as a bound value of its own type."""
    if isinstance(value, bool):
        return sa.literal(value, sa.Boolean())
    if isinstance(value, int):
        return sa.literal(value, sa.BigInteger())
    return sa.literal(value, sa.String())


def render(expr: Expr, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``expr`` over ``column`` (the stored column) as a SQLAlchemy expression."""
    if isinstance(expr, Stored):
        return column
    if isinstance(expr, RTrim):
        return sa.func.rtrim(render(expr.inner, column), type_=sa.String())
    if isinstance(expr, AsInteger):
        return sa.cast(render(expr.inner, column), sa.BigInteger())
    if isinstance(expr, Slices):
        inner = render(expr.inner, column)
        parts = [_Substring(inner, _int(at + 1), _int(width)) for at, width in expr.parts]
        joined: ColumnElement[Any] = parts[0]
        for part in parts[1:]:
            joined = joined.concat(part)
        return sa.type_coerce(joined, sa.String())
    if isinstance(expr, Arithmetic):
        inner = sa.type_coerce(render(expr.inner, column), sa.BigInteger())
        terms = [(inner // _int(d)) % _int(m) * _int(w) for d, m, w in expr.groups]
        total: ColumnElement[Any] = terms[0]
        for term in terms[1:]:
            total = total + term
        return sa.type_coerce(total, sa.BigInteger())
    if isinstance(expr, Cases):
        inner = render(expr.inner, column)
        whens = [(inner == _typed(stored), _typed(result)) for stored, result in expr.pairs]
        results = {type(result) for _, result in expr.pairs}
        type_: Any = sa.BigInteger() if results <= {int} else sa.String()
        return sa.type_coerce(sa.case(*whens, else_=sa.null()), type_)
    if isinstance(expr, NullIf):
        inner = render(expr.inner, column)
        then = render(expr.then, column)
        nulls = [_typed(v) for v in expr.values]
        return sa.type_coerce(sa.case((inner.in_(nulls), sa.null()), else_=then), then.type)
    raise TypeError(f"unknown pushdown expression {expr!r}")


def sort_expression(column: ColumnInfo, stored: ColumnElement[Any]) -> ColumnElement[Any]:
    """What filters and sorts on ``column`` compare: ``stored`` itself, or for a
    converted column its codec's sortable expression."""
    if column.codec is None:
        return stored
    return render(column.codec.sortable(), stored)


def _result_type(column: ColumnInfo) -> Any:
    """The SQL type of ``column``'s sortable expression."""
    return sort_expression(column, sa.column(column.name, column.sa_type)).type


def _coerce(column: ColumnInfo, value: Any) -> Any:
    """``value`` in the Python type of the sortable expression's SQL type (drivers give
    computed columns as text where they cannot tell their type: SQLite's ODBC driver)."""
    if value is None or isinstance(value, bool):
        return value
    type_ = _result_type(column)
    if isinstance(type_, sa.Integer) and not isinstance(value, int):
        number = decimal.Decimal(str(value))
        if number != number.to_integral_value():
            raise ValueError(f"{column.name}: not an integer")
        return int(number)
    if isinstance(type_, sa.String) and not isinstance(value, str):
        return str(value)
    return value


def cursor_json(value: Any, column: ColumnInfo | None = None) -> Any:
    """A sortable expression's value as a cursor carries it (JSON); given its ``column``,
    first in the expression's own type (see :func:`_coerce`)."""
    if column is not None:
        value = _coerce(column, value)
    if isinstance(value, decimal.Decimal):
        return {"d": format(value, "f")}
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return {"t": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        raise ValueError("binary sort values cannot be carried in a cursor")
    return value


def from_cursor(column: ColumnInfo, value: Any) -> Any:
    """A value written by :func:`cursor_json` back, bound as it was read; ``ValueError``
    for anything a cursor of ``column`` cannot hold."""
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        try:
            return _coerce(column, value)
        except (ValueError, ArithmeticError):
            raise ValueError(f"{column.name}: unexpected value in cursor") from None
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if isinstance(text, str) and len(text) <= 64:
            try:
                if tag == "d":
                    return decimal.Decimal(text)
                if tag == "t":
                    return _time_value(text)
            except (ValueError, decimal.InvalidOperation):
                pass
    raise ValueError(f"{column.name}: unexpected value in cursor")


def _time_value(text: str) -> Any:
    if ":" in text and "-" not in text:
        return dt.time.fromisoformat(text)
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    return dt.datetime.fromisoformat(text)
