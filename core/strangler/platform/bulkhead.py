"""A bulkhead: at most so many calls in flight towards one legacy system, a bounded queue.

A burst of callers must not overload an old server, nor pile up without end in
front of it: past ``max_in_flight`` calls wait in turn, and past ``max_waiting``
waiting calls the next is refused at once with
:class:`~strangler.errors.LegacyUnavailable` (the edge's 503 with
``Retry-After``). A refused call never reaches the legacy system, so it never
counts against its circuit breaker.

Calls come from several event loops (the app's, a command consumer's thread,
an ETL run), so the counts are guarded by a thread lock and each waiter is
woken on its own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from strangler.errors import LegacyUnavailable

__all__ = ["Bulkhead"]


class Bulkhead:
    """At most ``max_in_flight`` calls at once, at most ``max_waiting`` in the queue."""

    def __init__(self, system: str, max_in_flight: int, max_waiting: int = 0) -> None:
        if max_in_flight < 1 or max_waiting < 0:
            raise ValueError("max_in_flight must be at least 1 and max_waiting at least 0")
        self.system, self.max_in_flight, self.max_waiting = system, max_in_flight, max_waiting
        self._lock = threading.Lock()
        self.in_flight = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()
        self.refused = 0

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @asynccontextmanager
    async def slot(self, operation: str | None = None) -> AsyncIterator[None]:
        """Hold one of the slots while the call runs (waiting for one if need be)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] | None = None
        with self._lock:
            if self.in_flight < self.max_in_flight and not self._waiters:
                self.in_flight += 1
            elif len(self._waiters) < self.max_waiting:
                future = loop.create_future()
                self._waiters.append((loop, future))
            else:
                self.refused += 1
                raise LegacyUnavailable(
                    f"{self.system} has {self.in_flight} calls in flight and "
                    f"{len(self._waiters)} waiting, its limit (concurrency); try again shortly",
                    system=self.system,
                    operation=operation,
                    retry_after_s=1.0,
                )
        if future is not None:
            try:
                await future  # the slot is handed over by the call that ends
            except asyncio.CancelledError:
                with self._lock:
                    if (loop, future) in self._waiters:
                        self._waiters.remove((loop, future))
                        raise
                self._release()  # handed over just as it was cancelled: pass it on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._lock:
            while self._waiters:
                loop, future = self._waiters.popleft()
                if not future.done() and not loop.is_closed():
                    loop.call_soon_threadsafe(_wake, future)
                    return  # the slot passes to the waiter: in_flight stays
            self.in_flight -= 1


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
    # A waiter cancelled between the hand-over and this call releases in its handler.
