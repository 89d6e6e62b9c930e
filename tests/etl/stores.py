"""Fresh databases for the feature-store tests: PostgreSQL, MariaDB and SQLite.

Each database has a unique name and is dropped when the test module is done, so
the machine's servers keep nothing of a run.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import sqlalchemy as sa

__all__ = ["DIALECTS", "fresh_database"]

DIALECTS = ("postgresql", "mariadb", "sqlite")
_POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
_MARIADB_ADMIN = "mysql+pyodbc://root@127.0.0.1/mysql?driver=MariaDB+Unicode&port=3306"


@contextlib.contextmanager
def fresh_database(dialect: str, folder: Path) -> Iterator[str]:
    """A new, empty database of ``dialect``; yields its SQLAlchemy URL."""
    name = f"strangler_etl_test_{secrets.token_hex(4)}"
    if dialect == "postgresql":
        with psycopg.connect(_POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            with psycopg.connect(_POSTGRES_ADMIN, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    elif dialect == "mariadb":
        admin = sa.create_engine(
            _MARIADB_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
        )
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield f"mysql+pyodbc://root@127.0.0.1/{name}?driver=MariaDB+Unicode&port=3306"
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    elif dialect == "sqlite":
        path = folder / f"{name}.sqlite"
        try:
            yield f"sqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)
    else:
        raise ValueError(dialect)
