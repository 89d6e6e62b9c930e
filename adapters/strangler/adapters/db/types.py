"""SQL types → the adapter's column kinds → pydantic fields (and so OpenAPI schemas).

JSON forms, by kind:

* ``decimal`` (DECIMAL, NUMERIC, MONEY): a string holding the exact decimal,
  ``format: decimal``, e.g. ``"5.94"``;
* ``datetime``: ISO 8601 without an offset (the column has no time zone, and
  the schema says so); ``datetime_tz``: ISO 8601 with its offset;
* ``date`` / ``time``: ISO 8601; ``binary``: base64 (``format: byte``);
* ``char``: text, trailing blanks stripped unless the spec keeps them;
* NULL: ``null``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import Base64Bytes, Field
from sqlalchemy.types import TypeEngine

from strangler.adapters.db.meta import ColumnInfo, Kind

__all__ = [
    "SqliteDateTime",
    "generic_type",
    "input_annotation",
    "kind_of_odbc",
    "kind_of_sa",
    "output_annotation",
    "sqlite_text",
]

_SCALE = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_DECIMAL_NAMES = ("DECIMAL", "NUMERIC", "NUMBER", "MONEY", "SMALLMONEY", "CURRENCY")
_TZ_NAMES = ("WITH TIME ZONE", "TIMESTAMPTZ", "DATETIMEOFFSET", "TIMETZ")

# ODBC SQL type codes (sql.h / sqlext.h): code → kind.
_ODBC_KINDS: dict[int, Kind] = {
    1: "char", -8: "char",  # CHAR, WCHAR
    12: "string", -1: "string", -9: "string", -10: "string",  # (W)(LONG)VARCHAR
    2: "decimal", 3: "decimal",  # NUMERIC, DECIMAL
    4: "integer", 5: "integer", -6: "integer", -5: "integer",  # INTEGER, SMALLINT, TINY, BIG
    6: "float", 7: "float", 8: "float",  # FLOAT, REAL, DOUBLE
    -7: "boolean",  # BIT
    9: "date", 91: "date", 10: "time", 92: "time", 11: "datetime", 93: "datetime",
    -155: "datetime_tz",  # SQL Server DATETIMEOFFSET
    -2: "binary", -3: "binary", -4: "binary",  # (VAR)(LONG)BINARY
    -11: "uuid",  # GUID
}  # fmt: skip


class SqliteDateTime(sa.types.TypeDecorator[dt.datetime]):
    """SQLite keeps date-times as text; bind them as that text looks (no ``.000000``).

    SQLAlchemy's own SQLite DATETIME always writes microseconds, so a value read
    as ``2021-01-01 00:00:00`` would never compare equal when bound back (keyset
    cursors, ``eq`` filters).
    """

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return sqlite_text(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                return value
        return value


def sqlite_text(value: Any) -> Any:
    """A date-time as SQLite's text form, seconds or microseconds as needed."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")
    return value


def kind_of_sa(type_: TypeEngine[Any]) -> tuple[Kind, int | None, int | None, int | None]:
    """Kind, length, precision and scale of a reflected SQLAlchemy type."""
    name = str(getattr(type_, "__visit_name__", "")).upper()
    if isinstance(type_, sa.Boolean):
        return "boolean", None, None, None
    if isinstance(type_, sa.Integer):
        return "integer", None, None, None
    if isinstance(type_, sa.Float) or (isinstance(type_, sa.Numeric) and not type_.asdecimal):
        return "float", None, None, None
    if isinstance(type_, sa.Numeric):
        return "decimal", None, type_.precision, type_.scale
    if isinstance(type_, sa.DateTime):
        return ("datetime_tz" if type_.timezone else "datetime"), None, None, None
    if isinstance(type_, sa.Date):
        return "date", None, None, None
    if isinstance(type_, sa.Time):
        return "time", None, None, None
    if isinstance(type_, sa.Uuid):
        return "uuid", None, None, None
    if isinstance(type_, sa.LargeBinary | sa.types._Binary):
        return "binary", None, None, None
    if isinstance(type_, sa.String):
        kind: Kind = "char" if name in ("CHAR", "NCHAR") else "string"
        return kind, type_.length, None, None
    if any(word in name for word in _DECIMAL_NAMES):  # MONEY and friends
        return "decimal", None, None, 4 if "MONEY" in name else None
    return "other", None, None, None


