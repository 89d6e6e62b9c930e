"""The SQLAlchemy path: a pooled engine, used from the adapter's thread pool.

Statement timeouts: PostgreSQL gets ``statement_timeout`` as a connection
option (the server cancels); pyodbc connections (MariaDB, SQL Server, …) and
SQLite are cancelled by the watchdog (``SQLCancel`` / ``sqlite3_interrupt``).
Stale pooled connections are found by a pre-ping, so the adapter recovers on
its own when a database comes back.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pyodbc  # type: ignore[import-not-found, unused-ignore]  # its .pyi is not PEP 561
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import CursorResult

from strangler.adapters.db.catalog import SqlAlchemyReader, build_tables
from strangler.adapters.db.failures import is_connection_failure, translate
from strangler.adapters.db.meta import TableInfo
from strangler.adapters.db.odbc_decimals import decimals_as_text, reads_decimals_as_text
from strangler.adapters.db.runner import Rows, Statement, ThreadedRunner, Watchdog
from strangler.errors import StranglerError
from strangler.observability.pools import watch_pool
from strangler.spec.database import DatabaseSystem

__all__ = ["SqlAlchemyRunner"]

T = TypeVar("T")
_CURSOR = "strangler_cursor"


class SqlAlchemyRunner(ThreadedRunner):
    """Runs work on a SQLAlchemy engine built from the spec's ``url``."""

    def __init__(self, system: str, spec: DatabaseSystem) -> None:
        assert spec.url is not None
        self.system = system
        self.spec = spec
        self.url = _existing_sqlite_file(_odbc_port(sa.make_url(spec.url.get_secret_value())))
        self.engine = sa.create_engine(self.url, **_engine_args(self.url, spec))
        self.dialect = self.engine.dialect
        # One read-only statement needs no transaction of its own: on PostgreSQL
        # autocommit spares a BEGIN and a ROLLBACK round trip per request.
        self._reads = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect.name == "postgresql"
            else self.engine
        )
        self.dbms = "mysql" if self.dialect.name in ("mysql", "mariadb") else self.dialect.name
        self.watchdog = Watchdog(f"db-{system}-watchdog")
        self._probe_engine: sa.Engine | None = None
        event.listen(self.engine, "before_cursor_execute", _remember_cursor)
        event.listen(self.engine, "handle_error", _mark_disconnect)
        event.listen(self.engine, "checkin", _note_checkin)
        event.listen(self.engine, "checkout", _ping_if_idle(self.engine.dialect))
        if self.dialect.driver == "pyodbc" and reads_decimals_as_text(self.dbms):
            event.listen(self.engine, "connect", _decimals_as_text)
        watch_pool(system, "db", self, _pool_usage)

    def describe(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def reflect(self) -> list[TableInfo]:
        try:
            return build_tables(SqlAlchemyReader(self.engine, self.spec.db_schema), self.spec)
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise translate(exc, system=self.system, operation="reflect") from exc

    def _probe(self) -> None:
        try:
            with self._prober().connect() as connection:
                connection.execute(sa.select(sa.literal(1))).fetchall()
        except Exception as exc:
            raise translate(
                exc, system=self.system, operation="ping", retry_after_s=self.spec.retry_after_s
            ) from exc

    def _prober(self) -> sa.Engine:
        """An engine without a pool, for :meth:`ping` (made on first use)."""
        if self._probe_engine is None:
            args = _engine_args(self.url, self.spec)
            self._probe_engine = sa.create_engine(
                self.url, poolclass=sa.pool.NullPool, connect_args=args["connect_args"]
            )
        return self._probe_engine

    def _release(self) -> None:
        self.engine.dispose()
        if self._probe_engine is not None:
            self._probe_engine.dispose()

    def _run(self, work: Callable[[Any], T], operation: str, write: bool) -> T:
        return self._run_on(self.engine, work, operation, write)

    def _run_read(self, work: Callable[[Any], T], operation: str) -> T:
        return self._run_on(self._reads, work, operation, False)

    def _run_on(
        self, engine: sa.Engine, work: Callable[[Any], T], operation: str, write: bool
    ) -> T:
        session: _Session | None = None
        try:
            with engine.connect() as connection:
                session = _Session(self, connection)
                result = work(session)
                if write:
                    connection.commit()
                return result
        except StranglerError:
            raise
        except Exception as exc:
            raise translate(
                exc,
                system=self.system,
                operation=operation,
                timed_out=session is not None and session.timed_out,
                retry_after_s=self.spec.retry_after_s,
            ) from exc


class _Session:
    """One pooled connection in one transaction (see ``runner.Session``)."""

    def __init__(self, runner: SqlAlchemyRunner, connection: sa.Connection) -> None:
        self._runner = runner
        self._connection = connection
        self._last: CursorResult[Any] | None = None
        self.timed_out = False

    def fetch(self, statement: Statement) -> list[tuple[Any, ...]]:
        return self._timed(lambda: list(self._connection.execute(statement).all()))

    def fetch_plain(
        self, statement: sa.Select[Any], parameters: Mapping[str, Any] | None = None
    ) -> tuple[list[tuple[Any, ...]], Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
        """The driver's rows; SQLAlchemy's row objects cost about 0.3 µs a row, which
        a page whose rows are JSON text needs only for its last row's sort values."""

        def run() -> tuple[list[tuple[Any, ...]], Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
            result = self._connection.execute(statement, dict(parameters) if parameters else None)
            try:
                cursor = result.cursor
                rows: list[tuple[Any, ...]] = list(cursor.fetchall())
                types = [column.type for column in statement.selected_columns]
                dialect = self._connection.dialect
                processors = [
                    kind.result_processor(dialect, described[1])
                    for kind, described in zip(types, cursor.description, strict=True)
                ]
            finally:
                result.close()

            def processed(row: tuple[Any, ...]) -> tuple[Any, ...]:
                return tuple(
                    value if step is None or value is None else step(value)
                    for step, value in zip(processors, row, strict=True)
                )

            return rows, processed

        return self._timed(run)

    def execute(self, statement: Statement) -> int:
        self._last = self._timed(lambda: self._connection.execute(statement))
        return int(self._last.rowcount)

    def inserted_key(self, table: TableInfo) -> tuple[Any, ...] | None:
        try:
            key = self._last.inserted_primary_key if self._last is not None else None
        except sa.exc.InvalidRequestError:
            return None
        return None if key is None or any(v is None for v in key) else tuple(key)

    def call(self, statement: Statement) -> Rows:
        def run() -> Rows:
            result = self._connection.execute(statement)
            if not result.returns_rows:
                return [], []
            return list(result.keys()), [tuple(r) for r in result.fetchall()]

        return self._timed(run)

    def _timed(self, action: Callable[[], T]) -> T:
        timeout = self._runner.spec.statement_timeout_s
        cancel = self._canceller()
        if timeout is None or cancel is None:
            return action()
        watch = self._runner.watchdog.arm(timeout, cancel)
        try:
            return action()
        finally:
            self._runner.watchdog.disarm(watch)
            self.timed_out = self.timed_out or watch.fired

    def _canceller(self) -> Callable[[], object] | None:
        dbapi = self._connection.connection.dbapi_connection
        if isinstance(dbapi, sqlite3.Connection):
            return dbapi.interrupt
        if isinstance(dbapi, pyodbc.Connection):
            info = self._connection.info
            return lambda: info[_CURSOR].cancel() if _CURSOR in info else None
        return None  # PostgreSQL: the server's statement_timeout


def _decimals_as_text(dbapi_connection: Any, record: Any) -> None:
    decimals_as_text(dbapi_connection)  # MariaDB's own DECIMAL path leaks (.odbc_decimals)


def _remember_cursor(
    conn: sa.Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
) -> None:
    conn.info[_CURSOR] = cursor


def _mark_disconnect(context: sa.engine.ExceptionContext) -> None:
    """Tell SQLAlchemy about lost connections its dialect does not recognise (MariaDB's
    ODBC driver raises plain ``pyodbc.Error``), so the pool drops them, pre-ping too."""
    if not context.is_disconnect and is_connection_failure(context.original_exception):
        context.is_disconnect = True


IDLE_PING_S = 1.0
"""A pooled connection idle for longer is pinged before use; busy ones are not."""
_CHECKIN = "strangler_checkin"


def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info[_CHECKIN] = time.monotonic()


def _ping_if_idle(dialect: sa.Dialect) -> Callable[[Any, Any, Any], None]:
    """Like ``pool_pre_ping``, but only for connections idle for over ``IDLE_PING_S``.

    A ping is a round trip per request; under load connections are never idle
    that long, while one left in the pool across an outage is checked first. A
    connection that died within the last second fails its request (503, and the
    pool is invalidated as a disconnect), and the next request gets a new one.
    """

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        last = record.info.get(_CHECKIN)
        if last is None or time.monotonic() - last <= IDLE_PING_S:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc
        if not alive:
            raise sa.exc.DisconnectionError("ping failed")

    return checkout


def _odbc_port(url: sa.URL) -> sa.URL:
    """``mysql+pyodbc://h:3307/db``: pass the port as ``PORT=`` (MariaDB's driver
    ignores SQLAlchemy's ``Server=h,3307`` form and silently uses 3306)."""
    if url.get_driver_name() != "pyodbc" or url.get_backend_name() not in ("mysql", "mariadb"):
        return url
    if url.port is None or "port" in url.query:
        return url
    return url.set(port=None).update_query_dict({"port": str(url.port)})


def _existing_sqlite_file(url: sa.URL) -> sa.URL:
    """Open a SQLite file read-write but never create it.

    A legacy database whose file is gone is down, not empty: without this,
    SQLite would make a new empty file and every table would fail (or worse,
    answer nothing) while health checks said ok.
    """
    database = url.database or ""
    if (
        url.get_backend_name() != "sqlite"
        or url.get_driver_name() != "pysqlite"
        or database in ("", ":memory:")
        or database.startswith("file:")
        or "mode" in url.query
    ):
        return url
    return url.set(database=f"file:{database}").update_query_dict({"mode": "rw", "uri": "true"})


def _engine_args(url: sa.URL, spec: DatabaseSystem) -> dict[str, Any]:
    args: dict[str, Any] = {"pool_pre_ping": False}  # see _ping_if_idle
    memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if not memory:
        args.update(pool_size=spec.pool_size, max_overflow=0, pool_timeout=spec.pool_timeout_s)
    connect: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect["connect_timeout"] = max(2, math.ceil(spec.connect_timeout_s))
        if spec.statement_timeout_s is not None:
            connect["options"] = f"-c statement_timeout={int(spec.statement_timeout_s * 1000)}"
    elif url.get_driver_name() == "pyodbc":
        connect["timeout"] = math.ceil(spec.connect_timeout_s)
    args["connect_args"] = connect
    return args


def _pool_usage(runner: SqlAlchemyRunner) -> tuple[int, int]:
    """Connections lent out and the most the engine's pool lends (its overflow included)."""
    pool: Any = runner.engine.pool
    in_use = int(pool.checkedout()) if hasattr(pool, "checkedout") else 0
    size = pool.size() if callable(getattr(pool, "size", None)) else 1
    return in_use, int(size) + max(0, int(getattr(pool, "_max_overflow", 0)))
