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
from strangler.mapping.formats import Part, TextFormat, parse_format
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


def _codes(dialect: str, column: ColumnInfo, value: Sql, stored: Sql, typed: bool) -> Sql | None:
    """Flags and enums: a declared stored value → its JSON; NULL for any other."""
    codec = column.codec
    assert codec is not None
    tree = codec.sortable()
    tree = tree.then if isinstance(tree, NullIf) else tree
    if not isinstance(tree, Cases):
        return None
    whens: list[tuple[Any, Sql]] = []
    for code, result in tree.pairs:
        if codec.spec.flag is not None:
            written = json_constant("true" if result == 1 else "false", typed)
        else:
            written = text(str(result)) if typed else text(json_string(str(result)))
        whens.append((code, written))
    # CASE value WHEN ...: the stored value is read (trimmed) once, not once per code
    trimmed = sa.case(dict(whens), value=value, else_=unsure(typed))
    if codec.stored != "text" or any(str(code).endswith(" ") for code, _ in whens):
        return trimmed
    # A stored value equal to a code (which ends in no space) is that code trimmed too:
    # compared as stored first, it is trimmed only when it is none of them (a padded or
    # broken value). SQLite compares with the column's own collation unless told.
    as_stored = stored.collate("BINARY") if dialect == "sqlite" else stored
    return sa.case(dict(whens), value=as_stored, else_=trimmed)


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
    against its month, whose days are counted (:func:`_day_exists`).
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
            sa.or_(day <= text("28"), _day_exists(year, month, day)),
        ]
        out += [iso_day]
    if kind != "date":
        hour, minute, second = piece("hour"), piece("minute"), piece("second")
        checks += [hour <= text("23"), minute <= text("59"), second <= text("59")]
        out += [text("T")] if kind == "datetime" else []
        out += [hour, text(":"), minute, text(":"), second]
    return sa.case((sa.and_(*checks), quoted(concat(*out), typed)), else_=unsure(typed))


def _day_exists(year: Sql, month: Sql, day: Sql) -> Sql:
    """Day 29, 30 or 31 of a month that has it (the parts' digits counted: on SQLite a
    fifth of the cost of ``date(day, '+0 days') = day``, the day it counted to)."""
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
    # (a format ending in a space never matches trimmed text; LIKE's own characters are
    # left to the pattern test below)
    literals = "".join(token for part, token in fmt.pieces if part is None)
    plain = dialect == "sqlite" or not re.search(r"[%_\\]", literals)
    if codec.stored == "text" and not fmt.text.endswith(" ") and plain:
        return _text_moment(dialect, fmt, stored, value, kind, typed)
    parts = stored  # text: the parts sit where they sit in the unpadded value
    if codec.stored == "integer":
        value = parts = _digits_text(dialect, value, fmt.width)
    # A CASE evaluates in order: the digits are checked before they are read as numbers.
    matches = _matches(dialect, value, fmt)
    written = _when_time(dialect, fmt, parts, kind, typed)
    return sa.case((matches, written), else_=unsure(typed))


_RANGES: dict[Part, tuple[str, str]] = {
    "month": ("01", "12"),
    "day": ("01", "31"),
    "hour": ("00", "23"),
    "minute": ("00", "59"),
    "second": ("00", "59"),
}
"""What each two-digit part may read (the year: any four digits but ``0000``)."""
_FIRST_DIGIT: dict[Part, str] = {
    "month": "[01]",
    "day": "[0-3]",
    "hour": "[0-2]",
    "minute": "[0-5]",
    "second": "[0-5]",
}
_SPELLED: dict[Part, tuple[str, ...]] = {
    "month": ("0[1-9]", "1[0-2]"),
    "hour": ("[01][0-9]", "2[0-3]"),
}
"""A part whose readings a SQLite ``GLOB`` spells out in two patterns."""