def kind_of_odbc(
    data_type: int, type_name: str, size: int | None, digits: int | None
) -> tuple[Kind, int | None, int | None, int | None]:
    """Kind, length, precision and scale from a ``SQLColumns`` row."""
    name = (type_name or "").upper()
    kind = _ODBC_KINDS.get(data_type, "other")
    if name.startswith(_DECIMAL_NAMES):  # SQLite reports NUMERIC(10,2) as DOUBLE
        match = _SCALE.search(name)
        if match:
            return "decimal", None, int(match[1]), int(match[2])
        return "decimal", None, size, digits if digits is not None else None
    if kind == "datetime" and any(word in name for word in _TZ_NAMES):
        kind = "datetime_tz"
    if kind == "decimal":
        return kind, None, size, digits
    if kind in ("char", "string", "binary"):
        return kind, size if size and size > 0 else None, None, None
    return kind, None, None, None


def generic_type(kind: Kind, column: ColumnInfo | None = None) -> TypeEngine[Any]:
    """A dialect-neutral SQLAlchemy type for building statements on the raw ODBC path."""
    if kind == "decimal":
        scale = column.scale if column else None
        return sa.Numeric(column.precision if column else None, scale, asdecimal=True)
    simple: dict[Kind, TypeEngine[Any]] = {
        "integer": sa.BigInteger(),
        "float": sa.Float(),
        "boolean": sa.Boolean(),
        "string": sa.String(),
        "char": sa.String(),
        "date": sa.Date(),
        "datetime": sa.DateTime(),
        "datetime_tz": sa.DateTime(timezone=True),
        "time": sa.Time(),
        "binary": sa.LargeBinary(),
        "uuid": sa.Uuid(),
    }
    return simple.get(kind, sa.types.NullType())


_OUT: dict[Kind, tuple[Any, dict[str, Any]]] = {
    "integer": (int, {}),
    "float": (float, {}),
    "boolean": (bool, {}),
    "string": (str, {}),
    "char": (str, {}),
    "decimal": (str, {"format": "decimal", "description": "An exact decimal, as a string."}),
    "datetime": (
        str,
        {
            "format": "date-time",
            "description": "ISO 8601 date and time with no time zone (the column has none).",
        },
    ),
    "datetime_tz": (
        str,
        {"format": "date-time", "description": "ISO 8601 date and time with its UTC offset."},
    ),
    "date": (str, {"format": "date"}),
    "time": (str, {"format": "time", "description": "ISO 8601 time of day."}),
    "binary": (str, {"format": "byte", "contentEncoding": "base64"}),
    "uuid": (str, {"format": "uuid"}),
    "other": (Any, {}),
}

_IN: dict[Kind, Any] = {
    "integer": int,
    "float": float,
    "boolean": bool,
    "string": str,
    "char": str,
    "decimal": decimal.Decimal,
    "datetime": dt.datetime,
    "datetime_tz": dt.datetime,
    "date": dt.date,
    "time": dt.time,
    "binary": Base64Bytes,
    "uuid": uuid.UUID,
    "other": Any,
}


def output_annotation(column: ColumnInfo) -> tuple[Any, Any]:
    """``(annotation, FieldInfo)`` of a column in a row as answered (never required:
    ``?fields=`` may leave it out)."""
    annotation, extra = _OUT[column.kind]
    extra = dict(extra)
    if column.db_type:
        extra["x-db-type"] = column.db_type
    if column.nullable and annotation is not Any:
        annotation = annotation | None
    return annotation, Field(
        default=None, alias=column.name, title=column.name, json_schema_extra=extra
    )


def input_annotation(column: ColumnInfo, *, required: bool) -> tuple[Any, Any]:
    """``(annotation, FieldInfo)`` of a column in an insert or update body."""
    annotation = _IN[column.kind]
    constraints: dict[str, Any] = {}
    if column.kind in ("string", "char") and column.length:
        constraints["max_length"] = column.length
    if column.kind == "decimal" and column.scale is not None:
        constraints["decimal_places"] = column.scale
        if column.precision:
            constraints["max_digits"] = column.precision
    if column.nullable and annotation is not Any:
        annotation = annotation | None
    if required:
        return annotation, Field(alias=column.name, title=column.name, **constraints)
    return annotation, Field(default=None, alias=column.name, title=column.name, **constraints)
