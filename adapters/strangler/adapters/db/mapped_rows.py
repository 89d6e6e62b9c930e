"""Rows of a table served in a modern shape, decoded for the answer.

Every converted column is decoded by its codec under the field's
``on_broken`` policy (:func:`strangler.mapping.decode_value`): ``error`` is a
``LegacyDataError`` (502) naming the table, the row by its legacy key and the
column; ``null`` answers null, logs and counts it; ``raw`` answers null and
puts the stored value in the side field (``orderDateRaw``), which is in every
answer that has the field. Other columns are answered as any column is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strangler.adapters.db.meta import ColumnInfo, TableInfo
from strangler.adapters.db.values import to_json
from strangler.mapping import decode_value
from strangler.mapping.broken import MISSING

__all__ = ["decode_items", "decode_row"]


def decode_items(
    system: str,
    table: TableInfo,
    names: Sequence[str],
    shown: set[str],
    rows: Sequence[Sequence[Any]],
) -> list[dict[str, Any]]:
    """The ``shown`` columns of stored ``rows`` (selected as ``names``) as answered."""
    columns = [table.require(name) for name in names]
    picked = [(i, c) for i, c in enumerate(columns) if c.name in shown]
    where = _key_positions(table, names)
    items = []
    for row in rows:
        label = _row_label(table, row, where)
        item: dict[str, Any] = {}
        for i, column in picked:
            _put(system, table, column, row[i], item, label)
        items.append(item)
    return items


def decode_row(
    system: str, table: TableInfo, names: Sequence[str], row: Sequence[Any]
) -> dict[str, Any]:
    """One stored row (every column, selected as ``names``) as answered."""
    return decode_items(system, table, names, set(names), [row])[0]


def _put(
    system: str,
    table: TableInfo,
    column: ColumnInfo,
    stored: Any,
    item: dict[str, Any],
    label: str,
) -> None:
    codec = column.codec
    if codec is None:
        item[column.name] = to_json(column, stored)
        return
    value, raw = decode_value(
        codec, stored, system=system, obj=table.sql_name, field=column.sql_name, row=label
    )
    item[column.name] = to_json(column, value)
    if column.raw_name is not None:
        item[column.raw_name] = None if raw is MISSING else raw


def _key_positions(table: TableInfo, names: Sequence[str]) -> list[tuple[str, int]]:
    return [(table.require(k).sql_name, names.index(k)) for k in table.key if k in names]


def _row_label(table: TableInfo, row: Sequence[Any], where: list[tuple[str, int]]) -> str:
    """The row as messages name it: its legacy key (``ORDER_NO=101880``)."""
    return ", ".join(f"{name}={_text(row[i])}" for name, i in where)


def _text(value: Any) -> str:
    return str(value).rstrip(" ") if value is not None else "NULL"