def _text_moment(
    dialect: str,
    fmt: TextFormat,
    stored: Sql,
    unpadded: Sql,
    kind: Literal["date", "time", "datetime"],
    typed: bool,
) -> Sql:
    """Text that follows ``fmt`` once unpadded, of a real moment, as ISO 8601 text.

    The same test as :func:`_matches` then :func:`_when_time` on the unpadded value, in
    cheaper pieces read from the stored value itself: the stored value has the format's
    shape, or failing that its unpadded value has (trailing spaces are trimmed only
    then), so the parts sit at their positions in the stored value. A part the value
    starts with is compared as the whole text (``v >= '01' AND v < '32'``: no
    substring), the others as their substrings. PostgreSQL: ``LIKE`` for the shape (a
    twentieth of a regular expression's cost), one hashed ``IN`` of its readings per
    two-digit part (digits and range at once), ``translate`` for the year's digits.
    SQLite: ``GLOB`` checks the shape and the digits (minutes and seconds within
    ``[0-5][0-9]``, the month or hour as two patterns). Comparisons are bytewise
    (``COLLATE "C"``, SQLite ``BINARY``), whatever the column's collation.
    """
    sqlite = dialect == "sqlite"
    value = stored.collate("BINARY" if sqlite else "C")
    at = {part: (offset, width) for part, offset, width in fmt.positions()}

    def piece(part: Part, source: Sql = value) -> Sql:
        offset, width = at[part]
        return sa.func.substr(source, offset + 1, width, type_=sa.Text())

    spelled = next((p for p in _SPELLED if p in at and at[p][0] != 0), None) if sqlite else None
    checks = [_shape(sqlite, fmt, value, unpadded, spelled)]
    for part, (offset, _) in at.items():
        if part == "year":
            anything = "?" if sqlite else "_"
            zeros = text(anything * offset + "0000" + ("*" if sqlite else "%"))
            checks.append(
                value.op("NOT GLOB", is_comparison=True)(zeros) if sqlite else value.not_like(zeros)
            )
            if not sqlite:  # the year's digits (SQLite: its GLOB checked them)
                checks.append(
                    sa.func.translate(piece(part), text("0123456789"), text("")) == text("")
                )
            continue
        low, high = _RANGES[part]
        if not sqlite:
            readings = [f"{n:02d}" for n in range(int(low), int(high) + 1)]
            checks.append(piece(part).in_([text(r) for r in readings]))
        elif part == spelled or part in ("minute", "second"):
            continue  # the GLOB spelled its readings out
        elif offset == 0:  # its digits checked by the GLOB: compare the whole text
            # (were the column of NUMERIC affinity, the bounds would be numbers, which
            # text never is below: such values fail here, and Python answers them)
            if low != "00":
                checks.append(value >= text(low))
            checks.append(value < text(high[0] + chr(ord(high[1]) + 1)))
        else:
            bounds = piece(part) <= text(high)
            checks.append(bounds if low == "00" else piece(part).between(text(low), text(high)))
    out: list[Sql] = []
    if kind != "time":
        year, month, day = (piece(p, stored) for p in ("year", "month", "day"))
        early = value < text("29") if at["day"][0] == 0 else piece("day") <= text("28")
        checks.append(sa.or_(early, _day_exists(year, month, day)))
        out += [concat(year, text("-"), month, text("-"), day)]
    if kind != "date":
        second = piece("second", stored) if "second" in at else text("00")
        out += [text("T")] if kind == "datetime" else []
        out += [piece("hour", stored), text(":"), piece("minute", stored), text(":"), second]
    return sa.case((sa.and_(*checks), quoted(concat(*out), typed)), else_=unsure(typed))


def _shape(sqlite: bool, fmt: TextFormat, value: Sql, unpadded: Sql, spelled: Part | None) -> Sql:
    """The stored value, or else its unpadded value, has as many characters as ``fmt``
    and its literals where they are (and on SQLite, ``spelled`` being given or not,
    digits where the parts are, as :func:`_text_moment` says)."""
    if not sqlite:
        like = text("".join("_" * len(token) if part else token for part, token in fmt.pieces))
        return sa.or_(value.like(like), unpadded.collate("C").like(like))

    def glob(spelling: str) -> Sql:
        pattern = "".join(
            (
                spelling
                if part == spelled
                else _FIRST_DIGIT.get(part, "[0-9]") + "[0-9]" * (len(token) - 1)
            )
            if part
            else re.sub(r"([*?\[])", r"[\1]", token)
            for part, token in fmt.pieces
        )
        return text(pattern)

    patterns = [glob(s) for s in (_SPELLED[spelled] if spelled else ("",))]
    return sa.or_(
        *(value.op("GLOB", is_comparison=True)(p) for p in patterns),
        *(unpadded.op("GLOB", is_comparison=True)(p) for p in patterns),
    )


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
    # SQLite: integer arithmetic, one printf per sign (no abs(), no floor())
    quote = "" if typed else '"'
    whole = sa.literal_column(str(10**places), sa.BigInteger())
    digits = f"%d.%0{places}d" if places else "%d"

    def amount(sign: str, magnitude: Sql) -> Sql:
        units = [magnitude // whole, magnitude % whole] if places else [magnitude]
        return sa.func.printf(text(f"{quote}{sign}{digits}{quote}"), *units, type_=sa.Text())

    magnitude = sa.type_coerce(value, sa.BigInteger())
    return sa.case(
        (magnitude >= 0, amount("", magnitude)),
        # the negated smallest integers overflow: Python answers those
        (magnitude > sa.literal_column("-9000000000000000000"), amount("-", -magnitude)),
        else_=unsure(typed),
    )


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
        rendered = _codes(dialect, column, value, stored, typed)
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
