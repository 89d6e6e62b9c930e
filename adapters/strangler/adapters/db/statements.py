"""SQLAlchemy Core statements from checked requests: every value is a bound parameter.

Identifiers come only from the reflected :class:`TableInfo` (quoted by the
dialect); values come only from parsed, typed request data. Ordering puts NULLs
last in ascending order and first in descending order on every database, so
keyset pagination over nullable columns behaves the same everywhere.

Filters on SQLite's text dates compare ``julianday()`` of both sides, so a
value finds the rows whatever text form they were stored in
(``1996-07-04 00:00:00.000`` equals ``1996-07-04T00:00:00``); keyset paging
compares the stored text itself, exactly as ``ORDER BY`` orders it.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, Delete, Insert, Select, Update

from strangler.adapters.db.mapped_sql import sort_expression
from strangler.adapters.db.meta import TableInfo
from strangler.adapters.db.query import Filter, ListQuery, SortKey

__all__ = [
    "after_name",
    "delete_row",
    "insert_row",
    "page_columns",
    "page_sort_values",
    "select_by_key",
    "select_page",
    "update_row",
]


def page_columns(table: TableInfo, query: ListQuery) -> tuple[str, ...]:
    """The columns a page selects: the fields asked for, then the sort columns."""
    return tuple(dict.fromkeys([*query.fields, *(k.column for k in query.sort)]))


def page_sort_values(table: TableInfo, query: ListQuery) -> tuple[str, ...]:
    """The converted sort columns whose sortable value a page selects after its columns."""
    return tuple(k.column for k in query.sort if table.require(k.column).codec is not None)


def after_name(position: int) -> str:
    """The bound parameter holding the cursor's value at ``position`` in a page statement
    made with ``named_after`` (see :func:`select_page`)."""
    return f"after_{position}"


def select_page(table: TableInfo, query: ListQuery, *, named_after: bool = False) -> Select[Any]:
    """One page (and one row more, to tell whether another page follows).

    ``named_after``: the cursor's values are bound as ``after_0``, ``after_1``, ...
    (:func:`after_name`), so the statement can run again for another cursor of the same
    shape (the same positions NULL) with only those parameters given anew.
    """
    t = table.sa_table
    stmt = sa.select(
        *(t.c[name] for name in page_columns(table, query)),
        *(_expr(table, name) for name in page_sort_values(table, query)),
    )
    conditions = [_condition(table, t.c[f.column], f) for f in query.filters]
    if query.after is not None:
        conditions.append(_after(table, query.sort, query.after, named_after))
    if conditions:
        stmt = stmt.where(sa.and_(*conditions))
    stmt = stmt.order_by(*_order(table, query.sort)).limit(query.limit + 1)
    if query.offset:
        stmt = stmt.offset(query.offset)
    return stmt


def select_by_key(table: TableInfo, key: Sequence[Any]) -> Select[Any]:
    t = table.sa_table
    return sa.select(*(t.c[name] for name in table.names)).where(_key_match(table, key))


def insert_row(table: TableInfo, values: Mapping[str, Any]) -> Insert:
    return sa.insert(table.sa_table).values(dict(values))


def update_row(table: TableInfo, key: Sequence[Any], values: Mapping[str, Any]) -> Update:
    return sa.update(table.sa_table).where(_key_match(table, key)).values(dict(values))


def delete_row(table: TableInfo, key: Sequence[Any]) -> Delete:
    return sa.delete(table.sa_table).where(_key_match(table, key))


def _key_match(table: TableInfo, key: Sequence[Any]) -> ColumnElement[bool]:
    t = table.sa_table
    return sa.and_(*(t.c[name] == value for name, value in zip(table.key, key, strict=True)))


_COMPARE = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _expr(table: TableInfo, name: str) -> ColumnElement[Any]:
    """What sorts and filters on ``name`` compare (the column, or its sortable form)."""
    return sort_expression(table.require(name), table.sa_table.c[name])


def _condition(table: TableInfo, column: sa.Column[Any], f: Filter) -> ColumnElement[bool]:
    codec = table.require(f.column).codec
    if codec is not None:
        return _mapped_condition(_expr(table, f.column), f, codec.comparable)
    if f.op == "is":
        return column.is_(None) if f.value == "null" else column.is_not(None)
    if f.op == "like":
        return column.like(sa.bindparam(None, f.value, type_=sa.String()))
    instant = table.require(f.column).as_stored  # SQLite's text dates: compare the instant
    left: ColumnElement[Any] = sa.func.julianday(column) if instant else column

    def bind(value: Any) -> ColumnElement[Any]:
        bound = sa.bindparam(None, value, type_=column.type)
        return sa.func.julianday(bound) if instant else bound

    if f.op == "in":
        return left.in_([bind(v) for v in f.value])
    result: ColumnElement[bool] = _COMPARE[f.op](left, bind(f.value))
    return result


def _mapped_condition(left: ColumnElement[Any], f: Filter, comparable: Any) -> ColumnElement[bool]:
    if f.op == "is":
        return left.is_(None) if f.value == "null" else left.is_not(None)
    if f.op == "like":
        return left.like(sa.bindparam(None, f.value, type_=sa.String()))

    def bind(value: Any) -> ColumnElement[Any]:
        return sa.bindparam(None, comparable(value), type_=left.type)

    if f.op == "in":
        return left.in_([bind(v) for v in f.value])
    result: ColumnElement[bool] = _COMPARE[f.op](left, bind(f.value))
    return result


def _order(table: TableInfo, sort: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    clauses: list[ColumnElement[Any]] = []
    for key in sort:
        column = _expr(table, key.column)
        if _nulls_possible(table, key.column):
            nulls = sa.case((column.is_(None), 1), else_=0)
            clauses.append(nulls.desc() if key.descending else nulls.asc())
        clauses.append(column.desc() if key.descending else column.asc())
    return clauses


def _nulls_possible(table: TableInfo, name: str) -> bool:
    column = table.require(name)
    if column.codec is not None:  # a code or flag outside the declared ones compares as NULL
        return True
    return column.nullable and name not in table.key


def _after(
    table: TableInfo, sort: Sequence[SortKey], values: Sequence[Any], named: bool = False
) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in ``sort`` order, as an OR of ANDs (any database)."""
    branches: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for position, (key, value) in enumerate(zip(sort, values, strict=True)):
        column = _expr(table, key.column)
        name = after_name(position) if named else None
        bound = sa.bindparam(name, value, type_=column.type)
        later: ColumnElement[bool]
        same: ColumnElement[bool]
        if value is None:
            later = column.is_not(None) if key.descending else sa.false()
            same = column.is_(None)
        else:
            later = column < bound if key.descending else column > bound
            if _nulls_possible(table, key.column) and not key.descending:
                later = sa.or_(later, column.is_(None))
            same = column == bound
        branches.append(sa.and_(*equal, later))
        equal.append(same)
    return sa.or_(*branches)
