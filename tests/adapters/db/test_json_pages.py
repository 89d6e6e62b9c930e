"""Pages whose JSON the database writes are the same bytes the Python encoder writes.

On every backend, over a table of many column kinds (nulls, unicode, quotes and
control characters, decimals with a scale and negative, dates, date-times with
and without microseconds, booleans), every page of filtered, sorted, field-picked
and offset listings is built both ways and compared byte for byte. PostgreSQL and
SQLite through SQLAlchemy write pages themselves; the other backends (raw ODBC,
MariaDB) answer from Python, as do pages holding a value the database cannot
write exactly (floats, SQLite's odd stored forms).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import secrets
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from strangler.adapters.db import DatabaseAdapter
from strangler.adapters.db.json_pages import json_key
from strangler.adapters.db.meta import TableInfo
from strangler.errors import LegacyDataError
from strangler.rest.app import build_app
from strangler.rest.encoding import dumps
from tests.adapters.db.conftest import Backend

BUILDS = {"postgresql", "sqlite-sa"}
"""Backends whose database writes pages."""
D = decimal.Decimal
TEXTS = [
    "plain", 'a "quote" inside', "back\\slash", "tab\tnew\nline\rcr", "ctrl \x01\x08\x0c\x1f",
    "unicode é 漢字 €", "", None, "comma, and , more", "line\u2028sep", "del\x7f",
    "slash / and <tag>",
]  # fmt: skip
AMOUNTS = [D("0.00"), D("-12.50"), D("99999.99"), D("-0.01"), D("5.00"), None, D("1234567.89")]
DAYS = [dt.date(2024, 5, 16), dt.date(1, 1, 1), dt.date(9999, 12, 31), None, dt.date(2000, 2, 29)]
TIMES = [
    dt.datetime(2020, 1, 1, 10, 0, 0),
    dt.datetime(2020, 1, 1, 10, 0, 0, 120000),
    dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
    None,
    dt.datetime(2024, 2, 29, 0, 0, 0, 1),
]
FIELDS = ["id", "label", "code", "amount", "big", "flag", "day", "at", "note"]


def _table(name: str) -> sa.Table:
    return sa.Table(
        name, sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("label", sa.String(60)), sa.Column("code", sa.CHAR(6)),
        sa.Column("amount", sa.Numeric(12, 2)), sa.Column("big", sa.Numeric(20, 4)),
        sa.Column("flag", sa.Boolean), sa.Column("day", sa.Date),
        sa.Column("at", sa.DateTime), sa.Column("ratio", sa.Float),
        sa.Column("note", sa.Text, nullable=False),
    )  # fmt: skip


def _rows() -> list[dict[str, Any]]:
    rows = []
    for i in range(1, 31):
        rows.append(
            {
                "id": i if i % 7 else -i,
                "label": TEXTS[i % len(TEXTS)],
                "code": [None, "AB", "ABCDEF", " X"][i % 4],
                "amount": AMOUNTS[i % len(AMOUNTS)],
                "big": [D("12345678901234.5678"), D("-0.0001"), None][i % 3],
                "flag": [True, False, None][i % 3],
                "day": DAYS[i % len(DAYS)],
                "at": TIMES[i % len(TIMES)],
                "ratio": [0.1 + 0.2, 1e20, None][i % 3],
                "note": f"note {i} ü",
            }
        )
    return rows


def _sqlite_values(row: dict[str, Any]) -> dict[str, Any]:
    """How a legacy application writes SQLite: text dates, decimals as text."""
    out = dict(row)
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            spec = "microseconds" if value.microsecond else "seconds"
            out[key] = value.isoformat(sep=" ", timespec=spec)
        elif isinstance(value, dt.date | D):
            out[key] = str(value)
    return out


IMPOSSIBLE_SQLITE = [  # the common whole-second form, of no real moment: answered as stored
    {"id": 109, "at": "2020-02-30 10:00:00", "note": "30 February"},
    {"id": 110, "at": "2020-13-01 10:00:00", "note": "month 13"},
    {"id": 111, "at": "2020-01-01 25:00:00", "note": "hour 25"},
    {"id": 112, "at": "2020-01-01 24:00:00", "note": "hour 24 (SQLite takes it)"},
    {"id": 113, "at": "2021-02-29 10:00:00", "note": "29 February, no leap year"},
    {"id": 114, "at": "2020-01-01T10:60:00", "note": "minute 60"},
    {"id": 115, "at": "2020-01-01 10:00:60", "note": "second 60"},
    {"id": 116, "at": "2020-00-10 10:00:00", "note": "month 0"},
    {"id": 117, "at": "2020-04-31T10:00:00", "note": "31 April"},
    {"id": 118, "at": "0000-01-01 10:00:00", "note": "year 0"},
    {"id": 119, "day": "2020-02-30", "note": "30 February"},
    {"id": 120, "day": "2020-13-01", "note": "month 13"},
    {"id": 121, "day": "2020-01-00", "note": "day 0"},
    {"id": 122, "day": "2019-02-29", "note": "29 February, no leap year"},
]

_ODD_SQLITE = [  # stored forms the database cannot prove it writes as Python does
    {"id": 101, "amount": 12.345, "note": "three decimals in a real"},
    {"id": 102, "at": "2020-01-01T10:00:00.120", "note": "milliseconds"},
    {"id": 103, "day": "20200101", "note": "basic date"},
    {"id": 104, "at": "2020-02-30 10:00:00.000001", "note": "no such day"},
    {"id": 105, "day": "2021-02-29", "note": "no such day"},
    {"id": 106, "at": "2020-04-31 10:00:00.000001", "note": "no such day"},
    {"id": 107, "at": "2020-01-01 24:00:00.000001", "note": "no such hour"},
    {"id": 108, "at": "0000-01-01 10:00:00.000001", "note": "no year 0"},
    {"id": 123, "at": "2020-01-01\t10:00:00.000001", "note": "a tab between"},
    {"id": 124, "at": "2020-01-01 10:00:00.12345Z", "note": "five digits and a zone"},
    {"id": 125, "at": " 2020-01-01 10:00:00.00001", "note": "a space before"},
    {"id": 126, "at": "2020-01-01 10:00:00+00:00", "note": "an offset"},
    {"id": 127, "at": "2020-01-01 10:00:00 +0000", "note": "a space and an offset"},
    {"id": 133, "at": 2460000.5, "note": "a Julian day number, stored as a number"},
    {"id": 134, "at": 1700000000, "note": "a Unix time, stored as a number"},
    {"id": 128, "amount": 0.125, "note": "half a cent: printf rounds up, Python to even"},
    {"id": 129, "amount": 1.005, "note": "a double just under half a cent"},
    {"id": 131, "amount": 0.1 + 0.2, "note": "no two-decimal double"},
    {"id": 132, "amount": 1e9 + 0.5, "note": "past 1e9"},
    *IMPOSSIBLE_SQLITE,
]

REAL_SQLITE = [  # other stored forms the database writes, as Python does
    {"id": 140, "at": "2020-01-01T10:00:00.250000", "note": "T, microseconds"},
    {"id": 141, "at": "2020-01-01 10:00:00.000000", "note": "no microseconds, written"},
    {"id": 142, "at": "2020-01-01T10:00:00", "note": "T, whole second"},
    {"id": 143, "at": "2024-02-29 23:59:59.999999", "note": "a leap day's last moment"},
    {"id": 144, "at": "0001-01-01 00:00:00", "note": "the first day"},
    {"id": 145, "at": "9999-12-31T23:59:59.000001", "note": "the last day"},
    {"id": 146, "amount": 999999999.99, "note": "under 1e9"},
    {"id": 147, "amount": -0.5, "note": "negative half"},
    {"id": 148, "amount": -1234.56, "note": "negative"},
    {"id": 149, "amount": 0.29, "note": "a double above its decimal"},
    {"id": 130, "amount": -0.0, "note": "negative zero, which a NUMERIC column keeps as 0"},
]


@pytest.fixture(scope="module")
def made(backend: Backend) -> Iterator[tuple[DatabaseAdapter, TableInfo]]:
    name = f"jp_{secrets.token_hex(3)}"
    table = _table(name)
    table.create(backend.admin)
    rows = _rows()
    with backend.admin.begin() as connection:
        if backend.admin.dialect.name == "sqlite":
            connection.execute(sa.text(_insert(table)), [_sqlite_values(r) for r in rows])
            blank = {c.name: None for c in table.columns}
            odd_and_real = [*_ODD_SQLITE, *REAL_SQLITE]
            connection.execute(sa.text(_insert(table)), [blank | r for r in odd_and_real])
        else:
            connection.execute(table.insert(), rows)
    adapter = DatabaseAdapter("jp", backend.spec({name: {}}, max_page_size=100))
    try:
        yield adapter, adapter.tables[name]
    finally:
        adapter.runner.dispose()
        table.drop(backend.admin)


def _insert(table: sa.Table) -> str:
    names = [c.name for c in table.columns]
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES (:{', :'.join(names)})"


QUERIES: list[list[tuple[str, str]]] = [
    [("fields", ",".join(FIELDS))],
    [("fields", ",".join(FIELDS)), ("sort", "-label")],
    [("fields", ",".join(FIELDS)), ("sort", "amount,-at"), ("amount", "gt.0")],
    [("fields", "label,day"), ("sort", "-day")],
    [("fields", "note,code"), ("sort", "code,-flag")],
    [("fields", "id,label"), ("label", "like.%e%"), ("sort", "label")],
    [],  # every column, the float too: Python writes these pages
    [("fields", ",".join(FIELDS)), ("offset", "2")],
]


def _walk(
    adapter: DatabaseAdapter, table: TableInfo, params: list[tuple[str, str]], limit: int = 4
) -> tuple[int, int]:
    """Every page both ways, compared; how many pages the database wrote, of how many."""
    built = pages = 0
    cursor = None
    while True:
        given = [*params, ("limit", str(limit)), *([("cursor", cursor)] if cursor else [])]
        query = adapter.rows._query(table, given)
        expected = dumps(asyncio.run(adapter.rows.page(table, query)))
        written = asyncio.run(adapter.rows.json_pages.page(table, query))
        pages += 1
        if written is not None:
            built += 1
            assert written == expected, (given, written, expected)
        cursor = orjson.loads(expected)["next_cursor"]
        if cursor is None or any(name == "offset" for name, _ in params):
            return built, pages


@pytest.mark.parametrize("params", QUERIES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p))
def test_every_page_the_same_bytes(
    backend: Backend, made: tuple[DatabaseAdapter, TableInfo], params: list[tuple[str, str]]
) -> None:
    adapter, table = made
    built, pages = _walk(adapter, table, params)
    assert pages > 1 or (params and params[-1][0] == "offset")
    if backend.name not in BUILDS or not params:
        assert built == 0
    elif backend.name == "postgresql":
        assert built == pages


@pytest.mark.needs("sqlite-json")
def test_sqlite_falls_back_only_for_odd_pages(made: tuple[DatabaseAdapter, TableInfo]) -> None:
    adapter, table = made
    fields = [f for f in FIELDS if f != "big"]  # past 1e9: never written by SQLite
    built, pages = _walk(adapter, table, [("fields", ",".join(fields))], limit=1)
    assert built == pages - len(_ODD_SQLITE)  # a page of its own for each odd value


@pytest.mark.needs("sqlite-json")
def test_sqlite_pages_row_by_row_the_same_bytes(made: tuple[DatabaseAdapter, TableInfo]) -> None:
    """A SQLite too old to materialise a CTE has its page's rows joined by Python, not
    aggregated by the database: the same bytes."""
    adapter, table = made
    pages = adapter.rows.json_pages
    assert pages.aggregate  # this machine's SQLite aggregates; the old path, forced:
    pages.aggregate = False
    pages._statements.clear()
    try:
        built = sum(_walk(adapter, table, params)[0] for params in QUERIES[:6])
        assert built > 10  # pages written by the database, each compared with Python's
    finally:
        pages.aggregate = True
        pages._statements.clear()


@pytest.mark.needs("sqlite-json")
def test_sqlite_impossible_moments_answered_as_stored(
    made: tuple[DatabaseAdapter, TableInfo],
) -> None:
    """A date or date-time of no real day or time of day is never written by the
    database, and Python answers it as stored (not half-rewritten as ISO 8601)."""
    adapter, table = made
    for odd in IMPOSSIBLE_SQLITE:
        name = "at" if "at" in odd else "day"
        query = adapter.rows._query(table, [("fields", f"id,{name}"), ("id", f"eq.{odd['id']}")])
        assert asyncio.run(adapter.rows.json_pages.page(table, query)) is None, odd
        answer = orjson.loads(dumps(asyncio.run(adapter.rows.page(table, query))))
        assert answer["items"] == [{"id": odd["id"], name: odd[name]}], odd


@pytest.mark.needs("json-pages")
def test_a_null_row_text_hands_the_page_to_python(
    made: tuple[DatabaseAdapter, TableInfo],
) -> None:
    """A row text the database gives as NULL (a value it cannot write exactly) makes
    the whole page Python's, whichever row of the page it is in; without one, the
    rows' texts are the page."""
    adapter, table = made
    pages = adapter.rows.json_pages
    query = adapter.rows._query(table, [("fields", "id"), ("sort", "id"), ("limit", "5")])
    ids = sorted(r["id"] for r in _rows())
    t = table.sa_table

    def answer(row: Any) -> Any:
        pages._statements.clear()  # a statement per row expression
        return asyncio.run(
            adapter.runner.run(lambda s: pages._answer(s, table, query, row), operation="test")
        )

    for null_at in (ids[0], ids[2], ids[4]):  # the first, a middle and the last row
        row = sa.case((t.c.id == null_at, sa.null()), else_=sa.literal_column("'{}'"))
        assert answer(row) is None, null_at
    body, cursor = answer(sa.literal_column("'{}'", sa.Text()))
    assert body.startswith(b'{"items":[{},{},{},{},{}],"next_cursor":"')
    assert cursor is not None and body.endswith(b'"' + cursor.encode() + b'"}')


