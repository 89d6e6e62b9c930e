"""One statement's rows in chunks through a server-side cursor, whatever the path.

The database adapter's runner fetches whole results (pages are small); a
feature view reads whole tables, so its rows are streamed instead:

* SQLAlchemy URLs: the runner's own engine (pooled connections). For the
  drivers whose cursors stream by themselves (SQLite's ``sqlite3``, ``pyodbc``,
  psycopg through a named server-side cursor) :meth:`Streamer.raw_chunks` compiles
  the statement with SQLAlchemy (bound values through their types) and reads the
  DB-API cursor of the pooled connection directly: no ``Result`` layer, and each
  result column's type processing applied only where the caller does not decode
  the driver's value itself. Other drivers go through SQLAlchemy's result with
  ``stream_results``. The MariaDB/MySQL ODBC driver keeps a whole result in memory
  unless told not to (``NO_CACHE``), so for ``mysql+pyodbc`` a second engine with
  that option is made from the same URL.
* Raw ODBC strings: one connection of its own, made from the system's string
  plus the driver's option for reading a result as it is fetched (MariaDB
  ``NO_CACHE=1``, psqlODBC ``UseDeclareFetch=1``, SQLite ``StepAPI=1``).

MariaDB's ODBC driver streams only from version 3.1.17 (:meth:`Streamer.streams`
tells); with an older one the source reads keyset pages instead. Its DECIMAL
values are read as their text and made ``Decimal`` (an output converter on each
of its connections, shared with the adapter: ``adapters.db.odbc_decimals``):
Connector/ODBC 3.1.15 leaks memory on every DECIMAL value pyodbc fetches its own
way (about 45 bytes each, so a table with three decimal columns grew 14 MB per
100,000 rows), while the text form does not.

Driver errors become the project's errors (as the adapter's would).
"""

from __future__ import annotations

import contextlib
import math
import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyodbc  # type: ignore[import-not-found, unused-ignore]  # its .pyi is not PEP 561
import sqlalchemy as sa

from strangler.adapters.db.engine import SqlAlchemyRunner
from strangler.adapters.db.failures import translate
from strangler.adapters.db.odbc import OdbcRunner, compile_statement
from strangler.adapters.db.odbc_decimals import decimals_as_text, reads_decimals_as_text
from strangler.adapters.db.runner import Runner, Statement

__all__ = ["STREAMING_MARIADB_ODBC", "Processor", "Streamer"]

Fetch = Callable[[int], list[Any]]
Processor = Callable[[Any], Any] | None
"""What SQLAlchemy's type does to a column's DB-API value (``None``: nothing)."""

_RAW_DRIVERS = frozenset({"pysqlite", "pyodbc", "psycopg", "psycopg2"})
"""SQLAlchemy drivers whose DB-API cursors are read directly (they stream by themselves,
psycopg through a named cursor)."""
_NAMED_CURSOR = frozenset({"psycopg", "psycopg2"})

_ODBC_STREAMING = {
    "mysql": "NO_CACHE=1",
    "postgresql": "UseDeclareFetch=1;Fetch={size}",
    "sqlite": "StepAPI=1",
}


STREAMING_MARIADB_ODBC = (3, 1, 17)
"""The first MariaDB Connector/ODBC that can leave a result on the server (``NO_CACHE``)."""


