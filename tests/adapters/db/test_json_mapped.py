"""Converted columns written by the database: every stored value that breaks its
declared encoding is left to Python, and every real one is Python's bytes.

The database tests a converted value in cheap pieces (``LIKE`` or ``GLOB`` for
the shape, whole-text comparisons for a leading part, hashed ``IN`` lists,
``translate`` for a year's digits, codes compared as stored before trimming),
so each way a value can miss one of them has a row here: one broken value per
row, the rest real. The database must write none of those rows (Python answers
them, applying ``on_broken: null``), and must write every real row, padded ones
included, byte for byte as Python does.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from strangler.adapters.db import DatabaseAdapter
from strangler.adapters.db.meta import TableInfo
from strangler.rest.encoding import dumps
from tests.adapters.db.conftest import Backend

BUILDS = {"postgresql", "sqlite-sa"}
"""Backends whose database writes pages."""
NULL = {"on_broken": "null"}
MAPPING: dict[str, Any] = {
    "ID": "id",
    "DAY": {"as": "day", "date": "DD.MM.YYYY", **NULL},
    "FIXED": {"as": "fixed", "date": "DD.MM.YYYY", **NULL},
    "US": {"as": "us", "date": "MM/DD/YYYY", **NULL},
    "ISO": {"as": "iso", "date": "YYYY-MM-DD", **NULL},
    "STAMP": {"as": "stamp", "datetime": "YYYYMMDDHHMISS", **NULL},
    "CLOCK": {"as": "clock", "time": "HH:MI", **NULL},
    "LOCAL": {"as": "local", "datetime": "DD.MM.YYYY HH:MI:SS", **NULL},
    "BRACKET": {"as": "bracket", "time": "[HH:MI:SS]", **NULL},
    "PAID": {"as": "paid", "flag": {"true": ["Y"], "false": ["N"]}, **NULL},
    "STATUS": {"as": "status", "enum": {"N": "new", "P": "paid", "C": "cancelled"}, **NULL},
    "CENTS": {"as": "total", "minor_units": 2, **NULL},
    "UNITS": {"as": "units", "minor_units": 0, **NULL},
}
FIELDS = [spec if isinstance(spec, str) else spec.get("as", key) for key, spec in MAPPING.items()]
REAL: dict[str, Any] = {
    "DAY": "16.05.2024",
    "FIXED": "29.02.2000",
    "US": "12/31/1999",
    "ISO": "2024-02-29",
    "STAMP": "20240229235959",
    "CLOCK": "23:59",
    "LOCAL": "31.12.9999 00:00:00",
    "BRACKET": "[23:59:59]",
    "PAID": "Y",
    "STATUS": "C",
    "CENTS": 439010,
    "UNITS": -7,
}
REAL_ROWS: list[dict[str, Any]] = [  # each written by the database as Python writes it
    {"DAY": "01.01.0001"}, {"DAY": "31.12.9999"}, {"DAY": "29.02.2020"}, {"DAY": "28.02.2019"},
    {"DAY": "30.04.2020"}, {"DAY": "31.01.2020"}, {"DAY": "31.03.2021"}, {"DAY": "30.11.1999"},
    {"DAY": "29.02.2400"}, {"DAY": "09.10.2020"}, {"DAY": "10.09.2020"}, {"DAY": "20.12.2020"},
    {"DAY": "01.02.2019   "},  # trailing spaces: trimmed, as the codec trims them
    {"US": "02/29/2020"}, {"US": "01/01/0001"}, {"US": "09/30/2020"}, {"US": "10/31/2020"},
    {"ISO": "0001-01-01"}, {"ISO": "9999-12-31"}, {"ISO": "2021-10-10  "},
    {"STAMP": "00010101000000"}, {"STAMP": "20201231235959"}, {"STAMP": "20200229195900 "},
    {"CLOCK": "00:00"}, {"CLOCK": "19:59"}, {"CLOCK": "20:00"}, {"CLOCK": "09:05 "},
    {"LOCAL": "29.02.2000 23:59:59"}, {"LOCAL": "01.01.0001 19:00:00"},
    {"BRACKET": "[00:00:00]"}, {"BRACKET": "[19:59:59]"}, {"BRACKET": "[20:00:00]  "},
    {"PAID": "N"}, {"PAID": "Y  "}, {"STATUS": "N"}, {"STATUS": "P "},
    {"CENTS": 0}, {"CENTS": 5}, {"CENTS": -5}, {"CENTS": 100}, {"CENTS": -100},
    {"CENTS": -123456789}, {"CENTS": 9223372036854775807}, {"UNITS": 0},
    {"UNITS": -9000000000000000000 + 1},
]  # fmt: skip
BROKEN_ROWS: list[dict[str, Any]] = [  # each left to Python, which answers null
    # DD.MM.YYYY: no such day, month or year
    {"DAY": "31.02.2019"}, {"DAY": "29.02.2019"}, {"DAY": "29.02.1900"}, {"DAY": "31.04.2020"},
    {"DAY": "31.06.2020"}, {"DAY": "31.09.2020"}, {"DAY": "31.11.2020"}, {"DAY": "30.02.2020"},
    {"DAY": "00.01.2020"}, {"DAY": "32.01.2020"}, {"DAY": "39.01.2020"}, {"DAY": "40.01.2020"},
    {"DAY": "01.00.2020"}, {"DAY": "01.13.2020"}, {"DAY": "01.19.2020"}, {"DAY": "01.20.2020"},
    {"DAY": "01.01.0000"},
    # DD.MM.YYYY: not its shape
    {"DAY": " 1.02.2019"}, {"DAY": "1.2.2019"}, {"DAY": "2019-02-01"}, {"DAY": "01-02-2019"},
    {"DAY": "01.02.201"}, {"DAY": "01.02.20190"}, {"DAY": "01.02.2019x"}, {"DAY": "01.02.2019 x"},
    {"DAY": "1..01.2020"}, {"DAY": "01..1.2020"}, {"DAY": "01.1..2020"}, {"DAY": "01.02..019"},
    {"DAY": "01.02.20.9"}, {"DAY": "01.02.201."}, {"DAY": ".1.02.2019"}, {"DAY": "01.02.20 9"},
    {"DAY": "01 .02.2019"}, {"DAY": "01.02. 2019"}, {"DAY": ""}, {"DAY": "          "},
    {"DAY": "\t01.02.2019"}, {"DAY": "01.02.2019\t"}, {"DAY": "01.02.2019\n"},
    {"DAY": "01,02,2019"}, {"DAY": "01x02x2019"}, {"DAY": "01%02%2019"}, {"DAY": "01_02_2019"},
    # DD.MM.YYYY: characters next to the digits in byte order, and other digits
    {"DAY": "0:.01.2020"}, {"DAY": "3:.01.2020"}, {"DAY": "1/.01.2020"}, {"DAY": "/1.01.2020"},
    {"DAY": "01.0:.2020"}, {"DAY": "01.1:.2020"}, {"DAY": "01./1.2020"}, {"DAY": "01.02.201:"},
    {"DAY": "01.02.:019"}, {"DAY": "01.02.2/19"}, {"DAY": "01.02.2O19"}, {"DAY": "0l.02.2019"},
    {"DAY": "\uff101.02.2019"}, {"DAY": "01.0\uff12.2019"}, {"DAY": "01.02.\uff12019"},
    {"DAY": "01.02.201\uff19"}, {"DAY": "\u0660\u0661.02.2019"}, {"DAY": "01.02.20\u06619"},
    {"DAY": "é1.02.2019"}, {"DAY": "01.02.201é"},  # fullwidth, Arabic-Indic digits above
    # another layout: a month first, a day inside, the year first
    {"US": "13/01/2020"}, {"US": "00/01/2020"}, {"US": "02/30/2020"}, {"US": "02/29/2019"},
    {"US": "04/31/2020"}, {"US": "01/00/2020"}, {"US": "01/32/2020"}, {"US": "1:/01/2020"},
    {"US": "0:/01/2020"}, {"US": "01/3:/2020"}, {"US": "01/01/0000"}, {"US": "1/01/2020"},
    {"ISO": "0000-01-01"}, {"ISO": "2020-1:-01"}, {"ISO": "2020-00-01"}, {"ISO": "2020-02-30"},
    {"ISO": "202:-01-01"}, {"ISO": "2020-01-0:"}, {"ISO": "2020-01-1"}, {"ISO": "2020/01/01"},
    # date-times and times: no such hour, minute or second
    {"STAMP": "20200101240000"}, {"STAMP": "20200101126000"}, {"STAMP": "20200101120060"},
    {"STAMP": "20200230120000"}, {"STAMP": "20190229101010"}, {"STAMP": "2020010112000a"},
    {"STAMP": "20200101 20000"}, {"STAMP": "2020010112000"}, {"STAMP": "00000101000000"},
    {"STAMP": "202001011:0000"}, {"STAMP": "20200101006:00"}, {"STAMP": "2020010100006:"},
    {"CLOCK": "24:00"}, {"CLOCK": "29:00"}, {"CLOCK": "30:00"}, {"CLOCK": "12:60"},
    {"CLOCK": "2:00"}, {"CLOCK": "1:00 "}, {"CLOCK": "12.00"}, {"CLOCK": "2::00"},
    {"LOCAL": "01.01.2020 24:00:00"}, {"LOCAL": "01.01.2020 2:00:00"},
    {"LOCAL": "01.01.2020 12:00:60"}, {"LOCAL": "31.02.2020 12:00:00"},
    {"LOCAL": "01.01.0000 12:00:00"}, {"LOCAL": "01.13.2020 12:00:00"},
    {"LOCAL": "01.01.2020T12:00:00"}, {"LOCAL": "01.01.2020 1:00:00"},
    {"BRACKET": "[24:00:00]"}, {"BRACKET": "[2:00:00]"}, {"BRACKET": "[12:60:00]"},
    {"BRACKET": "[12:00:6:]"}, {"BRACKET": "(12:00:00)"}, {"BRACKET": "[12:00:00"},
    {"BRACKET": "[1:00:00]"}, {"BRACKET": " [12:00:00]"},
    # flags and codes: none of the declared ones
    {"PAID": "X"}, {"PAID": "y"}, {"PAID": " Y"}, {"PAID": "YY"}, {"PAID": ""}, {"PAID": "Y\t"},
    {"STATUS": "Q"}, {"STATUS": "n"}, {"STATUS": " N"}, {"STATUS": "NP"}, {"STATUS": "new"},
]  # fmt: skip


def _table(name: str) -> sa.Table:
    text_columns = [c for c in MAPPING if c not in ("ID", "CENTS", "UNITS")]
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
        *(
            sa.Column(c, sa.CHAR(12) if c == "FIXED" else sa.String(24), nullable=False)
            for c in text_columns
        ),
        sa.Column("CENTS", sa.BigInteger, nullable=False),
        sa.Column("UNITS", sa.BigInteger, nullable=False),
    )


@pytest.fixture(scope="module")
def odd(backend: Backend) -> Iterator[tuple[DatabaseAdapter, TableInfo, list[dict[str, Any]]]]:
    name = f"JO_{secrets.token_hex(3).upper()}"
    table = _table(name)
    table.create(backend.admin)
    rows = [REAL | {"ID": i} | row for i, row in enumerate([{}, *REAL_ROWS, *BROKEN_ROWS], 1)]
    try:
        with backend.admin.begin() as connection:
            connection.execute(table.insert(), rows)
        spec = backend.spec({name: {"as": "odd", "fields": MAPPING}}, naming="camelCase")
        adapter = DatabaseAdapter("jo", spec)
        try:
            yield adapter, adapter.tables["odd"], rows
        finally:
            adapter.runner.dispose()
    finally:
        table.drop(backend.admin)


def _one(adapter: DatabaseAdapter, table: TableInfo, key: int) -> tuple[bytes | None, bytes]:
    """The row's page as the database writes it (``None``: left to Python) and Python's."""
    query = adapter.rows._query(table, [("fields", ",".join(FIELDS)), ("id", f"eq.{key}")])
    written = asyncio.run(adapter.rows.json_pages.page(table, query))
    return written, dumps(asyncio.run(adapter.rows.page(table, query)))


def test_real_values_written_as_python_writes_them(
    backend: Backend, odd: tuple[DatabaseAdapter, TableInfo, list[dict[str, Any]]]
) -> None:
    adapter, table, rows = odd
    for row in rows[: 1 + len(REAL_ROWS)]:
        written, expected = _one(adapter, table, row["ID"])
        assert orjson.loads(expected)["items"][0]["id"] == row["ID"]
        assert None not in orjson.loads(expected)["items"][0].values(), row  # none broken
        if backend.name in BUILDS:
            assert written == expected, row
        else:
            assert written is None


def test_broken_values_left_to_python(
    backend: Backend, odd: tuple[DatabaseAdapter, TableInfo, list[dict[str, Any]]]
) -> None:
    """Each broken value: the database writes no page, and Python answers the field
    null (``on_broken: null``) and every other field as on the real row."""
    adapter, table, rows = odd
    real = orjson.loads(_one(adapter, table, 1)[1])["items"][0]
    for row, broken in zip(rows[1 + len(REAL_ROWS) :], BROKEN_ROWS, strict=True):
        written, expected = _one(adapter, table, row["ID"])
        assert written is None, broken
        ((column, _),) = broken.items()
        name = MAPPING[column]["as"]
        assert orjson.loads(expected)["items"] == [real | {"id": row["ID"], name: None}], broken


def test_pages_of_many_rows(
    backend: Backend, odd: tuple[DatabaseAdapter, TableInfo, list[dict[str, Any]]]
) -> None:
    """Pages over the real rows are written whole by the database; a page holding a
    broken value is answered by Python; both the same bytes as Python's."""
    adapter, table, _ = odd
    last_real = 1 + len(REAL_ROWS)
    for filters, broken in (([("id", f"le.{last_real}")], False), ([], True)):
        cursor = None
        while True:
            given = [("fields", ",".join(FIELDS)), *filters, ("limit", "7")]
            query = adapter.rows._query(table, given + ([("cursor", cursor)] if cursor else []))
            expected = dumps(asyncio.run(adapter.rows.page(table, query)))
            written = asyncio.run(adapter.rows.json_pages.page(table, query))
            if written is not None or (backend.name in BUILDS and not broken):
                assert written == expected
            cursor = orjson.loads(expected)["next_cursor"]
            if cursor is None:
                break
