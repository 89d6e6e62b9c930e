"""SQL types → the adapter's column kinds → pydantic fields (and so OpenAPI schemas).

JSON forms, by kind:

* ``integer``: a JSON integer, bounded by the column's type (``minimum`` and
  ``maximum`` in the schema: SMALLINT, INTEGER, BIGINT, unsigned where the
  database says so);
* ``decimal`` (DECIMAL, NUMERIC, MONEY): a string holding the exact decimal as
  stored, ``format: decimal``, e.g. ``"5.94"`` (see ``values`` for the scale);
  PostgreSQL ``money`` is read and compared as ``numeric`` on the SQL side;
* ``boolean``: ``true`` / ``false``, also where a driver reports booleans as
  text (psqlODBC's ``BoolsAsChar``);
* ``datetime``: ISO 8601 without an offset (the column has no time zone, and
  the schema says so); ``datetime_tz``: ISO 8601 with its offset;
* ``date`` / ``time``: ISO 8601; ``binary``: base64 (``format: byte``);
  SQLite keeps all three as text: they are read as the stored text (so a
  cursor carries them exactly) and answered in ISO 8601;
* ``char``: text, trailing blanks stripped unless the spec keeps them;
* NULL: ``null``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Base64Bytes, BeforeValidator, Field, Strict, StrictBool, StrictInt
from sqlalchemy.types import TypeEngine

from strangler.adapters.db.meta import ColumnInfo, Kind

__all__ = [
    "BOOLEAN_NAMES",
    "Bounds",
    "PgMoney",
    "SqliteDateTime",
    "SqliteNumber",
    "base_type",
    "generic_type",
    "input_annotation",
    "integer_bounds_odbc",
    "integer_bounds_sa",
    "kind_of_odbc",
    "kind_of_sa",
    "output_annotation",
    "sqlite_text",
]

_SCALE = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_DECIMAL_NAMES = ("DECIMAL", "NUMERIC", "NUMBER", "MONEY", "SMALLMONEY", "CURRENCY")
_TZ_NAMES = ("WITH TIME ZONE", "TIMESTAMPTZ", "DATETIMEOFFSET", "TIMETZ")
BOOLEAN_NAMES = frozenset({"BOOL", "BOOLEAN"})
"""Type names of real boolean columns, whatever SQL type code a driver reports."""

Bounds = tuple[int, int]
"""The smallest and largest value an integer column holds."""


def _bits(bits: int, unsigned: bool) -> Bounds:
    return (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


# ODBC integer type codes → bits; SQLite's INTEGER holds 64 bits whatever it is called.
_ODBC_BITS = {-6: 8, 5: 16, 4: 32, -5: 64}

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


class SqliteDateTime(sa.types.TypeDecorator[Any]):
    """SQLite's dates, times and date-times: text, read exactly as stored.

    Selected as ``CAST(col AS TEXT)`` (SQLite's ODBC driver would otherwise
    parse them and drop what does not fit a timestamp, such as ``.000``), so a
    cursor carries the stored text and compares the way ``ORDER BY`` does;
    answers turn the text into ISO 8601 (``values``). Typed values bind as
    SQLite's own text form (seconds, or microseconds when there are some).
    """

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return sqlite_text(value)

    def column_expression(self, colexpr: Any) -> Any:
        return sa.cast(colexpr, sa.Text())


class SqliteNumber(sa.types.TypeDecorator[Any]):
    """SQLite's NUMERIC and DECIMAL: values come as the driver stores them.

    SQLite keeps them as integers, floats or text; SQLAlchemy's Numeric would
    turn a float into a decimal padded to ten places (``32.3800000000``) or
    rounded to the declared scale. They are answered by ``values`` instead,
    from the shortest text of the stored number. Decimals bind as their text,
    which SQLite's numeric affinity compares as the stored number.
    """

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return format(value, "f") if isinstance(value, decimal.Decimal) else value


class PgMoney(sa.types.TypeDecorator[decimal.Decimal]):
    """PostgreSQL ``money``: read as ``numeric`` and compared as ``money``.

    psycopg answers ``money`` as locale text (``$19.99``) and psqlODBC as a
    float rounded to no decimals; ``CAST(col AS NUMERIC)`` gives the exact
    amount on both, and bound values are cast to ``money`` (there is no
    ``money > numeric`` operator).
    """

    impl = sa.Numeric
    cache_ok = True

    def column_expression(self, colexpr: Any) -> Any:
        return sa.cast(colexpr, sa.Numeric())

    def bind_expression(self, bindvalue: Any) -> Any:
        from sqlalchemy.dialects.postgresql import MONEY

        return sa.cast(bindvalue, MONEY())


def sqlite_text(value: Any) -> Any:
    """A date-time as SQLite's text form, seconds or microseconds as needed."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")
    return value


def base_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    """The type under a domain (PostgreSQL ``CREATE DOMAIN``, how ``sp_addtype`` is modelled)."""
    from sqlalchemy.dialects.postgresql import DOMAIN

    while isinstance(type_, DOMAIN):
        type_ = type_.data_type
    return type_


