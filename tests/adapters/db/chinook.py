"""Chinook in every test database, plus the few objects the contract suite adds.

* SQLite: a copy of ``tests/data/chinook/Chinook_Sqlite.sqlite``;
* MariaDB: the SQLite tables copied with SQLAlchemy (multi-row inserts);
* PostgreSQL: ``Chinook_PostgreSql.sql`` run as is (snake_case names).

Each database is uniquely named (``strangler_test_<hex>``) and dropped at the
end, since CI reuses the servers. Extras: a writable ``scratch_note`` table, a
``slow_view`` that runs for seconds (timeouts), and an
``invoices_by_country`` procedure (MariaDB) / function (PostgreSQL). Legacy
features (``add_legacy``): a table whose name has a space, integer columns of
every width, timestamps with milliseconds tied across page boundaries (stored
as text on SQLite), decimals at scale 10 and SQLite's scale-less NUMERIC;
on PostgreSQL domains, ``money``, ``bool`` and a second schema; on MariaDB a
second database the account sees.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import psycopg
import sqlalchemy as sa

__all__ = [
    "CHINOOK",
    "LEGACY_AMOUNTS",
    "LEGACY_TIES",
    "MARIADB_ADMIN",
    "POSTGRES_ADMIN",
    "add_extras",
    "add_legacy",
    "copy_sqlite",
    "create_mariadb",
    "create_mariadb_neighbour",
    "create_postgres",
    "drop_mariadb",
    "drop_postgres",
    "legacy_time",
    "unique_name",
]

CHINOOK = Path(__file__).resolve().parents[2] / "data" / "chinook"
MARIADB_ADMIN = "mysql+pyodbc://root@127.0.0.1/mysql?driver=MariaDB+Unicode&port=3306"
POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
_BATCH = 500


def unique_name() -> str:
    return f"strangler_test_{secrets.token_hex(4)}"


def copy_sqlite(folder: Path) -> Path:
    """A writable copy of the Chinook SQLite file."""
    target = folder / f"{unique_name()}.sqlite"
    shutil.copyfile(CHINOOK / "Chinook_Sqlite.sqlite", target)
    target.chmod(0o644)
    return target


def create_mariadb(name: str) -> None:
    """A MariaDB database ``name`` holding Chinook, copied from the SQLite file."""
    admin = sa.create_engine(MARIADB_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    source = sa.create_engine(f"sqlite:///{CHINOOK / 'Chinook_Sqlite.sqlite'}")
    target = sa.create_engine(mariadb_url(name), poolclass=sa.NullPool)
    metadata = sa.MetaData()
    metadata.reflect(source)
    with source.connect() as read, target.begin() as write:
        metadata.create_all(write)
        for table in metadata.sorted_tables:
            rows = [dict(r._mapping) for r in read.execute(table.select())]
            for start in range(0, len(rows), _BATCH):
                write.execute(table.insert().values(rows[start : start + _BATCH]))
    source.dispose()


def mariadb_url(name: str, port: int = 3306) -> str:
    return f"mysql+pyodbc://root@127.0.0.1/{name}?driver=MariaDB+Unicode&port={port}"


def create_mariadb_neighbour(name: str) -> str:
    """A second database beside ``name`` that the same account sees (its name)."""
    other = f"{name}_other"
    admin = sa.create_engine(MARIADB_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE `{other}`")
        connection.exec_driver_sql(f"CREATE TABLE `{other}`.other_thing (id INT PRIMARY KEY)")
    return other


def drop_mariadb(name: str) -> None:
    admin = sa.create_engine(MARIADB_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")


def create_postgres(name: str) -> None:
    """A PostgreSQL database ``name`` holding Chinook, from the upstream script."""
    script = (CHINOOK / "Chinook_PostgreSql.sql").read_text(encoding="utf-8")
    body = script.split("\\c chinook;", 1)[1]  # the part after "create and connect"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"{POSTGRES_ADMIN} dbname={name}", autocommit=True) as connection:
        connection.execute(body)


def drop_postgres(name: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_extras(engine: sa.Engine) -> None:
    """The scratch table, the slow view and (where there are procedures) the procedure."""
    metadata = sa.MetaData()
    sa.Table(
        "scratch_note",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(40), nullable=False),
        sa.Column("amount", sa.Numeric(10, 2)),
        sa.Column("code", sa.CHAR(5)),
        sa.Column("noted_at", sa.DateTime),
        sa.Column("payload", sa.LargeBinary),
    )
    dialect = engine.dialect.name
    statements = [_SLOW_VIEW[dialect]]
    if dialect in _PROCEDURE:
        statements.append(_PROCEDURE[dialect])
    with engine.begin() as connection:
        metadata.create_all(connection)
        for statement in statements:
            connection.exec_driver_sql(statement)


_SLOW_VIEW = {
    "postgresql": "CREATE VIEW slow_view AS SELECT 1 AS id, pg_sleep(10)::text AS slept",
    "mysql": "CREATE VIEW slow_view AS SELECT 1 AS id, SLEEP(10) AS slept",
    "sqlite": (
        "CREATE VIEW slow_view AS SELECT 1 AS id, (WITH RECURSIVE c(x) AS "
        "(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
        "SELECT count(*) FROM c) AS slept"
    ),
}

_PROCEDURE = {
    "postgresql": (
        "CREATE FUNCTION invoices_by_country(country text) "
        "RETURNS TABLE(invoice_id int, total numeric) LANGUAGE sql STABLE AS $$ "
        "SELECT invoice_id, total FROM invoice WHERE billing_country = country "
        "ORDER BY invoice_id $$"
    ),
    "mysql": (
        "CREATE PROCEDURE invoices_by_country(IN country VARCHAR(40)) "
        "SELECT InvoiceId, Total FROM Invoice WHERE BillingCountry = country "
        "ORDER BY InvoiceId"
    ),
}


# The legacy features the audit met in sample databases nobody here has seen,
# made the way old schemas make them (one statement list per dialect).
LEGACY_TIES = 10
"""Rows sharing each timestamp of ``legacy_times`` (83 instants, 830 rows)."""

_LEGACY_COMMON = {
    "postgresql": [
        'CREATE TABLE "Odd Keys" (code VARCHAR(40) PRIMARY KEY, note VARCHAR(40))',
        "CREATE TABLE legacy_ranges (id INTEGER PRIMARY KEY, small SMALLINT, big BIGINT)",
        "CREATE TABLE legacy_times (id INTEGER PRIMARY KEY, at TIMESTAMP(3) NOT NULL)",
        "CREATE TABLE legacy_amounts (id INTEGER PRIMARY KEY, fine NUMERIC(20,10))",
    ],
    "mysql": [
        "CREATE TABLE `Odd Keys` (code VARCHAR(40) PRIMARY KEY, note VARCHAR(40))",
        "CREATE TABLE legacy_ranges (id INTEGER PRIMARY KEY, small SMALLINT, big BIGINT,"
        " tiny_u TINYINT UNSIGNED)",
        "CREATE TABLE legacy_times (id INTEGER PRIMARY KEY, at DATETIME(3) NOT NULL)",
        "CREATE TABLE legacy_amounts (id INTEGER PRIMARY KEY, fine NUMERIC(20,10))",
    ],
    "sqlite": [
        'CREATE TABLE "Odd Keys" (code VARCHAR(40) PRIMARY KEY, note VARCHAR(40))',
        "CREATE TABLE legacy_ranges (id INTEGER PRIMARY KEY, small SMALLINT, big BIGINT)",
        "CREATE TABLE legacy_times (id INTEGER PRIMARY KEY, at DATETIME NOT NULL)",
        # NUMERIC without a scale and a declared scale the data does not keep to
        "CREATE TABLE legacy_amounts (id INTEGER PRIMARY KEY, fine NUMERIC(20,10),"
        " loose NUMERIC, priced NUMERIC(10,2))",
    ],
}
_LEGACY_PG = [
    "CREATE DOMAIN empid AS VARCHAR(6)",  # how old schemas model sp_addtype
    "CREATE DOMAIN quantity AS SMALLINT CHECK (VALUE >= 0)",
    "CREATE TABLE legacy_pg (id empid PRIMARY KEY, price MONEY, flag BOOL, qty quantity,"
    " loose NUMERIC)",
    "INSERT INTO legacy_pg VALUES ('A1', 19.99, true, 5, 3), ('A2', 0.01, false, 6, 2.5),"
    " ('B3', 25.00, true, 7, 100)",
    "CREATE SCHEMA other_schema",
    "CREATE TABLE other_schema.other_thing (id INTEGER PRIMARY KEY)",
]
LEGACY_AMOUNTS = [(1, "0"), (2, "0.0000001234"), (3, "12.5")]
_SQLITE_AMOUNTS = {1: ("14.0", "2.5"), 2: ("32.38", "1.985"), 3: ("0.1", "7")}


def legacy_time(i: int) -> str:
    """The stored text of row ``i``'s timestamp (with milliseconds, as legacy data has)."""
    second = (i * 7) % (830 // LEGACY_TIES)
    return f"1996-07-04 00:{second // 60:02d}:{second % 60:02d}.000"


def add_legacy(engine: sa.Engine) -> None:
    """The legacy tables (see ``_LEGACY_COMMON``); PostgreSQL's own types besides."""
    dialect = engine.dialect.name
    statements = list(_LEGACY_COMMON[dialect])
    if dialect == "postgresql":
        statements += _LEGACY_PG
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
        times = sa.table("legacy_times", sa.column("id"), sa.column("at"))
        rows = [{"id": i, "at": legacy_time(i)} for i in range(1, 831)]
        connection.execute(times.insert(), rows)
        for key, fine in LEGACY_AMOUNTS:
            values = f"{key}, {fine}"
            if dialect == "sqlite":
                values += ", " + ", ".join(_SQLITE_AMOUNTS[key])
            connection.exec_driver_sql(f"INSERT INTO legacy_amounts VALUES ({values})")
