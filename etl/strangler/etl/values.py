"""Column values as feature values: the kind of each column, and a reader per column.

A database column served in a modern shape is decoded by its codec (the
mapping layer, under the field's ``on_broken`` policy); any other column is
read by its kind: SQLite's text dates become dates and timestamps, decimals
``Decimal``, CHAR padding is stripped where the system says so, and text
flags become booleans. Values of operations (JSON-like) keep their type.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from strangler.adapters.db.meta import ColumnInfo, TableInfo
from strangler.etl.types import FeatureKind
from strangler.mapping import decode_value

__all__ = ["Reader", "column_kind", "column_reader", "parse_as", "read_column", "value_kind"]

Reader = Callable[[Any, str], Any]
"""``(stored value, row label) -> feature value``; the label names the row in errors."""

_BY_KIND: dict[str, FeatureKind] = {
    "integer": "integer",
    "decimal": "decimal",
    "float": "float",
    "boolean": "boolean",
    "string": "string",
    "char": "string",
    "date": "date",
    "datetime": "datetime",
    "datetime_tz": "datetime",
    "time": "time",
    "binary": "bytes",
    "uuid": "string",
    "other": "json",
}
_TRUE = frozenset({"1", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "f", "false", "n", "no"})


def column_kind(column: ColumnInfo) -> FeatureKind:
    """The feature kind of a (possibly decoded) column."""
    kind = column.codec.kind if column.codec is not None else column.kind
    return _BY_KIND.get(kind, "string")


def column_reader(system: str, table: TableInfo, column: ColumnInfo) -> Reader:
    """A function reading ``column``'s stored values as feature values."""
    codec = column.codec
    kind = column_kind(column)
    if codec is not None:
        plain = _plain(kind)

        def decoded(value: Any, label: str) -> Any:
            modern, _ = decode_value(
                codec, value, system=system, obj=table.sql_name, field=column.sql_name, row=label
            )
            return None if modern is None else plain(modern)

        return decoded
    if column.kind == "char" and column.strip:
        return lambda v, _: None if v is None else str(v).rstrip(" ")
    convert = _plain(kind)
    return lambda v, _: None if v is None else convert(v)


def _plain(kind: FeatureKind) -> Callable[[Any], Any]:
    return _CONVERT.get(kind, _same)


def _same(value: Any) -> Any:
    return value


def _integer(value: Any) -> int:
    return value if type(value) is int else int(value)


def _float(value: Any) -> float:
    return value if type(value) is float else float(value)


def _decimal(value: Any) -> decimal.Decimal:
    if type(value) is decimal.Decimal:
        return value
    return decimal.Decimal(repr(value) if type(value) is float else str(value))


def _boolean(value: Any) -> bool:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{value!r} is not a boolean")
    return bool(value)


def _string(value: Any) -> str:
    return value if type(value) is str else str(value)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return dt.datetime.fromisoformat(str(value).strip())


def _time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, dt.timedelta):  # MySQL drivers give TIME as a duration
        return (dt.datetime.min + value).time()
    return dt.time.fromisoformat(str(value))


def _bytes(value: Any) -> bytes:
    return bytes(value)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


_CONVERT: dict[FeatureKind, Callable[[Any], Any]] = {
    "integer": _integer,
    "float": _float,
    "decimal": _decimal,
    "boolean": _boolean,
    "string": _string,
    "date": _date,
    "datetime": _datetime,
    "time": _time,
    "bytes": _bytes,
    "json": _json,
}


_NONE = type(None)
_DECIMAL = decimal.Decimal
_FROM_TEXT: dict[FeatureKind, Callable[[str], Any]] = {
    "date": lambda text: dt.date.fromisoformat(text[:10]),
    "datetime": dt.datetime.fromisoformat,
    "time": dt.time.fromisoformat,
    "decimal": decimal.Decimal,
}


def read_column(kind: FeatureKind, values: Sequence[Any]) -> list[Any] | None:
    """A column of stored values read as ``kind`` in one pass, each as the kind's reader
    (:func:`column_reader`) reads it; ``None`` when some value needs the reader one by
    one (another type, or text the one pass does not take)."""
    stored = set(map(type, values))
    nulls = _NONE in stored
    types = stored - {_NONE}
    try:
        if kind == "decimal" and types <= {float, int, _DECIMAL}:
            if types == {float} and not nulls:
                return list(map(_DECIMAL, map(repr, values)))
            return [  # as _decimal: a float by its repr, an int exactly
                _DECIMAL(repr(v)) if type(v) is float else v if v is None else _DECIMAL(v)
                for v in values
            ]
        if kind == "float" and types <= {float, int}:
            return [v if v is None or type(v) is float else float(v) for v in values]
        if kind == "integer" and types <= {int}:
            return list(values)
        if types == {str}:
            parse = _FROM_TEXT.get(kind)
            if parse is not None:
                return [None if v is None else parse(v) for v in values]
    except (ValueError, decimal.InvalidOperation):  # not in the one pass's form
        return None
    return None


def value_kind(value: Any) -> FeatureKind | None:
    """The kind of a Python value (``None`` for ``None``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes"
    if isinstance(value, str):
        return "string"
    return "json"


def parse_as(kind: FeatureKind, value: Any) -> Any:
    """``value`` read as ``kind`` (ISO 8601 text as a date or timestamp...)."""
    return None if value is None else _plain(kind)(value)
