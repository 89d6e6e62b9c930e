"""The raw ODBC path: pyodbc connections, for drivers without a SQLAlchemy dialect.

Statements are still built with SQLAlchemy Core and compiled with ``?``
placeholders by the dialect matching the driver's ``SQL_DBMS_NAME`` (a generic
one, quoting with the driver's quote character, for unknown databases); values
travel only as parameters. Blocking calls run in the adapter's thread pool on
an :class:`OdbcPool`; statements running past the timeout are cancelled with
``SQLCancel`` by the watchdog.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pyodbc  # type: ignore[import-not-found, unused-ignore]  # its .pyi is not PEP 561
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.sql import compiler

from strangler.adapters.db.catalog import OdbcReader, build_tables
from strangler.adapters.db.failures import translate
from strangler.adapters.db.meta import TableInfo
from strangler.adapters.db.odbc_decimals import decimals_as_text, reads_decimals_as_text
from strangler.adapters.db.odbc_pool import OdbcPool, PoolTimeout
from strangler.adapters.db.runner import Rows, Statement, ThreadedRunner, Watchdog, first_rows
from strangler.adapters.db.types import sqlite_text
from strangler.errors import LegacyUnavailable, StranglerError, SystemLoadError
from strangler.spec.database import DatabaseSystem

__all__ = ["OdbcRunner", "compile_statement", "dialect_for", "mask_odbc"]

T = TypeVar("T")
_LAST_ID = {
    "mysql": "SELECT LAST_INSERT_ID()",
    "sqlite": "SELECT last_insert_rowid()",
    "mssql": "SELECT SCOPE_IDENTITY()",
    "postgresql": "SELECT lastval()",
}


def mask_odbc(text: str) -> str:
    """An ODBC connection string with its password replaced by ``***``."""
    parts = [p for p in text.split(";") if p]
    return ";".join(
        f"{p.partition('=')[0]}=***" if p.partition("=")[0].strip().upper() in ("PWD", "PASSWORD")
        else p
        for p in parts
    )  # fmt: skip


def dialect_for(dbms_name: str, version: str, quote: str) -> tuple[str, Dialect]:
    """A short DBMS name and a ``qmark`` dialect to compile statements for it."""
    from sqlalchemy.dialects.mssql.base import MSDialect
    from sqlalchemy.dialects.mysql.base import MySQLDialect
    from sqlalchemy.dialects.postgresql.base import PGDialect
    from sqlalchemy.dialects.sqlite.base import SQLiteDialect

    name = dbms_name.lower()
    known: list[tuple[str, str, type[DefaultDialect]]] = [
        ("mariadb", "mysql", MySQLDialect),
        ("mysql", "mysql", MySQLDialect),
        ("postgres", "postgresql", PGDialect),
        ("sqlite", "sqlite", SQLiteDialect),
        ("sql server", "mssql", MSDialect),
    ]
    for needle, short, cls in known:
        if needle in name:
            dialect = cls(paramstyle="qmark")
            numbers = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
            dialect.server_version_info = numbers or None
            return short, dialect
    dialect = DefaultDialect(paramstyle="qmark")
    if quote.strip():
        dialect.identifier_preparer = compiler.IdentifierPreparer(dialect, quote.strip())
    return "odbc", dialect


def compile_statement(statement: Statement, dialect: Dialect, dbms: str) -> tuple[str, list[Any]]:
    """SQL text with ``?`` marks, and the values in mark order."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    if dbms == "sqlite":
        params = [sqlite_text(p) for p in params]
    return compiled.string, params


