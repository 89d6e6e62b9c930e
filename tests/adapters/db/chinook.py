"""Chinook in every test database, plus the few objects the contract suite adds.

* SQLite: a copy of ``tests/data/chinook/Chinook_Sqlite.sqlite``;
* MariaDB: the SQLite tables copied with SQLAlchemy (multi-row inserts);
* PostgreSQL: ``Chinook_PostgreSql.sql`` run as is (snake_case names).

Each database is uniquely named (``strangler_test_<hex>``) and dropped at the
end, since CI reuses the servers. Extras: a writable ``scratch_note`` table, a
``slow_view`` that runs for seconds (timeouts), and an
``invoices_by_country`` procedure (MariaDB) / function (PostgreSQL).
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import psycopg
import sqlalchemy as sa

__all__ = [
    "CHINOOK",
    "MARIADB_ADMIN",
    "POSTGRES_ADMIN",
    "add_extras",
    "copy_sqlite",
    "create_mariadb",
    "create_postgres",
    "drop_mariadb",
    "drop_postgres",
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
