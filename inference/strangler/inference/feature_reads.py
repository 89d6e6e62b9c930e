"""Feature reads coalesced: the entities asked for while a read runs are read together next.

A by-entity prediction reads its entity's newest features from the feature
tables, a blocking database call made in a worker thread. Under concurrent
load one read per request costs a thread hop and its own queries (the view's
layout, then its latest row) each time. :class:`CoalescedReads` keeps at most
one read per view running: the requests that arrive meanwhile wait, and the
next read asks for all their entities in one call (one thread hop, one query
per table). Nothing waits on purpose: a lone request is read at once, and every
request is read after it arrived, so it sees the features as they are then.

When a read of several entities fails (an entity key that does not convert,
say), each of them is read again alone, so only the request that caused the
failure gets the error.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["CoalescedReads"]

Row = dict[str, Any]
Read = Callable[[str, Sequence[Mapping[str, Any]]], list[Row]]
_Waiting = tuple[Mapping[str, Any], "asyncio.Future[Row]"]


class _Queues:
    """One event loop's requests waiting per view, and the view's running read."""

    __slots__ = ("running", "waiting")

    def __init__(self) -> None:
        self.waiting: dict[str, list[_Waiting]] = {}
        self.running: dict[str, asyncio.Task[None]] = {}


class CoalescedReads:
    """Reads ``read(view, entities)`` (one row per entity, in order), coalescing
    concurrent requests for the same view into one call in a worker thread."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queues] = (
            weakref.WeakKeyDictionary()
        )

    async def latest(self, view: str, entity: Mapping[str, Any]) -> Row:
        """The row of one entity of ``view``, read with the others asked meanwhile."""
        loop = asyncio.get_running_loop()
        queues = self._loops.get(loop)
        if queues is None:
            queues = self._loops[loop] = _Queues()
        future: asyncio.Future[Row] = loop.create_future()
        queues.waiting.setdefault(view, []).append((entity, future))
        if view not in queues.running:
            queues.running[view] = loop.create_task(self._reads(queues, view))
        return await future

    async def _reads(self, queues: _Queues, view: str) -> None:
        try:
            while batch := queues.waiting.pop(view, None):
                batch = [(e, f) for e, f in batch if not f.done()]  # gone: cancelled
                if batch:
                    await self._serve(view, batch)
        finally:
            del queues.running[view]
            for _, future in queues.waiting.pop(view, []):  # only when cancelled itself
                future.cancel()

    async def _serve(self, view: str, batch: list[_Waiting]) -> None:
        entities = [entity for entity, _ in batch]
        answers: list[Row | BaseException]
        try:
            try:
                answers = list(await asyncio.to_thread(self._read, view, entities))
            except Exception as exc:
                if len(batch) == 1:
                    answers = [exc]
                else:  # find out whose entity failed: each alone
                    answers = await asyncio.to_thread(self._each, view, entities)
        except BaseException:  # cancelled: so are the requests waiting for it
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    def _each(self, view: str, entities: Sequence[Mapping[str, Any]]) -> list[Row | BaseException]:
        answers: list[Row | BaseException] = []
        for entity in entities:
            try:
                (row,) = self._read(view, [entity])
            except Exception as exc:
                answers.append(exc)
            else:
                answers.append(row)
        return answers
