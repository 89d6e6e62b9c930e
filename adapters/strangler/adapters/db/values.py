"""Column values in and out: driver values → JSON, query text → typed values, cursors.

Text from a query string (filters, keys) and JSON from a cursor are parsed
against the column's kind before they go anywhere near a statement, where they
travel only as bound parameters. A value that does not parse raises
``ValueError`` with a message fit for the caller. Numbers, dates, UUIDs and
base64 are ASCII only (``٣`` is not 3), and an integer must fit its column's
type (a value the column cannot hold is the caller's mistake, not a driver
overflow).

Decimals are answered exactly as stored: a driver's ``Decimal`` as it is, a
float or integer (SQLite keeps NUMERIC so) from its shortest text, padded with
zeros to a *declared* scale and never rounded.

A cursor is base64url (no padding) of a small JSON document
``{"s": "<sort order>", "k": [<the last row's sort values as answered>]}``
(columns that are ``as_stored`` carry the driver's value instead, so paging
compares exactly as the ``ORDER BY`` does).
It is not signed: it holds nothing secret, and decoding checks every value
against its column's type, so a forged cursor can only ask for another valid
position.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import math
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from strangler.adapters.db.mapped_sql import from_cursor
from strangler.adapters.db.meta import ColumnInfo

__all__ = [
    "MAX_CURSOR_CHARS",
    "MAX_DIGITS",
    "Converter",
    "check_integer",
    "converter",
    "cursor_value",
    "decimal_text",
    "decode_cursor",
    "encode_cursor",
    "from_json",
    "needs_conversion",
    "parse_text",
    "plain_json",
    "to_json",
]

_INT = re.compile(r"[+-]?[0-9]{1,30}")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?")
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
# Booleans as drivers give them in text (psqlODBC's BoolsAsChar, CHAR(1) flags).
_BOOLEAN_TEXT = {"1": True, "0": False, "t": True, "f": False, "true": True, "false": False,
                 "y": True, "n": False, "yes": True, "no": False}  # fmt: skip
_TEXT_KINDS = frozenset({"string", "char", "other"})
_PLAIN = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# SQLite's common date-time text, of a day that every month has and a real time of day
# (the 29th to the 31st, and anything odd, are checked by ``fromisoformat``).
_SQLITE_SECONDS = re.compile(
    r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])[ T]"
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
)
MAX_CURSOR_CHARS = 4096
MAX_DIGITS = 38
"""Most digits a decimal in a query may have (what ODBC's SQL_NUMERIC carries)."""


def to_json(column: ColumnInfo, value: Any) -> Any:
    """A driver's value for ``column`` as JSON-ready data (see ``types`` for the forms)."""
    if value is None:
        return None
    kind = column.kind
    if kind == "decimal":
        return decimal_text(value, column.scale)
    if kind in ("datetime", "datetime_tz", "date", "time"):
        if isinstance(value, str):  # SQLite keeps dates as text
            return _normalise_text_date(kind, value)
        return value.isoformat()
    if kind == "char":
        text = str(value)
        return text.rstrip(" ") if column.strip else text
    if kind == "binary":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "integer":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "boolean":
        return _boolean(value)
    if kind in ("string", "uuid"):
        return str(value)
    return plain_json(value)


def _boolean(value: Any) -> Any:
    if isinstance(value, str):
        return _BOOLEAN_TEXT.get(value.strip().lower(), value)
    return bool(value)


def decimal_text(value: Any, scale: int | None) -> str:
    """A decimal column's value as exact text: never rounded, never in exponent form.

    A ``Decimal`` from the driver is as stored. A float or integer (or text)
    is read from its shortest text and padded with zeros up to ``scale`` (a
    declared scale); digits beyond it are kept. Text that is no number at all
    is answered as it is.
    """
    if type(value) is decimal.Decimal:
        return format(value, "f")
    if type(value) is float:
        text = repr(value)  # the shortest text that reads back as the stored double
        if "e" in text or "n" in text:  # exponent form, inf, nan
            text = format(decimal.Decimal(text), "f")
    elif type(value) is int:
        text = str(value)
    else:
        text = str(value)
        if not _PLAIN.fullmatch(text):
            try:
                text = format(decimal.Decimal(text), "f")
            except decimal.InvalidOperation:
                return text  # not a number at all: as stored
    if not scale or not text[-1:].isdigit():
        return text
    point = text.find(".")
    if point < 0:
        return f"{text}.{'0' * scale}"
    missing = scale - (len(text) - point - 1)
    return text + "0" * missing if missing > 0 else text


Converter = Callable[[Any], Any]

# Python types the JSON encoder already writes in the answer's form, per column kind.
_AS_IS: dict[str, frozenset[type[Any]]] = {
    "integer": frozenset({int, type(None)}),
    "float": frozenset({float, type(None)}),
    "string": frozenset({str, type(None)}),
    "boolean": frozenset({bool, type(None)}),
    "datetime": frozenset({dt.datetime, type(None)}),
    "datetime_tz": frozenset({dt.datetime, type(None)}),
    "date": frozenset({dt.date, type(None)}),
    "time": frozenset({dt.time, type(None)}),
}


def needs_conversion(column: ColumnInfo, values: Sequence[Any]) -> bool:
    """Whether ``values`` of ``column`` need :func:`converter` before JSON encoding.

    Not when the driver gave only types the JSON encoder writes in the answer's
    form already (ints, strings, dates and times as ISO 8601, decimals at the
    column's scale); the type check runs in C. Drivers give a decimal column's
    values one scale (the column's), so the scale is checked on a sample:
    the first, middle and last values.
    """
    types = set(map(type, values))
    if column.kind == "decimal":
        # The encoder writes a Decimal with str(): plain only for exponents
        # from -6 to 0. Drivers give one exponent (the scale) per typed column.
        scale = column.scale
        if scale is None or not 0 <= scale <= 6 or not types <= {decimal.Decimal, type(None)}:
            return True
        present = [v for v in (values[0], values[len(values) // 2], values[-1]) if v is not None]
        return any(v.as_tuple().exponent != -scale for v in present)
    return not types <= _AS_IS.get(column.kind, frozenset())


def converter(column: ColumnInfo) -> Converter:
    """A function doing :func:`to_json` for ``column``'s non-null values, chosen once."""
    kind = column.kind
    if kind == "decimal":
        scale = column.scale
        return lambda v: decimal_text(v, scale)
    if kind == "boolean":
        return _boolean
    if kind in ("datetime", "datetime_tz", "date", "time"):
        return lambda v: _normalise_text_date(kind, v) if type(v) is str else v
    if kind == "char" and column.strip:
        return lambda v: (v if type(v) is str else str(v)).rstrip(" ")
    if kind in ("char", "string", "uuid"):
        return lambda v: v if type(v) is str else str(v)
    return lambda v: to_json(column, v)


def plain_json(value: Any) -> Any:
    """Any driver value as JSON-ready data, by its Python type (procedure results)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    return str(value)


def _normalise_text_date(kind: str, text: str) -> str:
    """SQLite's text date or time as ISO 8601; text that names no real one as stored."""
    if kind == "datetime" and _SQLITE_SECONDS.fullmatch(text):  # the common form, fast
        return text[:10] + "T" + text[11:]
    try:
        if kind == "date":
            return dt.date.fromisoformat(text[:10]).isoformat()
        if kind == "time":
            return dt.time.fromisoformat(text).isoformat()
        return dt.datetime.fromisoformat(text).isoformat()
    except ValueError:
        return text


def parse_text(column: ColumnInfo, text: str) -> Any:
    """Query-string ``text`` as a value of ``column``; ``ValueError`` if it is not one."""
    kind = column.kind
    if kind not in _TEXT_KINDS and not text.isascii():
        raise ValueError(f"{column.name} takes ASCII text (digits 0-9), not {_short(text)}")
    if kind == "integer":
        if not _INT.fullmatch(text):
            raise ValueError(f"{column.name} takes an integer, not {_short(text)}")
        return check_integer(column, int(text))
    if kind in ("decimal", "float"):
        if not _NUMBER.fullmatch(text):
            raise ValueError(f"{column.name} takes a number, not {_short(text)}")
        return _decimal(column, text) if kind == "decimal" else _float(column, text)
    if kind == "boolean":
        try:
            return _BOOLEANS[text.lower()]
        except KeyError:
            raise ValueError(f"{column.name} takes true or false, not {_short(text)}") from None
    try:
        if kind == "date":
            return dt.date.fromisoformat(text)
        if kind == "time":
            return dt.time.fromisoformat(text)
        if kind in ("datetime", "datetime_tz"):
            value = dt.datetime.fromisoformat(text)
            if kind == "datetime" and value.tzinfo is not None:
                raise ValueError("the column has no time zone: give a time without an offset")
            return value
        if kind == "uuid":
            return uuid.UUID(text)
        if kind == "binary":
            return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"{column.name} takes ISO 8601 / base64 / UUID text: {exc}") from None
    return text


def check_integer(column: ColumnInfo, value: int) -> int:
    """``value`` if ``column`` can hold it; ``ValueError`` naming its range otherwise."""
    if column.bounds is not None and not column.bounds[0] <= value <= column.bounds[1]:
        low, high = column.bounds
        raise ValueError(
            f"{column.name} ({column.db_type or 'integer'}) holds {low} to {high}, "
            f"not {_short(str(value))}"
        )
    return value


def _decimal(column: ColumnInfo, text: str) -> decimal.Decimal:
    number = decimal.Decimal(text)
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # the pattern admits finite numbers only
    whole = max(number.adjusted() + 1, 0) if any(digits) else 0
    most = MAX_DIGITS
    if column.precision:
        most = min(most, column.precision - (column.scale or 0))
    if whole > most or len(digits) > MAX_DIGITS or exponent < -MAX_DIGITS:
        raise ValueError(
            f"{column.name} ({column.db_type or 'decimal'}) takes at most {most} digits "
            f"before the point and {MAX_DIGITS} in all, not {_short(text)}"
        )
    return number


def _float(column: ColumnInfo, text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{column.name} takes a finite number, not {_short(text)}")
    return number


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def cursor_value(column: ColumnInfo, value: Any) -> Any:
    """A sort value as a cursor carries it: as answered, or as stored (``as_stored``)."""
    if column.as_stored and isinstance(value, str):
        return value
    return to_json(column, value)


def from_json(column: ColumnInfo, value: Any) -> Any:
    """A value written by :func:`cursor_value` (inside a cursor) back as a typed value."""
    if column.codec is not None:
        return from_cursor(column, value)
    if value is None:
        return None
    if column.as_stored and isinstance(value, str):
        return value  # compared as stored, like the ORDER BY; bound, never SQL text
    if isinstance(value, bool):
        if column.kind != "boolean":
            raise ValueError(f"{column.name}: unexpected boolean")
        return value
    if isinstance(value, int | float) and column.kind in ("integer", "float", "decimal"):
        if column.kind == "integer":
            if not isinstance(value, int):
                raise ValueError(f"{column.name}: expected an integer")
            return check_integer(column, value)
        return parse_text(column, repr(value))
    if isinstance(value, str) and column.kind not in ("integer", "float", "boolean"):
        return parse_text(column, value)
    raise ValueError(f"{column.name}: unexpected value {value!r}")


def encode_cursor(signature: str, values: Sequence[Any]) -> str:
    """The cursor continuing after a row whose sort values (JSON forms) are ``values``."""
    document = json.dumps({"s": signature, "k": list(values)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(text: str, columns: Sequence[ColumnInfo], signature: str) -> tuple[Any, ...]:
    """The typed sort values of ``text``; ``ValueError`` for anything else."""
    if not text or len(text) > MAX_CURSOR_CHARS:
        raise ValueError("not a cursor this API answered")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        document = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor this API answered") from None
    if not isinstance(document, dict) or set(document) != {"s", "k"}:
        raise ValueError("not a cursor this API answered")
    if document["s"] != signature:
        raise ValueError("the cursor was made for another sort order; keep the same sort")
    values = document["k"]
    if not isinstance(values, list) or len(values) != len(columns):
        raise ValueError("not a cursor this API answered")
    return tuple(from_json(column, value) for column, value in zip(columns, values, strict=True))
