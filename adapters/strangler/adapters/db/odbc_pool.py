"""A small, thread-safe pool of raw pyodbc connections.

At most ``size`` connections are open. A connection idle for more than
``ping_after_s`` is pinged before it is handed out; a connection failure
invalidates the whole pool (every connection made before it is closed rather
than reused), so the first request after a database comes back gets a fresh
connection instead of a dead one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyodbc  # type: ignore[import-not-found, unused-ignore]  # its .pyi is not PEP 561

__all__ = ["OdbcPool", "PoolTimeout", "Pooled"]


class PoolTimeout(Exception):
    """No connection became free in time."""


@dataclass(eq=False)
class Pooled:
    """A pooled connection, the pool generation it belongs to and when it was last used."""

    connection: pyodbc.Connection
    generation: int
    fresh: bool = True
    released_at: float = field(default_factory=time.monotonic)


class OdbcPool:
    """Connections made by ``connect``, checked with ``ping`` after a pause."""

    def __init__(
        self,
        connect: Callable[[], pyodbc.Connection],
        ping: Callable[[pyodbc.Connection], None],
        *,
        size: int,
        timeout_s: float,
        ping_after_s: float = 1.0,
    ) -> None:
        self._connect = connect
        self._ping = ping
        self._size = size
        self._timeout_s = timeout_s
        self._ping_after_s = ping_after_s
        self._idle: list[Pooled] = []
        self._open = 0
        self._generation = 0
        self._cond = threading.Condition()

    def acquire(self) -> Pooled:
        """A live connection; ``PoolTimeout`` or the driver's connect error otherwise."""
        while True:
            pooled = self._take()
            if pooled is None:
                break
            if time.monotonic() - pooled.released_at < self._ping_after_s:
                return pooled
            try:
                self._ping(pooled.connection)
                return pooled
            except pyodbc.Error:
                self.invalidate()
                self.release(pooled, broken=True)
        try:
            with self._cond:
                generation = self._generation
            return Pooled(self._connect(), generation)
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def _take(self) -> Pooled | None:
        """An idle connection, or None after reserving room for a new one."""
        deadline = time.monotonic() + self._timeout_s
        stale: list[Pooled] = []
        try:
            with self._cond:
                while True:
                    while self._idle:
                        pooled = self._idle.pop()
                        if pooled.generation == self._generation:
                            pooled.fresh = False
                            return pooled
                        self._open -= 1
                        stale.append(pooled)
                    if self._open < self._size:
                        self._open += 1
                        return None
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise PoolTimeout(f"no free connection within {self._timeout_s} s")
                    self._cond.wait(remaining)
        finally:
            for pooled in stale:
                _close(pooled.connection)

    def release(self, pooled: Pooled, *, broken: bool = False) -> None:
        """Give a connection back; a broken or outdated one is closed."""
        with self._cond:
            keep = not broken and pooled.generation == self._generation
            if keep:
                pooled.released_at = time.monotonic()
                self._idle.append(pooled)
            else:
                self._open -= 1
            self._cond.notify()
        if not keep:
            _close(pooled.connection)

    def invalidate(self) -> None:
        """Forget every connection made so far (after a connection failure)."""
        with self._cond:
            self._generation += 1
            stale, self._idle = self._idle, []
            self._open -= len(stale)
            self._cond.notify_all()
        for pooled in stale:
            _close(pooled.connection)


def _close(connection: pyodbc.Connection) -> None:
    with contextlib.suppress(pyodbc.Error):
        connection.close()