class OdbcRunner(ThreadedRunner):
    """Runs work on pooled pyodbc connections made from the spec's ``odbc`` string."""

    def __init__(self, system: str, spec: DatabaseSystem) -> None:
        assert spec.odbc is not None
        self.system = system
        self.spec = spec
        self.dbms = "odbc"
        self.dialect: Dialect = DefaultDialect(paramstyle="qmark")
        self.watchdog = Watchdog(f"db-{system}-watchdog")
        self.pool = OdbcPool(
            self._connect, self._ping, size=spec.pool_size, timeout_s=spec.pool_timeout_s
        )

    def describe(self) -> str:
        assert self.spec.odbc is not None
        return mask_odbc(self.spec.odbc.get_secret_value())

    def _connect(self) -> pyodbc.Connection:
        assert self.spec.odbc is not None
        timeout = math.ceil(self.spec.connect_timeout_s)
        connection = pyodbc.connect(
            self.spec.odbc.get_secret_value(), autocommit=False, timeout=timeout
        )
        name = str(connection.getinfo(pyodbc.SQL_DBMS_NAME)).lower()
        if reads_decimals_as_text("mysql" if "mariadb" in name else name):
            decimals_as_text(connection)  # MariaDB's own DECIMAL path leaks
        return connection

    def _probe(self) -> None:
        try:
            connection = self._connect()
            try:
                self._ping(connection)  # connecting is the check where SELECT 1 is not SQL
            finally:
                connection.close()
        except pyodbc.Error as exc:
            raise self._translate(exc, "ping", False) from exc

    def _ping(self, connection: pyodbc.Connection) -> None:
        if self.dbms != "odbc":  # "SELECT 1" is not valid everywhere (Oracle, DB2)
            connection.cursor().execute("SELECT 1").fetchall()
            connection.rollback()

    def reflect(self) -> list[TableInfo]:
        def work(session: _Session) -> list[TableInfo]:
            connection = session.connection
            self.dbms, self.dialect = dialect_for(
                str(connection.getinfo(pyodbc.SQL_DBMS_NAME)),
                str(connection.getinfo(pyodbc.SQL_DBMS_VER)),
                str(connection.getinfo(pyodbc.SQL_IDENTIFIER_QUOTE_CHAR)),
            )
            reader = OdbcReader(connection, self.dbms, self.spec.db_schema, self.dialect)
            try:
                return build_tables(reader, self.spec)
            except ValueError as exc:  # the spec does not fit the database
                raise SystemLoadError(self.system, self.describe(), str(exc)) from exc

        return self._run(work, "reflect", False)

    def _release(self) -> None:
        self.pool.invalidate()

    def _run(self, work: Callable[[Any], T], operation: str, write: bool) -> T:
        try:
            pooled = self.pool.acquire()
        except PoolTimeout as exc:
            raise LegacyUnavailable(
                f"{self.system}: {exc}",
                system=self.system,
                operation=operation,
                retry_after_s=self.spec.retry_after_s,
            ) from exc
        except pyodbc.Error as exc:
            raise self._translate(exc, operation, False) from exc
        session = _Session(self, pooled.connection)
        broken = False
        try:
            result = work(session)
            (pooled.connection.commit if write else pooled.connection.rollback)()
            return result
        except StranglerError:
            broken = not _rollback(pooled.connection)
            raise
        except Exception as exc:
            error = self._translate(exc, operation, session.timed_out)
            broken = isinstance(error, LegacyUnavailable) or not _rollback(pooled.connection)
            if isinstance(error, LegacyUnavailable):
                self.pool.invalidate()
            raise error from exc
        finally:
            self.pool.release(pooled, broken=broken)

    def _translate(self, exc: BaseException, operation: str, timed_out: bool) -> StranglerError:
        return translate(
            exc,
            system=self.system,
            operation=operation,
            timed_out=timed_out,
            retry_after_s=self.spec.retry_after_s,
        )


def _rollback(connection: pyodbc.Connection) -> bool:
    try:
        connection.rollback()
        return True
    except pyodbc.Error:
        return False


class _Session:
    """One pooled pyodbc connection in one transaction (see ``runner.Session``)."""

    def __init__(self, runner: OdbcRunner, connection: pyodbc.Connection) -> None:
        self._runner = runner
        self.connection = connection
        self.timed_out = False

    def fetch(self, statement: Statement) -> list[tuple[Any, ...]]:
        return self._run(statement, lambda c: [tuple(r) for r in c.fetchall()])

    def fetch_plain(
        self, statement: sa.Select[Any], parameters: Mapping[str, Any] | None = None
    ) -> tuple[list[tuple[Any, ...]], Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
        if parameters:
            statement = statement.params(dict(parameters))
        return self.fetch(statement), _as_is

    def execute(self, statement: Statement) -> int:
        return self._run(statement, lambda c: int(c.rowcount))

    def inserted_key(self, table: TableInfo) -> tuple[Any, ...] | None:
        query = _LAST_ID.get(self._runner.dbms)
        if query is None or len(table.key) != 1:
            return None
        rows = self._run(sa.text(query), lambda c: c.fetchall())
        return (rows[0][0],) if rows and rows[0][0] is not None else None

    def call(self, statement: Statement) -> Rows:
        def first_set(cursor: pyodbc.Cursor) -> Rows:
            while cursor.description is None:
                if not cursor.nextset():
                    return [], []
            result = first_rows(cursor.description, cursor.fetchall())
            while cursor.nextset():  # drain the call's status result(s)
                pass
            return result

        return self._run(statement, first_set)

    def _run(self, statement: Statement, consume: Callable[[pyodbc.Cursor], T]) -> T:
        sql, params = compile_statement(statement, self._runner.dialect, self._runner.dbms)
        cursor = self.connection.cursor()
        timeout = self._runner.spec.statement_timeout_s
        watch = self._runner.watchdog.arm(timeout, cursor.cancel) if timeout else None
        try:
            cursor.execute(sql, params)
            return consume(cursor)
        finally:
            if watch is not None:
                self._runner.watchdog.disarm(watch)
                self.timed_out = self.timed_out or watch.fired
            with contextlib.suppress(pyodbc.Error):
                cursor.close()


def _as_is(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row