def integer_bounds_sa(type_: TypeEngine[Any], dbms: str) -> Bounds:
    """The range of a reflected SQLAlchemy integer type."""
    if dbms == "sqlite":
        return _bits(64, False)
    name = str(getattr(type_, "__visit_name__", "")).upper()
    unsigned = bool(getattr(type_, "unsigned", False)) or (dbms == "mssql" and name == "TINYINT")
    if name == "TINYINT":
        return _bits(8, unsigned)
    if name == "MEDIUMINT":
        return _bits(24, unsigned)
    if isinstance(type_, sa.SmallInteger):
        return _bits(16, unsigned)
    if isinstance(type_, sa.BigInteger):
        return _bits(64, unsigned)
    return _bits(32, unsigned)


def integer_bounds_odbc(data_type: int, type_name: str, dbms: str) -> Bounds:
    """The range of an integer column from its ``SQLColumns`` row."""
    name = (type_name or "").upper()
    if dbms == "sqlite":
        return _bits(64, False)
    unsigned = "UNSIGNED" in name or (dbms == "mssql" and data_type == -6)
    if name.startswith("MEDIUMINT"):
        return _bits(24, unsigned)
    return _bits(_ODBC_BITS.get(data_type, 64), unsigned)


def kind_of_sa(type_: TypeEngine[Any]) -> tuple[Kind, int | None, int | None, int | None]:
    """Kind, length, precision and scale of a reflected SQLAlchemy type."""
    type_ = base_type(type_)
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
    if any(word in name for word in _DECIMAL_NAMES):  # MONEY and friends: scale by locale
        return "decimal", None, None, None
    return "other", None, None, None


def kind_of_odbc(
    data_type: int, type_name: str, size: int | None, digits: int | None
) -> tuple[Kind, int | None, int | None, int | None]:
    """Kind, length, precision and scale from a ``SQLColumns`` row."""
    name = (type_name or "").upper()
    kind = _ODBC_KINDS.get(data_type, "other")
    if name in BOOLEAN_NAMES:  # psqlODBC's BoolsAsChar reports bool as VARCHAR
        return "boolean", None, None, None
    if name.startswith(_DECIMAL_NAMES):  # SQLite reports NUMERIC(10,2) as DOUBLE
        match = _SCALE.search(name)
        if match:
            return "decimal", None, int(match[1]), int(match[2])
        if data_type not in (2, 3):  # a float or text: its digits are the driver's guess
            return "decimal", None, None, None
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


def _text_only(value: Any) -> Any:
    """Dates, times and UUIDs travel as text in JSON; a number is not one (pydantic
    would read ``0`` as 1970-01-01, a Unix time)."""
    if not isinstance(value, str):
        raise ValueError("must be text in ISO 8601 form")
    return value


_TextOnly = BeforeValidator(_text_only)

_IN: dict[Kind, Any] = {
    # Strict: a JSON true or "5" is not an integer, though Python would take both.
    "integer": StrictInt,
    "float": Annotated[float, Strict()],
    "boolean": StrictBool,
    "string": str,
    "char": str,
    "decimal": decimal.Decimal,
    "datetime": Annotated[dt.datetime, _TextOnly],
    "datetime_tz": Annotated[dt.datetime, _TextOnly],
    "date": Annotated[dt.date, _TextOnly],
    "time": Annotated[dt.time, _TextOnly],
    "binary": Base64Bytes,
    "uuid": Annotated[uuid.UUID, _TextOnly],
    "other": Any,
}


def _bounded(column: ColumnInfo, annotation: Any) -> Any:
    """An integer column's type with its range (``minimum``/``maximum`` in the schema)."""
    if column.kind != "integer" or column.bounds is None:
        return annotation
    low, high = column.bounds
    return Annotated[annotation, Field(ge=low, le=high)]


def _modern(column: ColumnInfo, annotation: Any, extra: dict[str, Any]) -> Any:
    """A column served in a modern shape: its labels as an enum, and the legacy name and
    encoding in its description."""
    if column.codec is not None:
        extra["description"] = column.codec.describe(column.sql_name)
        if column.codec.labels:
            return Literal[column.codec.labels]
    elif column.legacy:
        extra["description"] = f"Legacy field {column.legacy}."
    return annotation


def output_annotation(column: ColumnInfo) -> tuple[Any, Any]:
    """``(annotation, FieldInfo)`` of a column in a row as answered (never required:
    ``?fields=`` may leave it out)."""
    annotation, extra = _OUT[column.kind]
    annotation = _bounded(column, annotation)
    extra = dict(extra)
    annotation = _modern(column, annotation, extra)
    if column.db_type:
        extra["x-db-type"] = column.db_type
    if column.nullable and annotation is not Any:
        annotation = annotation | None
    return annotation, Field(
        default=None, alias=column.name, title=column.name, json_schema_extra=extra
    )


def input_annotation(column: ColumnInfo, *, required: bool) -> tuple[Any, Any]:
    """``(annotation, FieldInfo)`` of a column in an insert or update body."""
    annotation = _bounded(column, _IN[column.kind])
    extra: dict[str, Any] = {}
    annotation = _modern(column, annotation, extra)
    constraints: dict[str, Any] = {"description": extra["description"]} if extra else {}
    if column.kind == "float":
        constraints["allow_inf_nan"] = False
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