def test_the_route_answers_the_same(
    backend: Backend, made: tuple[DatabaseAdapter, TableInfo]
) -> None:
    adapter, table = made
    client = TestClient(build_app([adapter]))
    query = {"fields": ",".join(FIELDS), "limit": "5", "sort": "-amount"}
    answer = client.get(f"/database/jp/{table.name}", params=query)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    parsed = adapter.rows._query(table, list(query.items()))
    assert answer.content == dumps(asyncio.run(adapter.rows.page(table, parsed)))


@pytest.mark.parametrize("name", ["id", "a b", 'q"uote', "back\\slash", "tab\t", "é€", "\x01"])
def test_keys_escaped_as_orjson_does(name: str) -> None:
    assert json_key(name) == orjson.dumps(name).decode() + ":"


# --- tables in modern shape ---------------------------------------------------------------

STATUS = {"N": "new", "P": "paid", "S": "shipped", "X": 'odd "label"'}
MAPPING: dict[str, Any] = {
    "ID": "id",
    "DAY": {"as": "day", "date": "DD.MM.YYYY"},
    "CREATED": {"as": "createdOn", "date": "YYYYMMDD", "null_values": [0]},
    "AMOUNT": {"as": "total", "minor_units": 2},
    "ACTIVE": {"flag": {"true": ["Y", "J"], "false": ["N"]}},
    "STATUS": {"enum": STATUS},
    "SKU": {"as": "sku", "width": 8},
    "AT": {"as": "at", "time": "HHMMSS"},
    "STAMP": {"as": "stamp", "datetime": "YYYYMMDDHHMISS"},
    "CHECKED": {"as": "checked", "date": "YYYY-MM-DD", "on_broken": "raw"},
}
MODERN = ["id", "day", "createdOn", "total", "active", "status", "sku", "at", "stamp", "checked"]


