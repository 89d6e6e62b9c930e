"""The event side over HTTP: streams paged from the outbox, Server-Sent Events, AsyncAPI.

The hub's :class:`~strangler.platform.RouteSource` face (mounted at the root of
the REST app):

* ``GET /events``: the streams, their topics and event types;
* ``GET /events/{stream}?after=<seq>&limit=<n>``: a page of the stream's
  events, oldest first, as ``{"stream", "items": [CloudEvent...], "next_after"}``;
* ``GET /events/{stream}/sse``: the stream as Server-Sent Events, from
  ``?after=`` or the ``Last-Event-ID`` header on: ``id:`` is the event's
  outbox sequence number, ``event:`` its CloudEvents type, ``data:`` the
  CloudEvent's JSON; a comment line every ``ping_s`` keeps proxies open;
* ``GET /asyncapi.json``: the AsyncAPI 3.0 document (:mod:`.asyncapi`).

Events are read from the outbox (``StateStore.read``), where capture and the
adapters' writes append them, in any process. New events are noticed by one
poll of the stream's highest sequence number per ``poll_s`` (:class:`Tail`),
shared by every reader of the stream; readers then read the new events
themselves. A stream that is not declared is a 404 problem, a bad ``after``
or ``limit`` a 400 problem naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from strangler.errors import BadQuery, InputProblem, NotFound
from strangler.events.messages import StreamList, page_model, stream_info
from strangler.events.store import OUTBOX, StateStore
from strangler.events.streams import Stream
from strangler.platform.naming import camel
from strangler.rest.naming import operation_ids
from strangler.rest.problems import problem_responses

if TYPE_CHECKING:
    from strangler.events.part import EventHub

__all__ = ["ReadSettings", "Tail", "events_router"]

log = logging.getLogger("strangler.events")


@dataclass(frozen=True)
class ReadSettings:
    """How the HTTP readers page and stream (the hub's ``read`` attribute)."""

    default_limit: int = 100
    max_limit: int = 1000
    poll_s: float = 0.2
    ping_s: float = 15.0


class UnknownStream(NotFound):
    """No stream of this name is declared in ``events.streams``."""

    def __init__(self, name: str) -> None:
        self.stream = name
        super().__init__(f"no event stream {name!r}: GET /events lists them")


class Tail:
    """Notices new events of one stream: one query of its highest ``seq`` per interval.

    The query runs only while some reader waits, and is shared by all of them.
    """

    def __init__(self, latest: Callable[[], int], interval_s: float) -> None:
        self._latest = latest
        self._interval_s = interval_s
        self.seq = -1
        self._waiters = 0
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def beyond(self, seq: int) -> None:
        """Return once the stream holds an event with a sequence number above ``seq``."""
        self._waiters += 1
        try:
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._watch())
            while self.seq <= seq:
                if self._changed is None:
                    self._changed = asyncio.Event()
                await self._changed.wait()
        finally:
            self._waiters -= 1

    async def _watch(self) -> None:
        while self._waiters:
            try:
                seq = await asyncio.to_thread(self._latest)
            except Exception as exc:  # the state database is away: keep readers waiting
                log.warning("events: cannot read the outbox: %s", type(exc).__name__)
            else:
                if seq != self.seq:
                    self.seq = seq
                    changed, self._changed = self._changed, None
                    if changed is not None:
                        changed.set()
            await asyncio.sleep(self._interval_s)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def latest_seq(store: StateStore, stream: str) -> int:
    """The highest sequence number of ``stream`` in the outbox (0 when empty)."""
    query = sa.select(sa.func.max(OUTBOX.c.seq)).where(OUTBOX.c.stream == stream)
    with store.reading() as connection:
        value = connection.execute(query).scalar()
    return int(value or 0)


def _integer(name: str, text: str | None, default: int, *, low: int, high: int) -> int:
    if text is None:
        return default
    # digits only: int() would also take " 5", "+5" and "5_0", which the schema does not
    value = int(text) if _DIGITS.fullmatch(text) else low - 1
    if not low <= value <= high:
        raise BadQuery(
            f"{name} must be an integer from {low} to {high}, not {text[:40]!r}",
            [InputProblem(name, f"an integer from {low} to {high}")],
        )
    return value


_MAX_SEQ = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_PROBLEMS = problem_responses(
    {
        400: "A bad after, limit or Last-Event-ID (the problem names it).",
        404: "No such stream.",
    }
)


