"""Tables in a modern shape: the spec's renames and codecs applied to reflected tables.

:func:`map_table` turns a reflected :class:`TableInfo` (legacy names and
stored types) into the one the rest of the adapter serves: modern table and
column names, modern kinds (a ``DD.MM.YYYY`` text column is a ``date``, cents
are a ``decimal`` with its scale, a flag a ``boolean``, codes a ``string``
with its labels), each converted column keeping its legacy name and codec.
Query parsing, models and JSON then work from modern kinds as for any table;
statements compare converted columns through :mod:`.mapped_sql`, reads decode
through :mod:`.mapped_rows`, and writes and keys encode here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from strangler.adapters.db.meta import ColumnInfo, Kind, TableInfo
from strangler.errors import InputProblem, InvalidInput
from strangler.mapping import StoredKind, build_shape
from strangler.spec.database import DatabaseSystem, TableSpec

__all__ = ["check_value", "encode_key", "encode_values", "map_table", "stored_kind"]

_STORED: dict[Kind, StoredKind] = {
    "integer": "integer", "decimal": "decimal", "float": "float", "boolean": "boolean",
    "string": "text", "char": "text", "date": "date", "datetime": "datetime", "time": "time",
}  # fmt: skip


def stored_kind(column: ColumnInfo) -> StoredKind:
    """How the mapping layer sees a reflected column's stored values."""
    if column.kind == "decimal" and column.scale == 0:
        return "integer"  # NUMERIC(10, 0) holds whole numbers
    return _STORED.get(column.kind, "other")


def map_table(
    table: TableInfo,
    options: TableSpec,
    spec: DatabaseSystem,
    labels: Mapping[str, dict[str, str]] | None = None,
) -> TableInfo:
    """``table`` in its modern shape; ``ValueError`` naming the table and column otherwise.

    ``labels`` holds the codes read from the code tables of ``enum_table`` fields.
    """
    modern_table = spec.served_name(table.name)
    if not options.fields and spec.naming == "keep" and modern_table == table.name:
        return table
    try:
        shape = build_shape(
            "", table.name, [(c.name, stored_kind(c)) for c in table.columns], options.fields,
            naming=spec.naming, modern_name=modern_table, labels=labels,
        )  # fmt: skip
    except ValueError as exc:
        raise ValueError(f"table {exc}") from None
    columns = []
    for column, f in zip(table.columns, shape.fields, strict=True):
        if f.codec is None:
            columns.append(dataclasses.replace(column, name=f.modern, legacy=column.name))
            continue
        codec = f.codec
        nullable = column.nullable or bool(codec.spec.null_values) or f.raw_name is not None
        columns.append(
            dataclasses.replace(
                column, name=f.modern, legacy=column.name, codec=codec, raw_name=f.raw_name,
                kind=codec.kind if codec.kind != "other" else column.kind,
                nullable=nullable and column.name not in table.key,
                length=None if codec.labels or codec.kind != "string" else column.length,
                precision=None, scale=codec.scale, bounds=None, as_stored=False, strip=False,
                stored_bounds=(column.bounds or _INT64) if column.kind == "integer" else None,
                stored_length=column.length if column.kind in ("string", "char") else None,
            )
        )  # fmt: skip
    renamed = {f.legacy: f.modern for f in shape.fields}
    key = tuple(renamed[name] for name in table.key)
    return dataclasses.replace(
        table, name=modern_table, columns=tuple(columns), key=key, db_name=table.sql_name
    )


_INT64 = (-(2**63), 2**63 - 1)


def _fits(column: ColumnInfo, stored: Any) -> Any:
    """``stored`` if the stored column can hold it; ``ValueError`` saying why not."""
    if isinstance(stored, int) and not isinstance(stored, bool):
        low, high = column.stored_bounds or _INT64
        if not low <= stored <= high:
            raise ValueError(f"stored as {stored}, outside the {low} to {high} the column holds")
    length = column.stored_length
    if isinstance(stored, str) and length is not None and len(stored) > length:
        raise ValueError(f"stored as {len(stored)} characters; the column holds {length}")
    return stored


def check_value(column: ColumnInfo, value: Any) -> Any:
    """A filter value of a converted column, checked: ``ValueError`` saying why it has no
    stored form (a label that is not one of the column's, more decimals than cents hold)."""
    codec = column.codec
    if codec is None or value is None:
        return value
    if codec.labels is not None and value not in codec.labels:
        raise ValueError(f"{column.name} takes one of {', '.join(codec.labels)}, not {value!r}")
    try:
        comparable = codec.comparable(value)
        if isinstance(comparable, int) and not isinstance(comparable, bool):
            low, high = _INT64
            if not low <= comparable <= high:
                raise ValueError("is out of range")
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ValueError(f"{column.name}: {exc}") from None
    return value


def encode_values(table: TableInfo, values: Mapping[str, Any]) -> dict[str, Any]:
    """A write's modern values in their stored form; ``InvalidInput`` (422) naming each
    field that cannot be stored."""
    out: dict[str, Any] = {}
    problems: list[InputProblem] = []
    for name, value in values.items():
        column = table.require(name)
        if column.codec is None:
            out[name] = value
            continue
        try:
            out[name] = _fits(column, column.codec.encode(value))
        except (ValueError, TypeError, ArithmeticError) as exc:
            problems.append(InputProblem(name, f"cannot be stored: {exc}"))
    if problems:
        detail = "; ".join(f"{p.path}: {p.message}" for p in problems)
        raise InvalidInput(detail, problems)
    return out


def encode_key(table: TableInfo, values: Sequence[Any]) -> tuple[Any, ...]:
    """Typed key values (modern) in their stored form; ``ValueError`` naming the column."""
    out = []
    for column, value in zip(table.key_columns, values, strict=True):
        if column.codec is None or value is None:
            out.append(value)
            continue
        try:
            out.append(_fits(column, column.codec.encode(value)))
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"{column.name}: {exc}") from None
    return tuple(out)