def _legacy_table(name: str) -> sa.Table:
    return sa.Table(
        name, sa.MetaData(),
        sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("DAY", sa.String(10), nullable=False), sa.Column("CREATED", sa.Integer),
        sa.Column("AMOUNT", sa.BigInteger, nullable=False), sa.Column("ACTIVE", sa.CHAR(1)),
        sa.Column("STATUS", sa.CHAR(1), nullable=False), sa.Column("SKU", sa.CHAR(8)),
        sa.Column("AT", sa.String(6)), sa.Column("STAMP", sa.String(14)),
        sa.Column("CHECKED", sa.String(10)),
    )  # fmt: skip


def _legacy_rows() -> list[dict[str, Any]]:
    days = ["16.05.2024", "29.02.2000", "01.01.0001", "31.12.9999", "09.11.1989"]
    rows = []
    for i in range(1, 41):
        rows.append(
            {
                "ID": i,
                "DAY": days[i % len(days)],
                "CREATED": [20240516, 0, None, 19991231, 10101][i % 5],
                "AMOUNT": [439010, -5, 0, 100, -123456789, 7][i % 6],
                "ACTIVE": ["Y", "N", "J", None][i % 4],
                "STATUS": list(STATUS)[i % len(STATUS)],
                "SKU": ["AB-1", "ABCDEFGH", "", "é"][i % 4],
                "AT": ["235959", "000000", None, "120530"][i % 4],
                "STAMP": ["20240229235959", None, "19991231000000"][i % 3],
                # a day that does not exist: Python answers null and the stored text
                "CHECKED": "2019-02-31" if i == 37 else ["2024-05-16", None][i % 2],
            }
        )
    return rows


