"""A column's answered JSON written by the database, exactly as the Python encoder writes it.

:func:`value_json` gives, for one column of one dialect, a SQL text expression
whose value is the column's JSON text in the answer (``"5.00"``, ``true``,
``"2024-05-16T10:30:00.120000"``, ``null``), or NULL where the database cannot
prove it writes the same bytes as the Python path (``values.to_json`` then
orjson) for that stored value. A NULL makes the whole row's text NULL (``||``
propagates it), and the page is then built in Python (:mod:`.json_pages`).
Columns it has no expression for (``None``) are never built by the database.

What each dialect writes (anything else: ``None``):

==========  ====================================  ======================================
kind        PostgreSQL                            SQLite
==========  ====================================  ======================================
integer     its text                              its text, if stored as an integer
string      ``to_json`` (same escapes as orjson)  ``json_quote``, if stored as text
char        ``to_json(rtrim)`` (strip only)       ``json_quote(rtrim)`` (strip only)
boolean     ``true`` / ``false``                  stored 0 or 1 only
decimal     its text, quoted (a declared scale)   integer: padded to the scale; real:
                                                  ``printf('%.Nf')`` when it reads back
                                                  as the same double (under 1e9, 1 ≤ N ≤ 6)
date        ``to_char`` ISO 8601, years 1-9999    stored ``YYYY-MM-DD…`` of a real day
datetime    ``to_char`` ISO 8601, years 1-9999,   stored ``YYYY-MM-DD HH:MM:SS`` (or with
            microseconds as 6 digits or none      6 fraction digits, not all zero) of a
                                                  real day and time of day
uuid        its text, quoted                      ``None``
==========  ====================================  ======================================

Floats (shortest repr differs between engines), binary, times, zoned
timestamps and PostgreSQL ``money`` have none; converted (mapped) columns are
written by :mod:`.json_mapped`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, operators
from sqlalchemy.sql.elements import UnaryExpression

from strangler.adapters.db.meta import ColumnInfo

__all__ = [
    "DIALECTS",
    "OBJECT_MEMBERS",
    "UNSURE",
    "UNSURE_MEMBER",
    "concat",
    "json_constant",
    "object_text",
    "or_null",
    "quoted",
    "sqlite_object",
    "text",
    "typed_value",
    "unsure",
    "value_json",
]

Sql = ColumnElement[Any]
DIALECTS = frozenset({"postgresql", "sqlite"})
"""Dialects whose databases build pages (on the SQLAlchemy path)."""
_MAX_SCALE = 6
UNSURE = "\x01"
"""What a SQLite row object holds in place of a value the database cannot write
exactly (see :func:`object_text`): a raw control character, which no JSON text
written by the database holds (strings and names escape it)."""
UNSURE_MEMBER = '":[]'
"""What a SQLite ``json_object`` row holds after a name whose value the database
cannot write exactly (see :func:`sqlite_object`): an empty array, which no value
written by the database is. Inside a string it is found too, and Python answers
that page: slower, never wrong."""
OBJECT_MEMBERS = 60
"""Members per ``json_object`` call (two arguments each; SQLite takes 127)."""
_PRINTF_ARGS = 100
"""Values per ``printf`` call (SQLite takes at most 127 arguments per function)."""


def text(value: str) -> Sql:
    """A constant piece of JSON, as a bound text value."""
    return sa.literal(value, sa.Text())


def concat(*parts: Sql) -> Sql:
    """``a || b || ...``: NULL when any part is NULL.

    Nested as a balanced tree (``||`` is associative), so that a row of hundreds of
    columns stays a shallow expression for SQLAlchemy's compiler, which recurses.
    """
    level = list(parts)
    while len(level) > 1:
        pairs = [a.op("||")(b) for a, b in zip(level[::2], level[1::2], strict=False)]
        level = pairs + level[len(pairs) * 2 :]
    return sa.type_coerce(level[0], sa.Text())


def object_text(dialect: str, pieces: list[str | Sql]) -> Sql:
    """One row's JSON text from constant ``pieces`` (``str``) and values (SQL).

    PostgreSQL: ``a || b || ...``, NULL when a value is. SQLite: one ``printf``
    call per hundred values, which builds the text once instead of copying it
    at every ``||`` (about half the cost of the concatenation); ``printf`` writes
    NULL as nothing, so a value that is NULL is written as :data:`UNSURE`
    instead and the page is answered by Python (:mod:`.json_pages`).
    """
    if dialect != "sqlite":
        return concat(*(text(p) if isinstance(p, str) else p for p in pieces))
    calls: list[Sql] = []
    form: list[str] = []
    values: list[Sql] = []
    for piece in pieces:
        if isinstance(piece, str):
            form.append(piece.replace("%", "%%"))
            continue
        form.append("%s")
        values.append(sa.func.coalesce(piece, text(UNSURE), type_=sa.Text()))
        if len(values) == _PRINTF_ARGS:
            calls.append(sa.func.printf(text("".join(form)), *values, type_=sa.Text()))
            form, values = [], []
    if form:
        calls.append(sa.func.printf(text("".join(form)), *values, type_=sa.Text()))
    return calls[0] if len(calls) == 1 else concat(*calls)


def sqlite_object(members: list[tuple[str, Sql]]) -> Sql:
    """One row's JSON object by SQLite's ``json_object`` over ``(name, typed value)``
    pairs (:func:`typed_value`, ``mapped_json(..., typed=True)``), at most
    :data:`OBJECT_MEMBERS`.

    ``json_object`` writes the names, the separators and each value from its SQL
    type itself (the escapes of ``json_quote``, integers as their text, NULL as
    ``null``, a value marked as JSON as it is), so the values are given typed
    rather than as JSON text: a quarter to two fifths less work per row than
    building the text with ``printf``. A value the database cannot write exactly
    is written as ``[]`` (:data:`UNSURE_MEMBER`), and Python answers that page
    (:mod:`.json_pages`).
    """
    args: list[Sql] = []
    for name, value in members:
        args += [text(name), value]
    return sa.func.json_object(*args, type_=sa.Text())


def typed_value(column: ColumnInfo, stored: Sql) -> Sql | None:
    """An unconverted SQLite column's value as ``json_object`` writes it (see
    :func:`sqlite_object`); ``None`` when the database never writes this column."""
    if column.codec is not None:
        return None
    value = _sqlite(column, stored, typed=True)
    return None if value is None else or_null(column, stored, value, typed=True)


def quoted(inner: Sql, typed: bool = False) -> Sql:
    """``inner`` as a JSON string: quoted, or as it is for ``json_object`` (``typed``)."""
    if typed:
        return inner
    return concat(text('"'), inner, text('"'))


def unsure(typed: bool) -> Sql:
    """What a value the database cannot vouch for is: NULL, or ``[]`` for ``json_object``."""
    return sa.func.json(text("[]"), type_=sa.Text()) if typed else sa.null()


def json_constant(value: str, typed: bool) -> Sql:
    """``true``/``false`` as JSON text, or marked as JSON for ``json_object``."""
    return sa.func.json(text(value), type_=sa.Text()) if typed else text(value)


def _as_text(column: Sql) -> Sql:
    return sa.cast(column, sa.Text())


def _when(condition: Sql, then: Sql) -> Sql:
    return sa.case((condition, then), else_=sa.null())


# --- PostgreSQL -----------------------------------------------------------------------------


def _pg_years(column: Sql, lowest: str, highest: str) -> Sql:
    return sa.and_(column >= sa.literal_column(lowest), column < sa.literal_column(highest))


def _pg(column: ColumnInfo, c: Sql) -> Sql | None:
    kind = column.kind
    if kind == "integer":
        return _as_text(c)
    if kind == "string" or (kind == "char" and column.strip):
        inner = sa.func.rtrim(c, type_=sa.Text()) if kind == "char" else c
        return _as_text(sa.func.to_json(inner))
    if kind == "boolean":
        return sa.case((c, text("true")), else_=text("false"))
    if kind == "decimal" and column.scale is not None and column.precision is not None:
        return quoted(_as_text(c))
    if kind == "uuid":
        return quoted(_as_text(c))
    if kind == "date":
        day = sa.func.to_char(c, text("YYYY-MM-DD"), type_=sa.Text())
        return _when(_pg_years(c, "DATE '0001-01-01'", "DATE '10000-01-01'"), quoted(day))
    if kind == "datetime":
        # Six fraction digits always, then none where they are all zero, as Python writes.
        iso = sa.func.to_char(c, text('YYYY-MM-DD"T"HH24:MI:SS.US'), type_=sa.Text())
        iso = sa.func.replace(iso, text(".000000"), text(""), type_=sa.Text())
        years = _pg_years(c, "TIMESTAMP '0001-01-01'", "TIMESTAMP '10000-01-01'")
        return _when(years, quoted(iso))
    return None


# --- SQLite ---------------------------------------------------------------------------------

_DAY = "[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]"


def _stored_as(c: Sql, storage: str) -> Sql:
    return sa.func.typeof(c) == text(storage)


def _sqlite_decimal(column: ColumnInfo, c: Sql, typed: bool = False) -> Sql | None:
    scale = column.scale
    if scale is None or not 0 <= scale <= _MAX_SCALE:
        return None
    whole = _as_text(c) if not scale else concat(_as_text(c), text("." + "0" * scale))
    if not scale:  # Python writes a double's own text ('5.0'), unpadded: not printf's
        return sa.case((_stored_as(c, "integer"), quoted(whole, typed)), else_=unsure(typed))
    # A double is written by printf where it is the double nearest to a decimal of
    # the column's scale: then it is that decimal, which Python writes too. Tested
    # as ``round(c * 10^s) / 10^s = c``: both operations are exact or correctly
    # rounded for these magnitudes, so this holds exactly for such doubles (and is
    # cheaper than reading printf's text back).
    unit: Sql = sa.literal_column(f"1e{scale}")
    exact = sa.and_(
        _stored_as(c, "real"),
        sa.func.abs(c) < sa.literal_column("1e9"),
        c != sa.literal_column("0"),  # -0.0: Python writes the sign
        sa.func.round(sa.type_coerce(c, sa.Float()) * unit) / unit == c,
    )
    return sa.case(
        (exact, quoted(sa.func.printf(text(f"%.{scale}f"), c, type_=sa.Text()), typed)),
        (_stored_as(c, "integer"), quoted(whole, typed)),
        else_=unsure(typed),
    )


def _real_day(s: Sql) -> Sql:
    """The text's first ten characters (``YYYY-MM-DD`` digits) name a day Python accepts.

    Months and days are compared as their digits (cheap); only a day past the 28th
    is counted: ``date(day, '+0 days')`` writes the day it counted to
    (``2021-03-01`` for ``2021-02-29``; plain ``date()`` echoes the fields it read).
    """
    day = sa.func.substr(s, 1, 10, type_=sa.Text())
    month, day_of_month = sa.func.substr(s, 6, 2), sa.func.substr(s, 9, 2)
    return sa.and_(
        month.between(text("01"), text("12")),
        day_of_month.between(text("01"), text("31")),
        sa.func.substr(s, 1, 4) != text("0000"),
        sa.or_(day_of_month <= text("28"), sa.func.date(day, text("+0 days")) == day),
    )


def _sqlite_date(column: ColumnInfo, c: Sql, typed: bool = False) -> Sql | None:
    s = _as_text(c)
    day = sa.func.substr(s, 1, 10, type_=sa.Text())
    if column.kind == "date":
        real = sa.and_(s.op("GLOB")(text(_DAY + "*")), _real_day(s))
        return sa.case((real, quoted(day, typed)), else_=unsure(typed))
    if column.kind != "datetime":
        return None
    # The stored value itself, without affinity (unary ``+``): comparisons then take it
    # as it is (a number is below any text), and no CAST runs at each of its uses.
    s = UnaryExpression(c, operator=operators.custom_op("+"), type_=sa.Text())
    day = sa.func.substr(s, 1, 10, type_=sa.Text())
    # Written only for a real day and time of day. SQLite's ``datetime()`` writes back
    # the first 19 characters as they are only when they have the shape and each field
    # is in range (month 1-12, day 1-31, hour 0-24, minute and second 0-59), else other
    # text or NULL; then no hour 24 (which SQLite takes), no year 0, and a day past the
    # 28th counted (see :func:`_real_day`). Anything else Python answers as stored, by
    # its own rules. Separated by a space (as written through SQLAlchemy) or a ``T``.
    fields = sa.or_(
        sa.func.datetime(s) == sa.func.substr(s, 1, 19),
        sa.and_(
            sa.func.substr(s, 11, 1) == text("T"),
            sa.func.datetime(s)
            == concat(sa.func.substr(s, 1, 10), text(" "), sa.func.substr(s, 12, 8)),
        ),
    )
    real = sa.and_(
        s >= text("0001"),
        fields,
        sa.func.substr(s, 12, 2) <= text("23"),
        sa.or_(sa.func.substr(s, 9, 2) <= text("28"), sa.func.date(day, text("+0 days")) == day),
    )
    micros = sa.and_(
        sa.func.length(s) == 26, sa.func.substr(s, 20).op("GLOB")(text("." + "[0-9]" * 6)), real
    )
    seconds = sa.func.substr(s, 1, 19, type_=sa.Text())
    return sa.case(
        (
            micros,
            sa.case(  # no fraction where it is all zeros, as Python writes
                (sa.func.substr(s, 21) == text("000000"), quoted(_iso(seconds), typed)),
                else_=quoted(_iso(s), typed),
            ),
        ),
        (sa.and_(sa.func.length(s) == 19, real), quoted(_iso(s), typed)),
        else_=unsure(typed),
    )


def _iso(s: Sql) -> Sql:
    """A stored date-time text with ``T`` between date and time."""
    return sa.func.replace(s, text(" "), text("T"), type_=sa.Text())


def _sqlite(column: ColumnInfo, c: Sql, typed: bool = False) -> Sql | None:
    """The column's JSON text (NULL where unsure), or with ``typed`` its value as
    ``json_object`` writes it (``[]`` where unsure; see :func:`sqlite_object`)."""
    kind = column.kind
    otherwise = unsure(typed)
    if kind == "integer":
        return sa.case((_stored_as(c, "integer"), c if typed else _as_text(c)), else_=otherwise)
    if kind == "string" or (kind == "char" and column.strip):
        inner = sa.func.rtrim(c, text(" "), type_=sa.Text()) if kind == "char" else c
        written = inner if typed else sa.func.json_quote(inner, type_=sa.Text())
        return sa.case((_stored_as(c, "text"), written), else_=otherwise)
    if kind == "boolean":
        return sa.case(
            (sa.and_(_stored_as(c, "integer"), c == 1), json_constant("true", typed)),
            (sa.and_(_stored_as(c, "integer"), c == 0), json_constant("false", typed)),
            else_=otherwise,
        )
    if kind == "decimal":
        return _sqlite_decimal(column, c, typed)
    if kind in ("date", "datetime"):
        return _sqlite_date(column, c, typed)
    return None


_RENDERERS: dict[str, Callable[[ColumnInfo, Sql], Sql | None]] = {
    "postgresql": _pg,
    "sqlite": _sqlite,
}


def value_json(dialect: str, column: ColumnInfo, stored: Sql) -> Sql | None:
    """The JSON text of ``column`` (``stored`` is the bare table column), NULL where it
    is not certain; ``None`` when the database never writes this column."""
    renderer = _RENDERERS.get(dialect)
    if renderer is None or column.codec is not None:
        return None
    rendered = renderer(column, stored)
    return None if rendered is None else or_null(column, stored, rendered)


def or_null(column: ColumnInfo, stored: Sql, rendered: Sql, typed: bool = False) -> Sql:
    """``rendered``, and ``null`` where the stored value is NULL (SQL NULL if ``typed``)."""
    if not column.nullable:  # the database holds no NULL here
        return rendered
    return sa.case((stored.is_(None), sa.null() if typed else text("null")), else_=rendered)
