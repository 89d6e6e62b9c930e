"""A converted column's answered JSON written by the database (see :mod:`.json_sql`).

The database decodes only what it can prove it decodes as the codec does
(``Codec.decode`` then ``values.to_json``); any other stored value gives NULL,
so the page is answered by Python, which also applies the field's
``on_broken`` policy (a broken value is never written by the database).

==================  =============================================================
encoding            written by the database
==================  =============================================================
renamed only        as any column of its kind (:mod:`.json_sql`)
``date``/``time``/  text (or a non-negative integer, zero-padded) that matches the
``datetime``        format exactly and names a real day and time of day, rebuilt
                    as ISO 8601 from its digits
``minor_units``     an integer column: sign, whole units, ``.`` and the minor units
                    zero-padded, as a decimal string
``flag``            a declared stored value → ``true`` / ``false``
``enum``            a declared code → its label as a JSON string
``width``           the value without its padding
``null_values``     a listed sentinel → ``null``
==================  =============================================================

Time zones, decimal or float stored values and right-aligned or zero-filled
codes have no rendering. On SQLite the stored value must also be of the
declared storage class (text, integer).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from strangler.adapters.db.json_sql import concat, json_constant, quoted, text, unsure
from strangler.adapters.db.meta import ColumnInfo
from strangler.mapping.formats import TextFormat, parse_format
from strangler.mapping.pushdown import Cases, NullIf

__all__ = ["json_string", "mapped_json"]

Sql = ColumnElement[Any]
_SHORT = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def json_string(value: str) -> str:
    """``value`` as a JSON string, escaped as orjson escapes it."""
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch < " ":
            out.append(_SHORT.get(ch, f"\\u{ord(ch):04x}"))
        else:
            out.append(ch)
    return "".join(out) + '"'


def _stored_form(dialect: str, column: ColumnInfo, stored: Sql) -> tuple[Sql, Sql] | None:
    """The stored value as the codec reads it (unpadded text, or the integer) and the
    condition that it has the declared storage class; ``None`` if it is neither."""
    codec = column.codec
    assert codec is not None
    spec = codec.spec
    if codec.stored == "text":
        if spec.align != "left" or spec.fill != " ":
            return None
        unpadded: Sql = sa.func.rtrim(stored, text(" "), type_=sa.Text())
        storage = "text"
    elif codec.stored == "integer" or (codec.stored == "boolean" and dialect == "postgresql"):
        unpadded, storage = stored, codec.stored
    else:
        return None
    if dialect == "sqlite":
        return unpadded, sa.func.typeof(stored) == text(storage)
    return unpadded, sa.true()


def _codes(column: ColumnInfo, value: Sql, typed: bool) -> Sql | None:
    """Flags and enums: a declared stored value → its JSON; NULL for any other."""
    codec = column.codec
    assert codec is not None
    tree = codec.sortable()
    tree = tree.then if isinstance(tree, NullIf) else tree
    if not isinstance(tree, Cases):
        return None
    whens: list[tuple[Any, Sql]] = []
    for stored, result in tree.pairs:
        if codec.spec.flag is not None:
            written = json_constant("true" if result == 1 else "false", typed)
        else:
            written = text(str(result)) if typed else text(json_string(str(result)))
        whens.append((stored, written))
    # CASE value WHEN ...: the stored value is read (trimmed) once, not once per code
    return sa.case(dict(whens), value=value, else_=unsure(typed))


def _digits_text(dialect: str, value: Sql, width: int) -> Sql:
    """A non-negative integer as ``width`` digits (NULL when it does not fit)."""
    if dialect == "sqlite":
        padded: Sql = sa.func.printf(text(f"%0{width}d"), value, type_=sa.Text())
    else:
        padded = sa.func.lpad(sa.cast(value, sa.Text()), width, text("0"), type_=sa.Text())
    fits = sa.and_(value >= 0, value < sa.literal_column(str(10**width)))
    return sa.case((fits, padded), else_=sa.null())


def _matches(dialect: str, value: Sql, fmt: TextFormat) -> Sql:
    """``value`` follows ``fmt`` exactly: digits where its parts are, its literals."""
    if dialect == "sqlite":
        glob = "".join(
            "[0-9]" * len(token) if part else re.sub(r"([*?\[])", r"[\1]", token)
            for part, token in fmt.pieces
        )
        return value.op("GLOB")(text(glob))
    regex = "".join(
        f"[0-9]{{{len(token)}}}" if part else re.escape(token) for part, token in fmt.pieces
    )
    return value.op("~")(text(f"^{regex}$"))


def _when_time(
    dialect: str,
    fmt: TextFormat,
    value: Sql,
    kind: Literal["date", "time", "datetime"],
    typed: bool,
) -> Sql:
    """The ISO 8601 text of ``value`` (which follows ``fmt``) if it is a real moment.

    Parts are compared as their digits (cheap); only a day past the 28th is checked
    against its month (SQLite: ``date(day, '+0 days')`` writes the day it counted
    to; elsewhere the days of the month are counted).
    """
    at = {part: (offset + 1, width) for part, offset, width in fmt.positions()}

    def piece(part: str, default: str = "00") -> Sql:
        if part not in at:
            return text(default)
        start, width = at[part]
        return sa.func.substr(value, start, width, type_=sa.Text())

    checks: list[Sql] = []
    out: list[Sql] = []
    if kind != "time":
        year, month, day = piece("year"), piece("month"), piece("day")
        iso_day = concat(year, text("-"), month, text("-"), day)
        checks += [
            month.between(text("01"), text("12")),
            day.between(text("01"), text("31")),
            year != text("0000"),
            sa.or_(day <= text("28"), _day_exists(dialect, iso_day, year, month, day)),
        ]
        out += [iso_day]
    if kind != "date":
        hour, minute, second = piece("hour"), piece("minute"), piece("second")
        checks += [hour <= text("23"), minute <= text("59"), second <= text("59")]
        out += [text("T")] if kind == "datetime" else []
        out += [hour, text(":"), minute, text(":"), second]
    return sa.case((sa.and_(*checks), quoted(concat(*out), typed)), else_=unsure(typed))


def _day_exists(dialect: str, iso_day: Sql, year: Sql, month: Sql, day: Sql) -> Sql:
    """Day 29, 30 or 31 of a month that has it."""
    if dialect == "sqlite":
        return sa.func.date(iso_day, text("+0 days")) == iso_day
    y, d = sa.cast(year, sa.Integer()), sa.cast(day, sa.Integer())
    leap = sa.or_(sa.and_(y % 4 == 0, y % 100 != 0), y % 400 == 0)
    days = sa.case(
        (month.in_([text("04"), text("06"), text("09"), text("11")]), 30),
        (month == text("02"), sa.case((leap, 29), else_=28)),
        else_=31,
    )
    return d <= days


def _moment(dialect: str, column: ColumnInfo, value: Sql, stored: Sql, typed: bool) -> Sql | None:
    codec = column.codec
    assert codec is not None
    spec = codec.spec
    if spec.timezone is not None:
        return None
    kind: Literal["date", "time", "datetime"] = (
        "date" if spec.date else "time" if spec.time else "datetime"
    )
    fmt = parse_format(spec.date or spec.time or spec.datetime or "", kind)
    parts = stored  # text: the parts sit where they sit in the unpadded value
    if codec.stored == "integer":
        value = parts = _digits_text(dialect, value, fmt.width)
    # A CASE evaluates in order: the digits are checked before they are read as numbers.
    matches = _matches(dialect, value, fmt)
    written = _when_time(dialect, fmt, parts, kind, typed)
    return sa.case((matches, written), else_=unsure(typed))


def _minor_units(dialect: str, column: ColumnInfo, value: Sql, typed: bool) -> Sql | None:
    codec = column.codec
    assert codec is not None
    places = codec.spec.minor_units or 0
    if codec.stored != "integer" or not isinstance(column.sa_type, sa.Integer):
        return None
    if dialect == "postgresql":
        # numeric times 0.01 has scale 2 exactly: '4390.10', '-0.05', '0.00'
        factor = sa.literal_column(f"0.{'0' * (places - 1)}1" if places else "1", sa.Numeric())
        scaled = sa.cast(sa.cast(value, sa.Numeric()) * factor, sa.Text())
        return quoted(scaled, typed)
    quote = "" if typed else '"'
    sign = sa.case((value < 0, text("-")), else_=text(""))
    magnitude = sa.func.abs(value)
    if not places:
        return sa.func.printf(text(f"{quote}%s%d{quote}"), sign, magnitude, type_=sa.Text())
    unit = sa.literal_column(str(10**places), sa.BigInteger())
    form = text(f"{quote}%s%d.%0{places}d{quote}")
    amount = sa.func.printf(form, sign, magnitude // unit, magnitude % unit, type_=sa.Text())
    safe = value > sa.literal_column("-9000000000000000000")  # abs() of the smallest overflows
    return sa.case((safe, amount), else_=unsure(typed))


def _plain(dialect: str, column: ColumnInfo, value: Sql, typed: bool) -> Sql | None:
    """Width and sentinels only: the unpadded text, or the integer."""
    codec = column.codec
    assert codec is not None
    if typed:  # json_object writes the integer's text, or quotes and escapes the text
        return value
    if codec.stored == "integer":
        return sa.cast(value, sa.Text())
    if dialect == "sqlite":
        return sa.func.json_quote(value, type_=sa.Text())
    return sa.cast(sa.func.to_json(value), sa.Text())


def mapped_json(
    dialect: str, column: ColumnInfo, stored: Sql, *, typed: bool = False
) -> Sql | None:
    """The JSON text of converted ``column`` over its ``stored`` column, NULL where not
    certain; ``None`` when the database never writes it. ``typed`` (SQLite): the
    value as ``json_object`` writes it instead, ``[]`` where not certain (see
    ``json_sql.sqlite_object``)."""
    codec = column.codec
    assert codec is not None
    spec = codec.spec
    form = _stored_form(dialect, column, stored)
    if form is None:
        return None
    value, storage = form
    rendered: Sql | None
    if spec.date or spec.time or spec.datetime or spec.timezone:
        rendered = _moment(dialect, column, value, stored, typed)
    elif spec.minor_units is not None:
        rendered = _minor_units(dialect, column, value, typed)
    elif spec.flag is not None or codec.labels is not None:
        rendered = _codes(column, value, typed)
    else:
        rendered = _plain(dialect, column, value, typed)
    if rendered is None:
        return None
    if spec.null_values:
        sentinels = [
            text(str(v).lower() if isinstance(v, bool) else str(v)) for v in spec.null_values
        ]
        null = sa.null() if typed else text("null")
        rendered = sa.case((sa.cast(value, sa.Text()).in_(sentinels), null), else_=rendered)
    return sa.case((storage, rendered), else_=unsure(typed))