@pytest.fixture(scope="module")
def mapped(backend: Backend) -> Iterator[tuple[DatabaseAdapter, TableInfo]]:
    name = f"JM_{secrets.token_hex(3).upper()}"
    table = _legacy_table(name)
    table.create(backend.admin)
    with backend.admin.begin() as connection:
        connection.execute(table.insert(), _legacy_rows())
    spec = backend.spec({name: {"as": "items", "fields": MAPPING}}, naming="camelCase")
    adapter = DatabaseAdapter("jm", spec)
    try:
        yield adapter, adapter.tables["items"]
    finally:
        adapter.runner.dispose()
        table.drop(backend.admin)


MAPPED_QUERIES: list[list[tuple[str, str]]] = [
    [],
    [("sort", "-total")],
    [("sort", "day,-status")],
    [("fields", "id,sku"), ("sort", "status,-createdOn")],
    [("fields", "day,total,active"), ("day", "ge.1990-01-01"), ("sort", "-day")],
    [("fields", "stamp,at"), ("active", "eq.true"), ("sort", "-stamp")],
]


@pytest.mark.parametrize("params", MAPPED_QUERIES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p))
def test_mapped_pages_the_same_bytes(
    backend: Backend, mapped: tuple[DatabaseAdapter, TableInfo], params: list[tuple[str, str]]
) -> None:
    adapter, table = mapped
    built, pages = _walk(adapter, table, params)
    assert pages > 1
    if backend.name not in BUILDS:
        assert built == 0
    elif not any(name == "fields" for name, _ in params):
        assert built == pages - 1  # the page with the broken day: Python answers it
    else:
        assert built == pages


