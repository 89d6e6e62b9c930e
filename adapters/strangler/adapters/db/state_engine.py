"""Engines for strangler's own state databases (the outbox, feature tables, logs).

Any SQLAlchemy URL works; two backends get settings of their own:

* PostgreSQL sessions run in UTC, so times read back without a zone mean UTC;
* SQLite runs in WAL mode (readers never wait for the writer), waits up to
  30 s for a lock instead of failing with "database is locked", and takes the
  write lock when a transaction begins, so two writers queue instead of
  deadlocking on a lock upgrade. A connection whose execution options carry
  ``strangler_reads=True`` only reads and begins without the write lock.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["READS", "state_engine"]

READS = {"strangler_reads": True}
"""Execution options of a connection that only reads (SQLite: no write lock)."""


def state_engine(url: str | sa.URL) -> sa.Engine:
    """An engine for a state database at ``url`` (see the module)."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return sa.create_engine(parsed, connect_args={"options": "-c timezone=UTC"})
    if backend == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(parsed)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions begin where SQLAlchemy says
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    reads = connection.get_execution_options().get("strangler_reads", False)
    connection.exec_driver_sql("BEGIN" if reads else "BEGIN IMMEDIATE")
