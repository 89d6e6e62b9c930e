"""What the adapter needs of a database connection path, and the statement watchdog.

Two paths implement :class:`Runner`: SQLAlchemy engines (``engine.py``) and
raw pyodbc connections (``odbc.py``). Both run blocking driver calls in the
adapter's own thread pool, one transaction per request, and translate driver
errors once (``failures.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Delete, Insert, Select, TextClause, Update

from strangler.adapters.db.meta import TableInfo
from strangler.spec.database import DatabaseSystem

__all__ = [
    "Rows",
    "Runner",
    "Session",
    "Statement",
    "ThreadedRunner",
    "Watch",
    "Watchdog",
    "first_rows",
]

T = TypeVar("T")

Statement = Select[Any] | Insert | Update | Delete | TextClause
"""What a session runs: SQLAlchemy Core, never SQL text from a caller."""

Rows = tuple[list[str], list[tuple[Any, ...]]]
"""Column names as the database gave them, and the rows."""


class Session(Protocol):
    """One connection inside one transaction, used from a worker thread."""

    def fetch(self, statement: Statement) -> list[tuple[Any, ...]]:
        """The rows of a query, in its select order."""
        ...

    def fetch_plain(
        self, statement: Select[Any], parameters: Mapping[str, Any] | None = None
    ) -> tuple[list[tuple[Any, ...]], Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
        """The rows of a query as the driver gives them (no per-row result processing),
        and what makes one of them what :meth:`fetch` would have answered.
        ``parameters``: values for the statement's named bound parameters."""
        ...

    def execute(self, statement: Statement) -> int:
        """Run a write; the row count the driver reports."""
        ...

    def inserted_key(self, table: TableInfo) -> tuple[Any, ...] | None:
        """The key the database generated for the last insert, when it can tell."""
        ...

    def call(self, statement: Statement) -> Rows:
        """Call a procedure; its first result set (other sets are drained)."""
        ...


class Runner(Protocol):
    """A connection path: reflection at build time, transactions at request time."""

    dbms: str
    dialect: Dialect

    def reflect(self) -> list[TableInfo]:
        """The exposed tables (blocking; called once when the adapter is built)."""
        ...

    async def run(
        self,
        work: Callable[[Session], T],
        *,
        operation: str,
        write: bool = False,
        single_read: bool = False,
    ) -> T:
        """Run ``work`` in one transaction (committed only when ``write``).

        ``single_read``: ``work`` runs one statement that only reads (a page, a row),
        atomic by itself; a path may then run it without a transaction of its own
        (PostgreSQL: autocommit, sparing the BEGIN and ROLLBACK round trips).
        """
        ...

    async def ping(self) -> None:
        """A cheap round trip; raises the project's errors."""
        ...

    def dispose(self) -> None:
        """Close pooled connections (the runner stays usable)."""
        ...

    def describe(self) -> str:
        """Where the database is, with secrets masked."""
        ...


class ThreadedRunner:
    """What both connection paths share: blocking work runs in a thread pool of
    ``pool_size`` threads, one per pooled connection. Subclasses provide
    ``_run(work, operation, write)`` (blocking), ``_probe()`` (a round trip on a
    new connection) and ``_release()`` (close pooled connections)."""

    system: str
    spec: DatabaseSystem
    _executor: ThreadPoolExecutor | None = None

    async def run(
        self,
        work: Callable[[Session], T],
        *,
        operation: str,
        write: bool = False,
        single_read: bool = False,
    ) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.spec.pool_size, f"db-{self.system}")
        loop = asyncio.get_running_loop()
        if single_read and not write:
            return await loop.run_in_executor(self._executor, self._run_read, work, operation)
        return await loop.run_in_executor(self._executor, self._run, work, operation, write)

    async def ping(self) -> None:
        """A round trip on a new connection, not a pooled one.

        Readiness asks whether the database can be reached now; a pooled
        connection can outlive that (an SQLite file removed under an open
        handle, a server that refuses new logins).
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.spec.pool_size, f"db-{self.system}")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._probe)

    def _probe(self) -> None:
        raise NotImplementedError

    def dispose(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._release()

    def _run(self, work: Callable[[Session], T], operation: str, write: bool) -> T:
        raise NotImplementedError

    def _run_read(self, work: Callable[[Session], T], operation: str) -> T:
        """``work`` that runs one read-only statement (see ``Runner.run``)."""
        return self._run(work, operation, False)

    def _release(self) -> None:
        raise NotImplementedError


@dataclass(order=True)
class Watch:
    """One statement being timed; ``fired`` tells that it was cancelled."""

    deadline: float
    seq: int
    cancel: Callable[[], object] = field(compare=False)
    done: bool = field(default=False, compare=False)
    fired: bool = field(default=False, compare=False)


class Watchdog:
    """One thread that cancels statements running past their deadline."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._heap: list[Watch] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, timeout_s: float, cancel: Callable[[], object]) -> Watch:
        watch = Watch(time.monotonic() + timeout_s, next(self._seq), cancel)
        with self._cond:
            heapq.heappush(self._heap, watch)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            if self._heap[0] is watch:  # else the thread wakes for an earlier one anyway
                self._cond.notify()
        return watch

    def disarm(self, watch: Watch) -> None:
        with self._cond:
            watch.done = True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    if not self._cond.wait(timeout=30.0) and not self._heap:
                        self._thread = None
                        return
                    continue
                wait = self._heap[0].deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(timeout=wait)
                    continue
                watch = heapq.heappop(self._heap)
                if watch.done:
                    continue
                watch.fired = True
                # Cancel under the lock: the statement's thread cannot disarm and
                # start its next statement (which the cancel must not hit) meanwhile.
                with contextlib.suppress(Exception):
                    watch.cancel()


def first_rows(description: Sequence[Sequence[Any]] | None, rows: list[Any]) -> Rows:
    """Column names from a DB-API ``description`` and the rows as tuples."""
    names = [str(d[0]) for d in description or ()]
    return names, [tuple(r) for r in rows]