def test_database_json_off_keeps_pages_in_python(
    backend: Backend, made: tuple[DatabaseAdapter, TableInfo]
) -> None:
    _, table = made
    spec = backend.spec({table.sql_name: {}}, database_json=False)
    adapter = DatabaseAdapter("jp", spec)
    try:
        query = adapter.rows._query(adapter.tables[table.name], [("fields", "id,label")])
        assert asyncio.run(adapter.rows.json_pages.page(adapter.tables[table.name], query)) is None
    finally:
        adapter.runner.dispose()


def test_odd_column_names(backend: Backend) -> None:
    """Names with quotes, percent signs, colons and backslashes stay literal SQL text."""
    name = f"jn_{secrets.token_hex(3)}"
    odd = ["id", "it's", "100%", "a:b", 'say "hi"', "back\\slash", "%(x)s"]
    columns: list[sa.Column[Any]] = [
        sa.Column(odd[0], sa.Integer, primary_key=True, autoincrement=False)
    ]
    columns += [sa.Column(c, sa.String(20)) for c in odd[1:]]
    table = sa.Table(name, sa.MetaData(), *columns)
    table.create(backend.admin)
    try:
        with backend.admin.begin() as connection:
            rows = [{c: f"{c} {i}" for c in odd[1:]} | {"id": i} for i in range(1, 8)]
            connection.execute(table.insert(), rows)
        adapter = DatabaseAdapter("jn", backend.spec({name: {}}))
        try:
            built, pages = _walk(adapter, adapter.tables[name], [("sort", "-it's")])
            assert built == (pages if backend.name in BUILDS else 0)
        finally:
            adapter.runner.dispose()
    finally:
        table.drop(backend.admin)