class Streamer:
    """Streams statements of one database system (see the module's docstring)."""

    def __init__(self, system: str, runner: Runner) -> None:
        self.system = system
        self.runner = runner
        self._engine: sa.Engine | None = None
        self._streams: bool | None = None

    def streams(self) -> bool:
        """Whether a result is read as it is fetched. Not so with MariaDB's ODBC driver
        before 3.1.17, which keeps every row of a result in memory: read such a system
        in keyset pages instead, one short statement each."""
        if self._streams is None:
            self._streams = self._driver_streams()
        return self._streams

    def _driver_streams(self) -> bool:
        runner = self.runner
        if isinstance(runner, SqlAlchemyRunner):
            url = runner.url
            if url.get_driver_name() != "pyodbc" or url.get_backend_name() not in (
                "mysql",
                "mariadb",
            ):
                return True
            with runner.engine.connect() as connection:
                dbapi = connection.connection.dbapi_connection
                assert dbapi is not None
                version = str(dbapi.getinfo(pyodbc.SQL_DRIVER_VER))
        elif isinstance(runner, OdbcRunner):
            if runner.dbms != "mysql":
                return True
            assert runner.spec.odbc is not None
            timeout = math.ceil(runner.spec.connect_timeout_s)
            connection = pyodbc.connect(runner.spec.odbc.get_secret_value(), timeout=timeout)
            try:
                version = str(connection.getinfo(pyodbc.SQL_DRIVER_VER))
            finally:
                _quietly(connection.close)
        else:  # pragma: no cover - both paths are above
            return True
        numbers = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
        return numbers >= STREAMING_MARIADB_ODBC

    def chunks(self, statement: Statement, size: int, operation: str) -> Iterator[list[Any]]:
        """The rows of ``statement`` (tuples), ``size`` at a time; closing the
        iterator early closes the cursor and its connection."""
        with self._cursor(statement, size, operation) as (_, fetch):
            while True:
                part = self._guarded(fetch, size, operation)
                if not part:
                    return
                yield part

    def raw_chunks(
        self, statement: Statement, size: int, operation: str
    ) -> Iterator[tuple[list[Sequence[Any]], tuple[Processor, ...]]]:
        """Like :meth:`chunks`, with the rows as the driver gives them (sequences) and
        the processor of each result column still to apply to them where the caller
        does not read the driver's own value (SQLite's text date, a NUMERIC's float)
        itself; no processors where SQLAlchemy's result read the rows."""
        runner = self.runner
        if not isinstance(runner, SqlAlchemyRunner):
            for part in self.chunks(statement, size, operation):
                yield part, ()
            return
        try:
            with contextlib.ExitStack() as stack:
                opened = self._dbapi(stack, runner, statement, size)
                if opened is None:
                    for part in self.chunks(statement, size, operation):
                        yield part, ()
                    return
                cursor, processors = opened
                while True:
                    part = self._guarded(cursor.fetchmany, size, operation)
                    if not part:
                        return
                    yield part, processors
        except (sa.exc.SQLAlchemyError, pyodbc.Error, OSError) as exc:
            raise translate(exc, system=self.system, operation=operation) from exc

    def sample(
        self, statement: Statement, size: int, operation: str
    ) -> tuple[list[str], list[Any]]:
        """The result's column names and its first ``size`` rows (the rest is not read)."""
        with self._cursor(statement, size, operation) as (names, fetch):
            return names, self._guarded(fetch, size, operation)

    def _guarded(self, fetch: Fetch, size: int, operation: str) -> list[Any]:
        try:
            return fetch(size)
        except (sa.exc.SQLAlchemyError, pyodbc.Error, OSError) as exc:
            raise translate(exc, system=self.system, operation=operation) from exc

    @contextlib.contextmanager
    def _cursor(
        self, statement: Statement, size: int, operation: str
    ) -> Iterator[tuple[list[str], Fetch]]:
        runner = self.runner
        try:
            with contextlib.ExitStack() as stack:
                if isinstance(runner, SqlAlchemyRunner):
                    opened = self._sqlalchemy(stack, runner, statement, size)
                elif isinstance(runner, OdbcRunner):
                    opened = self._odbc(stack, runner, statement, size)
                else:  # pragma: no cover - both paths are above
                    raise TypeError(f"cannot stream from {type(runner).__name__}")
                yield opened
        except (sa.exc.SQLAlchemyError, pyodbc.Error, OSError) as exc:
            raise translate(exc, system=self.system, operation=operation) from exc

    def _sqlalchemy(
        self,
        stack: contextlib.ExitStack,
        runner: SqlAlchemyRunner,
        statement: Statement,
        size: int,
    ) -> tuple[list[str], Fetch]:
        connection = stack.enter_context(self._streaming_engine(runner).connect())
        options = connection.execution_options(stream_results=True, yield_per=size)
        result = options.execute(statement)
        stack.callback(result.close)
        return list(result.keys()), lambda n: [tuple(row) for row in result.fetchmany(n)]

    def _dbapi(
        self,
        stack: contextlib.ExitStack,
        runner: SqlAlchemyRunner,
        statement: Statement,
        size: int,
    ) -> tuple[Any, tuple[Processor, ...]] | None:
        """The statement run on a DB-API cursor of a pooled connection, and the type
        processing of its columns; ``None`` where that path does not apply."""
        engine = self._streaming_engine(runner)
        dialect = engine.dialect
        if dialect.driver not in _RAW_DRIVERS:
            return None
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        values = compiled.construct_params()
        params: dict[str, Any] = {}
        for name, value in values.items():
            bind = compiled.binds.get(name)
            if bind is None:  # an expanded parameter: leave it to SQLAlchemy's execution
                return None
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            params[name] = value if process is None else process(value)
        arguments: Any = params
        if compiled.positional:
            arguments = tuple(params[name] for name in compiled.positiontup or ())
        connection = stack.enter_context(engine.connect())
        driver = connection.connection.driver_connection
        assert driver is not None
        if dialect.driver == "pyodbc" and reads_decimals_as_text(dialect.name):
            decimals_as_text(driver)
        if dialect.driver in _NAMED_CURSOR:
            cursor = driver.cursor(name=f"strangler_etl_{secrets.token_hex(6)}")
            cursor.itersize = size
        else:
            cursor = driver.cursor()
        stack.callback(cursor.close)
        cursor.execute(compiled.string, arguments)
        types = [c.type for c in getattr(statement, "selected_columns", ())]
        description = cursor.description or ()
        processors: list[Processor] = []
        for i, column in enumerate(description):
            if i >= len(types):
                processors.append(None)
            else:
                impl = types[i].dialect_impl(dialect)
                processors.append(impl.result_processor(dialect, column[1]))
        return cursor, tuple(processors)

    def _streaming_engine(self, runner: SqlAlchemyRunner) -> sa.Engine:
        url = runner.url
        if url.get_driver_name() != "pyodbc" or url.get_backend_name() not in ("mysql", "mariadb"):
            return runner.engine
        if not self.streams():  # pages: short statements on the system's own pool
            return runner.engine
        if self._engine is None:
            self._engine = sa.create_engine(
                url.update_query_dict({"NO_CACHE": "1"}), poolclass=sa.pool.NullPool
            )
        return self._engine

    def _odbc(
        self, stack: contextlib.ExitStack, runner: OdbcRunner, statement: Statement, size: int
    ) -> tuple[list[str], Fetch]:
        assert runner.spec.odbc is not None
        text = runner.spec.odbc.get_secret_value().rstrip("; ")
        option = _ODBC_STREAMING.get(runner.dbms)
        if option is not None:
            text = f"{text};{option.format(size=size)}"
        sql, params = compile_statement(statement, runner.dialect, runner.dbms)
        timeout = math.ceil(runner.spec.connect_timeout_s)
        connection = pyodbc.connect(text, autocommit=False, timeout=timeout)
        stack.callback(_quietly, connection.close)
        if reads_decimals_as_text(runner.dbms):
            decimals_as_text(connection)
        stack.callback(_quietly, connection.rollback)
        cursor = connection.cursor()
        stack.callback(_quietly, cursor.close)
        cursor.execute(sql, params)
        names = [str(d[0]) for d in cursor.description or ()]
        return names, lambda n: [tuple(row) for row in cursor.fetchmany(n)]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _quietly(action: Callable[[], object]) -> None:
    with contextlib.suppress(pyodbc.Error):
        action()