class Reader:
    """The routes' work: paging and streaming one hub's outbox."""

    def __init__(self, hub: EventHub, settings: ReadSettings) -> None:
        self.hub = hub
        self.settings = settings
        self.tails: dict[str, Tail] = {}

    def stream(self, name: str) -> Stream:
        found = self.hub.streams.get(name)
        if found is None:
            raise UnknownStream(name)
        return found

    def tail(self, name: str) -> Tail:
        if name not in self.tails:
            store = self.hub.store
            self.tails[name] = Tail(lambda: latest_seq(store, name), self.settings.poll_s)
        return self.tails[name]

    async def page(self, name: str, after: int, limit: int) -> bytes:
        """The page's JSON, built from the events' stored JSON as it is."""
        rows = await asyncio.to_thread(self.hub.store.read, name, after, limit)
        next_after = rows[-1].seq if rows else after
        items = b",".join(row.event.encode() for row in rows)
        head = orjson.dumps(name)
        return b'{"stream":%s,"items":[%s],"next_after":%d}' % (head, items, next_after)

    async def events(self, name: str, after: int) -> AsyncIterator[dict[str, Any]]:
        """The stream from ``after`` on, without end: SSE fields per event."""
        batch = self.settings.max_limit
        cursor = after
        while True:
            rows = await asyncio.to_thread(self.hub.store.read, name, cursor, batch)
            for row in rows:
                kind = orjson.loads(row.event).get("type", "message")
                yield {"id": str(row.seq), "event": kind, "data": row.event}
                cursor = row.seq
            if len(rows) < batch:
                await self.tail(name).beyond(cursor)

    async def aclose(self) -> None:
        for tail in self.tails.values():
            await tail.aclose()


def _query_params(settings: ReadSettings, *, sse: bool) -> list[dict[str, Any]]:
    after = {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "Only events with a sequence number above this (0: from the start).",
        "schema": {"type": "integer", "minimum": 0, "default": 0},
    }
    if sse:
        return [
            after,
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": "Resume after this event (sent by EventSource on reconnect); "
                "wins over ?after=.",
                "schema": {"type": "integer", "minimum": 0},
            },
        ]
    limit = {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"At most this many events (default {settings.default_limit}).",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": settings.max_limit,
            "default": settings.default_limit,
        },
    }
    return [after, limit]


def events_router(hub: EventHub, settings: ReadSettings) -> APIRouter:
    """The routes of the hub's streams (see the module's docstring)."""
    from sse_starlette import EventSourceResponse

    reader = Reader(hub, settings)
    hub.reader = reader
    router = APIRouter(tags=["events"])

    async def list_streams() -> StreamList:
        return StreamList(streams=[stream_info(s) for s in hub.streams.values()])

    router.add_api_route(
        "/events",
        list_streams,
        methods=["GET"],
        summary="The event streams, their topics and event types",
        response_model=StreamList,
        openapi_extra=operation_ids("listEventStreams"),
    )

    def page_of(name: str) -> Callable[[Request], Any]:
        async def page(request: Request) -> Response:
            reader.stream(name)
            query = request.query_params
            after = _integer("after", query.get("after"), 0, low=0, high=_MAX_SEQ)
            limit = _integer(
                "limit", query.get("limit"), settings.default_limit, low=1, high=settings.max_limit
            )
            return Response(await reader.page(name, after, limit), media_type="application/json")

        return page

    def sse_of(name: str) -> Callable[[Request], Any]:
        async def sse(request: Request) -> Response:
            reader.stream(name)
            after = _integer("after", request.query_params.get("after"), 0, low=0, high=_MAX_SEQ)
            last = request.headers.get("last-event-id")
            if last:
                after = _integer("Last-Event-ID", last, after, low=0, high=_MAX_SEQ)
            return EventSourceResponse(reader.events(name, after), ping=settings.ping_s)

        return sse

    for stream in hub.streams.values():
        name = stream.name
        router.add_api_route(
            f"/events/{name}",
            page_of(name),
            methods=["GET"],
            summary=f"Events of stream {name}, paged",
            description=(
                f"Events of `{stream.spec.source}` from the outbox, oldest first: "
                '`{"stream", "items": [CloudEvent...], "next_after"}`; pass `next_after` '
                "as `?after=` for the next page."
            ),
            responses={200: {"model": page_model(stream)}, **_PROBLEMS},
            openapi_extra={
                **operation_ids(camel("list", name, "events")),
                "parameters": _query_params(settings, sse=False),
            },
        )
        router.add_api_route(
            f"/events/{name}/sse",
            sse_of(name),
            methods=["GET"],
            summary=f"Events of stream {name} as Server-Sent Events",
            description=(
                "Without end: `id:` the event's sequence number (so `Last-Event-ID` resumes), "
                "`event:` its CloudEvents type, `data:` the CloudEvent as JSON "
                "(its schema: the stream's page items); a comment line keeps the connection "
                f"open every {settings.ping_s:g} s."
            ),
            response_class=EventSourceResponse,
            responses={
                200: {
                    "description": "The event stream.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                **_PROBLEMS,
            },
            openapi_extra={
                **operation_ids(camel("stream", name, "events")),
                "parameters": _query_params(settings, sse=True),
            },
        )

    async def unknown(stream: str) -> None:
        raise UnknownStream(stream)

    for path in ("/events/{stream}", "/events/{stream}/sse"):
        router.add_api_route(path, unknown, methods=["GET"], include_in_schema=False)

    async def asyncapi() -> Response:
        return Response(hub.asyncapi_json(), media_type="application/json")

    router.add_api_route(
        "/asyncapi.json",
        asyncapi,
        methods=["GET"],
        summary="The AsyncAPI 3.0 document of the event streams and command topics",
        tags=["events"],
        responses={200: {"description": "The document.", "content": {"application/json": {}}}},
        openapi_extra=operation_ids("getAsyncapi"),
    )
    return router