def test_wide_rows(backend: Backend) -> None:
    """More columns than one SQLite ``printf`` call takes: the row object is written in
    several calls, and a value the database cannot vouch for in the last of them still
    hands the page to Python."""
    name = f"jw_{secrets.token_hex(3)}"
    columns: list[sa.Column[Any]] = [sa.Column("id", sa.Integer, primary_key=True)]
    columns += [sa.Column(f"c{i:03d}", sa.Integer) for i in range(229)]
    columns.append(sa.Column("c229", sa.Numeric(10, 2)))
    table = sa.Table(name, sa.MetaData(), *columns)
    table.create(backend.admin)
    try:
        with backend.admin.begin() as connection:
            amount = decimal.Decimal("1.50")
            rows = [
                {f"c{k:03d}": i * 1000 + k for k in range(229)} | {"id": i, "c229": amount}
                for i in range(1, 6)
            ]
            connection.execute(table.insert(), rows)
            if backend.name == "sqlite-sa":  # three decimals in a real, the last value
                connection.execute(sa.text(f"UPDATE {name} SET c229 = 12.345 WHERE id = 3"))
        adapter = DatabaseAdapter("jw", backend.spec({name: {}}))
        try:
            built, pages = _walk(adapter, adapter.tables[name], [], limit=1)
            odd = 1 if backend.name == "sqlite-sa" else 0
            assert built == (pages - odd if backend.name in BUILDS else 0)
        finally:
            adapter.runner.dispose()
    finally:
        table.drop(backend.admin)


# --- converted values of no real moment ---------------------------------------------------

