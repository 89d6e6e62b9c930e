"""Safety without a backend: statements stay parameterised, builds fail clearly."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql, postgresql, sqlite

from strangler.adapters.db import DatabaseAdapter
from strangler.adapters.db.meta import ColumnInfo, TableInfo
from strangler.adapters.db.odbc import compile_statement, dialect_for
from strangler.adapters.db.query import parse_list_query
from strangler.adapters.db.rows import parse_key
from strangler.adapters.db.statements import select_page
from strangler.adapters.db.values import encode_cursor
from strangler.errors import BadQuery, SystemLoadError
from strangler.spec.database import DatabaseSystem
from tests.adapters.db import chinook
from tests.servers import unused_address

HOSTILE = "x' OR '1'='1'; DROP TABLE t; --"
TABLE = TableInfo(
    "t",
    None,
    (
        ColumnInfo("id", "integer", False, sa.Integer()),
        ColumnInfo("name", "string", True, sa.String(40)),
        ColumnInfo("total", "decimal", False, sa.Numeric(10, 2), scale=2),
        ColumnInfo("meta", "other", True, sa.JSON(), db_type="JSONB"),
    ),
    ("id",),
)
DIALECTS = {
    "mysql": mysql.dialect(paramstyle="qmark"),
    "postgresql": postgresql.dialect(paramstyle="qmark"),
    "sqlite": sqlite.dialect(paramstyle="qmark"),
    "mssql": mssql.dialect(paramstyle="qmark"),
    "odbc": dialect_for("SomeDB", "1.0", "`")[1],
}


@pytest.mark.parametrize("dbms", list(DIALECTS))
def test_hostile_values_only_ever_travel_as_parameters(dbms: str) -> None:
    cursor = encode_cursor("name,id", [HOSTILE, 7])
    query = parse_list_query(
        TABLE,
        [("name", f"eq.{HOSTILE}"), ("name", f"like.{HOSTILE}"), ("name", f'in."{HOSTILE}",b'),
         ("sort", "name"), ("cursor", cursor)],
        default_limit=10,
        max_limit=100,
    )  # fmt: skip
    sql, params = compile_statement(select_page(TABLE, query), DIALECTS[dbms], dbms)
    assert "DROP" not in sql and "'1'" not in sql
    assert params.count(HOSTILE) >= 4  # eq, like, in, and the cursor's value
    assert "?" in sql


def test_the_sqlalchemy_path_binds_too() -> None:
    query = parse_list_query(TABLE, [("name", f"eq.{HOSTILE}")], default_limit=5, max_limit=9)
    for dialect in (postgresql.dialect(), mysql.dialect(), sqlite.dialect()):
        compiled = select_page(TABLE, query).compile(dialect=dialect)
        assert "DROP" not in compiled.string and HOSTILE in compiled.params.values()


def test_unknown_databases_use_the_drivers_quote_character() -> None:
    table = sa.table("Orders", sa.column("Order Id"), schema=None)
    statement = sa.select(table.c["Order Id"]).where(table.c["Order Id"] == 5).limit(3)
    sql, params = compile_statement(statement, DIALECTS["odbc"], "odbc")
    assert "`Order Id`" in sql and "`Orders`" in sql and params == [5, 3]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("name", "eq.a"), ("sort", "name"), ("cursor", "!!!")], "cursor"),
        ([("cursor", encode_cursor("id", ["1; DROP"]))], "cursor"),
        ([("cursor", encode_cursor("id", [True]))], "cursor"),
        ([("cursor", base64.urlsafe_b64encode(json.dumps([1]).encode()).decode())], "cursor"),
        ([("cursor", "A" * 5000)], "cursor"),
        ([("limit", "5"), ("limit", "6")], "limit"),
        ([("total", "in." + ",".join(["1"] * 1001))], "total"),
        ([("total", "in.1,abc")], "total"),
        ([("sort", ",")], "sort"),
        ([("meta", "eq.{}")], "meta"),
        ([("sort", "meta")], "sort"),
        ([("total", "like.1%")], "total"),
    ],
)
def test_query_refusals(params: list[tuple[str, str]], field: str) -> None:
    with pytest.raises(BadQuery) as caught:
        parse_list_query(TABLE, params, default_limit=5, max_limit=50)
    assert field in [p.path for p in caught.value.problems]


def test_keys_parse_per_column() -> None:
    table = TableInfo("pt", None, TABLE.columns, ("id", "name"))
    assert parse_key(table, '7,"a,b"') == (7, "a,b")
    with pytest.raises(BadQuery):
        parse_key(table, "7")


def _sqlite(tmp_path: Path, odbc: bool = False, **fields: object) -> DatabaseSystem:
    path = chinook.copy_sqlite(tmp_path)
    where = (
        {"odbc": f"DRIVER={{SQLite3}};Database={path}"} if odbc else {"url": f"sqlite:///{path}"}
    )
    return DatabaseSystem.model_validate({"kind": "database", **where, **fields})


def test_every_table_read_only_when_the_spec_lists_none(tmp_path: Path) -> None:
    adapter = DatabaseAdapter("all", _sqlite(tmp_path))
    assert len(adapter.tables) == 11 and not any(t.writes for t in adapter.tables.values())
    assert adapter.tables["PlaylistTrack"].key == ("PlaylistId", "TrackId")


def test_table_names_match_case_insensitively(tmp_path: Path) -> None:
    adapter = DatabaseAdapter("ci", _sqlite(tmp_path, tables=["invoice"]))
    assert adapter.tables["invoice"].sql_name == "Invoice"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tables": ["NoSuchTable"]}, "no table or view 'NoSuchTable'"),
        ({"tables": {"Invoice": {"key": ["Nope"]}}}, "has no column 'Nope'"),
        ({"tables": {"Invoice": {"columns": ["Total"]}}}, "has no column|key"),
        ({"procedures": {"p": {}}}, "SQLite has no stored procedures"),
    ],
)
@pytest.mark.parametrize("odbc", [False, True], ids=["sqlalchemy", "odbc"])
def test_build_refuses_a_spec_that_does_not_fit(
    tmp_path: Path, odbc: bool, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(SystemLoadError, match=message):
        DatabaseAdapter("shop", _sqlite(tmp_path, odbc, **fields))


def test_a_keyless_view_needs_a_key(tmp_path: Path) -> None:
    spec = _sqlite(tmp_path)
    engine = sa.create_engine(spec.url.get_secret_value())  # type: ignore[union-attr]
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE VIEW v AS SELECT 1 AS a")
    engine.dispose()
    path = spec.url.get_secret_value()  # type: ignore[union-attr]
    with pytest.raises(SystemLoadError, match="no primary key"):
        DatabaseAdapter("v", DatabaseSystem(kind="database", url=path, tables={"v": {}}))
    adapter = DatabaseAdapter(
        "v", DatabaseSystem(kind="database", url=path, tables={"v": {"key": ["a"]}})
    )
    assert adapter.tables["v"].key == ("a",)


@pytest.mark.parametrize(
    "connection",
    [
        {"url": "postgresql+psycopg://postgres@127.0.0.1:{port}/x"},
        {"url": "mysql+pyodbc://root@127.0.0.1:{port}/x?driver=MariaDB+Unicode"},
        {"odbc": "DRIVER={{MariaDB Unicode}};SERVER=127.0.0.1;PORT={port};UID=root;PWD=secret"},
    ],
)
def test_unreachable_database_at_build_is_a_load_error(connection: dict[str, str]) -> None:
    port = unused_address().rsplit(":", 1)[1]
    fields = {k: v.format(port=port) for k, v in connection.items()}
    with pytest.raises(SystemLoadError) as caught:
        DatabaseAdapter("gone", DatabaseSystem.model_validate({"kind": "database", **fields}))
    assert "gone" in str(caught.value) and "cannot be reached" in str(caught.value)
    assert "secret" not in str(caught.value)
