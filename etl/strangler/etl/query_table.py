"""A SQL query's result seen as a table: its columns, their codecs, its key.

The query runs as a subquery, so the statements the database adapter builds
for tables (filters, keyset order, codecs' sortable forms) apply to it
unchanged. What each column stores is read from a sample of the result (the
drivers' type descriptions differ too much to rely on); the view's ``fields``
then rename and decode columns exactly as a table's ``fields`` do
(:func:`strangler.mapping.build_shape`). A field may name a column in another
case than the database answers it (PostgreSQL folds unquoted names to lower
case).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import sqlalchemy as sa

from strangler.adapters.db.meta import ColumnInfo, Kind, TableInfo
from strangler.mapping import FieldMap, StoredKind, build_shape

__all__ = ["QueryTable", "query_table", "query_text"]

_SA_TYPES: dict[Kind, Any] = {
    "integer": sa.BigInteger(),
    "decimal": sa.Numeric(),
    "float": sa.Float(),
    "boolean": sa.Boolean(),
    "string": sa.String(),
    "date": sa.Date(),
    "datetime": sa.DateTime(),
    "time": sa.Time(),
    "binary": sa.LargeBinary(),
    "other": sa.String(),
}
_STORED: dict[Kind, StoredKind] = {
    "integer": "integer",
    "decimal": "decimal",
    "float": "float",
    "boolean": "boolean",
    "string": "text",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
}
_COLON = re.compile(r"(?<!\\):")


def query_text(query: str) -> sa.TextClause:
    """The query as SQLAlchemy text with no bound parameters (``:`` is literal)."""
    return sa.text(_COLON.sub(r"\\:", query.strip().rstrip(";")))


@dataclass(frozen=True)
class QueryTable(TableInfo):
    """A query's result as a :class:`TableInfo` whose ``sa_table`` is a subquery."""

    query: str = ""

    @cached_property
    def sa_table(self) -> sa.Table:
        stored = [sa.column(c.sql_name, c.sa_type) for c in self.columns]
        inner = query_text(self.query).columns(*stored).subquery("legacy_rows")
        outer = sa.select(*(inner.c[c.sql_name].label(c.name) for c in self.columns))
        return cast(sa.Table, outer.subquery("feature_rows"))


def _kind(values: Sequence[Any]) -> Kind:
    value = next((v for v in values if v is not None), None)
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, decimal.Decimal):
        return (
            "integer"
            if value == value.to_integral_value() and value.as_tuple().exponent == 0
            else "decimal"
        )
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, bytes | bytearray | memoryview):
        return "binary"
    return "string"


def query_table(
    name: str,
    query: str,
    names: Sequence[str],
    sample: Sequence[Sequence[Any]],
    fields: Mapping[str, FieldMap],
    key: Sequence[str],
) -> QueryTable:
    """The query's table; ``ValueError`` when ``fields`` or ``key`` do not fit its columns.

    ``names``/``sample``: the result's column names and first rows; ``key``:
    the modern names that identify a row (the view's entity and event time).
    """
    by_fold = {n.casefold(): n for n in names}
    maps: dict[str, FieldMap] = {}
    for given, spec in fields.items():
        actual = given if given in names else by_fold.get(given.casefold(), given)
        maps[actual] = spec
    kinds = [_kind([row[i] for row in sample]) for i in range(len(names))]
    shape = build_shape(
        "", name, [(n, _STORED.get(k, "other")) for n, k in zip(names, kinds, strict=True)], maps
    )
    columns = []
    for column_name, kind, f in zip(names, kinds, shape.fields, strict=True):
        column = ColumnInfo(
            name=f.modern, kind=kind, nullable=True, sa_type=_SA_TYPES[kind], legacy=column_name
        )
        if f.codec is not None:
            codec = f.codec
            column = dataclasses.replace(
                column, codec=codec, kind=codec.kind if codec.kind != "other" else kind
            )
        columns.append(column)
    modern = [c.name for c in columns]
    missing = [k for k in key if k not in modern]
    if missing:
        raise ValueError(
            f"the query has no column {', '.join(map(repr, missing))} "
            f"(columns: {', '.join(modern)})"
        )
    return QueryTable(name, None, tuple(columns), tuple(dict.fromkeys(key)), query=query)
