"""Read-ahead for clients paging with a cursor.

A client that asks for a page with ``cursor=`` is walking the table, and will
most likely ask for the page after it next. That page is read at once, while
the answer travels and the client handles it, and when it is read, the page
after it (two pages ahead, one query at a time; where the database writes the
pages, both in one job on one connection, the second straight after the
first): the next request finds its page read, or being read, instead of
starting from nothing. The first page of
a walk (no cursor) starts nothing, so a client that reads one page costs one
query, and one that stops halfway leaves at most two pages unused.

What a page read ahead may answer:

- the same checked query (table, filters, sort, fields, limit, cursor) only;
- within ``read_ahead_s`` of the moment its statement was sent, so it is never
  older than that when answered (a page read on demand is as old as the
  request's own statement);
- only if no write went through this adapter since it was started (row
  writes, procedure calls, commands that call them): a client that writes and
  then pages on reads its write.

Keyset paging keeps its guarantee: a row that is in the table throughout the
walk is answered exactly once. A row written by another program between the
read-ahead and the request is seen as if the request had come that much
earlier. Unused pages cost one query each, at most ``max_running`` at a
time (half the connection pool, so requests always keep the other half; none
with a pool of one); a failed read-ahead is dropped, and the request reads the
page itself.

Answers are shared between callers asking the same query: access is checked
per route before the adapter is asked, and a page depends on the query alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from prometheus_client import Counter

__all__ = ["READ_AHEAD", "ReadAhead"]

log = logging.getLogger(__name__)

T = TypeVar("T")

READ_AHEAD = Counter(
    "strangler_db_read_ahead_pages",
    "Pages read ahead for clients paging with a cursor, by system and outcome "
    "(used; stale: too old or a write came between; unused: never asked for; failed).",
    ["system", "outcome"],
)


@dataclass
class _Entry(Generic[T]):
    task: asyncio.Task[T]
    started: float
    version: int


class ReadAhead(Generic[T]):
    """Pages started ahead of their request, by query; a small, bounded set."""

    def __init__(
        self,
        system: str,
        *,
        max_age_s: float,
        max_running: int,
        max_pages: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.system = system
        self.max_age_s = max_age_s
        self.max_running = max_running
        self.max_pages = max_pages
        self.clock = clock
        self.version = 0
        self._pages: OrderedDict[Hashable, _Entry[T]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.max_age_s > 0

    def reading(self) -> int:
        """How many pages are being read ahead now."""
        return sum(1 for entry in self._pages.values() if not entry.task.done())

    def written(self) -> None:
        """A write went through the adapter: nothing read before it is answered."""
        self.version += 1
        for entry in self._pages.values():
            self._drop(entry, "stale")
        self._pages.clear()

    async def take(self, key: Hashable) -> T | None:
        """The answer read ahead for ``key``, or ``None`` to read it now."""
        entry = self._pages.pop(key, None)
        if entry is None:
            return None
        if entry.task.get_loop() is not asyncio.get_running_loop():
            # started under another event loop (a test client runs each request in
            # a loop of its own, closed after it): not awaitable here
            self._drop(entry, "unused")
            return None
        if entry.version != self.version or self.clock() - entry.started > self.max_age_s:
            self._drop(entry, "stale")
            return None
        try:
            answer = await asyncio.shield(entry.task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the request itself is cancelled
            READ_AHEAD.labels(self.system, "failed").inc()  # the read was (shutdown)
            return None
        except Exception:  # the request reads it itself, and meets the error there
            READ_AHEAD.labels(self.system, "failed").inc()
            return None
        if entry.version != self.version:  # a write came while it was being read
            READ_AHEAD.labels(self.system, "stale").inc()
            return None
        READ_AHEAD.labels(self.system, "used").inc()
        return answer

    def start(
        self,
        key: Hashable,
        read: Callable[[], Coroutine[Any, Any, T]],
        *,
        started: float | None = None,
        version: int | None = None,
    ) -> None:
        """Begin reading ``key``'s answer, unless too many are being read already.

        ``started`` and ``version``: for a read begun earlier (by another page's
        job), when it began and the writes it saw then; by default, now.
        """
        if not self.enabled or key in self._pages:
            return
        if self.reading() >= self.max_running:
            return
        while len(self._pages) >= self.max_pages:
            _, oldest = self._pages.popitem(last=False)
            self._drop(oldest, "unused")
        task = asyncio.get_running_loop().create_task(read())
        task.add_done_callback(_retrieve)
        self._pages[key] = _Entry(
            task,
            self.clock() if started is None else started,
            self.version if version is None else version,
        )
        self._expire()

    def _expire(self) -> None:
        now = self.clock()
        for key in [k for k, e in self._pages.items() if now - e.started > self.max_age_s]:
            self._drop(self._pages.pop(key), "unused")

    def _drop(self, entry: _Entry[T], outcome: str) -> None:
        if not entry.task.done():
            entry.task.cancel()
        READ_AHEAD.labels(self.system, outcome).inc()


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Fetch a dropped read-ahead's error so asyncio does not report it as lost."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("read-ahead failed: %s", task.exception())