IMPOSSIBLE_MAPPING: dict[str, Any] = {
    "ID": "id",
    "DAY": {"as": "day", "date": "DD.MM.YYYY", "on_broken": "null"},
    "CREATED": {"as": "createdOn", "date": "YYYYMMDD", "on_broken": "raw"},
    "STAMP": {"as": "stamp", "datetime": "YYYYMMDDHHMISS", "on_broken": "null"},
    "AT": {"as": "at", "time": "HHMMSS", "on_broken": "raw"},
    "STRICT": {"as": "strict", "date": "DD.MM.YYYY"},  # on_broken: error, a 502
}
IMPOSSIBLE_ROWS: list[dict[str, Any]] = [  # one impossible value per row, the rest real
    {"DAY": "31.02.2019"}, {"DAY": "29.02.2019"}, {"DAY": "00.01.2020"}, {"DAY": "01.13.2020"},
    {"DAY": "32.01.2020"}, {"DAY": "01.01.0000"}, {"DAY": "31.04.2020"},
    {"CREATED": 20190231}, {"CREATED": 20191301}, {"CREATED": 20190229}, {"CREATED": 20200100},
    {"STAMP": "20200101240000"}, {"STAMP": "20190229101010"}, {"STAMP": "20200101106000"},
    {"STAMP": "20200101100060"}, {"STAMP": "20200230000000"},
    {"AT": "240000"}, {"AT": "126000"}, {"AT": "120060"}, {"AT": "250000"},
]  # fmt: skip
REAL_ROW = {"DAY": "29.02.2020", "CREATED": 20200229, "STAMP": "20201231235959", "AT": "235959"}


@pytest.fixture(scope="module")
def impossible(backend: Backend) -> Iterator[tuple[DatabaseAdapter, TableInfo]]:
    name = f"JI_{secrets.token_hex(3).upper()}"
    table = sa.Table(
        name, sa.MetaData(),
        sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("DAY", sa.String(10)), sa.Column("CREATED", sa.Integer),
        sa.Column("STAMP", sa.String(14)), sa.Column("AT", sa.String(6)),
        sa.Column("STRICT", sa.String(10)),
    )  # fmt: skip
    table.create(backend.admin)
    rows = [
        REAL_ROW | odd | {"ID": i, "STRICT": "31.12.2020"}
        for i, odd in enumerate(IMPOSSIBLE_ROWS, 1)
    ]
    rows += [
        REAL_ROW | {"ID": 100, "STRICT": "31.02.2019"},
        REAL_ROW | {"ID": 101, "STRICT": "24.12.2020"},
    ]
    with backend.admin.begin() as connection:
        connection.execute(table.insert(), rows)
    spec = backend.spec({name: {"as": "moments", "fields": IMPOSSIBLE_MAPPING}}, naming="camelCase")
    adapter = DatabaseAdapter("ji", spec)
    try:
        yield adapter, adapter.tables["moments"]
    finally:
        adapter.runner.dispose()
        table.drop(backend.admin)


def test_impossible_converted_moments_left_to_python(
    backend: Backend, impossible: tuple[DatabaseAdapter, TableInfo]
) -> None:
    """``31.02.2019``, ``20191301``, hour 24, second 60: the database writes none of them,
    and every page it does write is Python's bytes (null and raw policies)."""
    adapter, table = impossible
    fields = ("fields", "id,day,createdOn,stamp,at")
    built, pages = _walk(adapter, table, [fields, ("id", "lt.100")], limit=1)
    assert pages == len(IMPOSSIBLE_ROWS)
    assert built == 0
    built, pages = _walk(adapter, table, [fields, ("id", "ge.100")], limit=1)
    assert built == (pages if backend.name in BUILDS else 0)


def test_impossible_moment_under_error_policy(
    backend: Backend, impossible: tuple[DatabaseAdapter, TableInfo]
) -> None:
    """A broken value under ``on_broken: error`` is Python's 502, never the database's page."""
    adapter, table = impossible
    query = adapter.rows._query(table, [("fields", "id,strict"), ("id", "eq.100")])
    assert asyncio.run(adapter.rows.json_pages.page(table, query)) is None
    with pytest.raises(LegacyDataError, match=r"31\.02\.2019"):
        asyncio.run(adapter.rows.page(table, query))
    built, _ = _walk(adapter, table, [("fields", "id,strict"), ("id", "eq.101")])
    assert built == (1 if backend.name in BUILDS else 0)
