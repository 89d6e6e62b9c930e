"""The request path of one route: choose the side, call it, answer, hand shadow work on.

A :class:`RouteApp` is a plain ASGI app mounted at the route's public path
(no request object, no validation layer of its own: the sides validate what
they take). Per request it reads the route's live state from memory
(:class:`~strangler.gateway.state.LiveState`), and:

* ``legacy`` / ``modern``: that side answers;
* ``canary``: the sticky key's point (:mod:`strangler.gateway.split`) below the
  weight goes to modern, else legacy;
* ``shadow``: legacy answers; the request, the answer and a way to ask the
  modern side go to the shadow runner, which returns at once.

Every answer carries ``X-Strangler-Side: legacy|modern`` and is counted per
route and side; an error is answered as problem+json (its type counted). A
request refused before a side is chosen (an unreadable body where the sticky
key lives) has no side header and counts as ``side="none"``. A route with a
rollout also counts each answer (side, error or not, latency, segment) in the
canary's :class:`~strangler.canary.samples.SampleRecorder`, and in shadow mode
the modern side's answers to the shadow calls. On a rollout's canary step a
modern answer is also compared with legacy's (through the shadow runner, as
sampled by the route's ``shadow``), when the legacy side is safe to ask again.

A data plane in front of strangler (nginx) that carries the split itself asks
one side alone at ``POST /_strangler/sides/{route}/legacy|modern``
(:class:`SideApp`): the same answer, counts and samples as that side's answer
through the route, and the same shadow and canary comparisons.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from strangler.errors import InvalidInput, StranglerError
from strangler.gateway.metrics import ERRORS, SideMetrics
from strangler.gateway.sides import Answer, Incoming, Side, SideName
from strangler.gateway.split import StickyKey, point
from strangler.rest.problems import problem_for, problem_type

if TYPE_CHECKING:
    from strangler.canary.samples import SampleRecorder
    from strangler.gateway.shadow import ShadowRunner
    from strangler.gateway.state import LiveState

__all__ = ["SIDES_PATH", "SIDE_HEADER", "RouteApp", "SideApp", "side_path"]

SIDE_HEADER = b"x-strangler-side"
SIDES_PATH = "/_strangler/sides"
"""Below it, ``/{route}/legacy`` and ``/{route}/modern``: one side of a route alone."""


def side_path(route: str, side: SideName) -> str:
    """Where ``route``'s ``side`` answers alone (for a data plane carrying the split)."""
    return f"{SIDES_PATH}/{route}/{side}"


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class RouteApp:
    """The ASGI app of one route (see the module)."""

    def __init__(
        self,
        name: str,
        legacy: Side,
        modern: Side,
        live: LiveState,
        sticky: StickyKey,
        shadow: ShadowRunner | None = None,
        samples: SampleRecorder | None = None,
    ) -> None:
        self.name = name
        self.samples = samples
        self.sides: dict[SideName, Side] = {"legacy": legacy, "modern": modern}
        self.live = live
        self.sticky = sticky
        self.shadow = shadow
        self.salt = name.encode("utf-8")[:64]
        self.metrics: dict[SideName, SideMetrics] = {
            "legacy": SideMetrics(name, "legacy"),
            "modern": SideMetrics(name, "modern"),
        }

    def choose(self, request: Incoming) -> SideName:
        """The side that answers ``request`` in the route's present state."""
        state = self.live.routes[self.name]
        mode = state.mode
        if mode == "canary":
            key = self.sticky(request.headers, self._document(request), request.body)
            return "modern" if point(self.salt, key) < state.weight else "legacy"
        return "modern" if mode == "modern" else "legacy"

    def _document(self, request: Incoming) -> Any:
        return request.document if self.sticky.needs_json else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = Incoming(scope["headers"], await _body(receive))
        try:
            side = self.choose(request)
        except StranglerError as exc:  # refused before any side: no side to name
            ERRORS.labels(self.name, "none", problem_type(exc).type).inc()
            await problem_for(exc, instance=scope.get("path"))(scope, receive, send)
            return
        await self.answer(side, request, started, scope, receive, send)

    def side_app(self, side: SideName) -> SideApp:
        """The ASGI app answering from ``side`` alone (``/_strangler/sides/{route}/{side}``)."""
        return SideApp(self, side)

    async def answer(
        self,
        side: SideName,
        request: Incoming,
        started: float,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Answer ``request`` from ``side``: count it, sample it, hand shadow work on."""
        try:
            answer = await self.sides[side].call(request)
        except StranglerError as exc:
            await self._problem(exc, side, scope, receive, send)
            self._answered(side, started, request, error=True)
            return
        except Exception:
            self.metrics[side].failed("internal")
            self._answered(side, started, request, error=True)
            raise
        if answer.status >= 500:
            self.metrics[side].failed(f"status-{answer.status}")
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (b"content-type", answer.content_type),
                    (b"content-length", str(len(answer.body)).encode("ascii")),
                    (SIDE_HEADER, side.encode("ascii")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})
        self._answered(side, started, request, error=answer.status >= 500)
        if self.shadow is not None:
            mode = self.live.routes[self.name].mode
            if mode == "shadow" and side == "legacy":
                self._shadow(request, answer)
            elif mode == "canary" and side == "modern" and self.samples is not None:
                self._compare_canary(request, answer)

    def _answered(self, side: SideName, started: float, request: Incoming, *, error: bool) -> None:
        seconds = time.perf_counter() - started
        self.metrics[side].answered(seconds)
        if self.samples is not None:
            self.samples.answered(self.name, side, seconds, error, lambda: request.document)

    def _compare_canary(self, request: Incoming, answer: Answer) -> None:
        """A modern answer of a rollout's canary step, compared with legacy's when that is safe."""
        assert self.shadow is not None
        legacy = self.sides["legacy"]
        if answer.status >= 400 or not legacy.safe:
            return

        async def ask_legacy() -> Any:
            return (await legacy.call(request)).value

        try:
            self.shadow.submit(self.name, request.payload(), "modern", answer.value, ask_legacy)
        except InvalidInput:
            return

    def _shadow(self, request: Incoming, answer: Answer) -> None:
        assert self.shadow is not None
        if answer.status >= 400:
            return  # an error of the authoritative side is no answer to compare with
        legacy, modern = self.sides["legacy"], self.sides["modern"]
        samples, name = self.samples, self.name

        async def ask_modern() -> Any:
            if samples is None:
                return (await modern.call(request)).value
            started = time.perf_counter()
            error = True  # unless it answers (a raise, a timeout: no answer)
            try:
                answer = await modern.call(request)
                error = answer.status >= 500
                return answer.value
            finally:
                seconds = time.perf_counter() - started
                samples.answered(name, "modern", seconds, error, lambda: request.document)

        async def ask_legacy() -> Any:
            return (await legacy.call(request)).value

        try:
            payload = request.payload()
            self.shadow.submit(
                self.name,
                payload,
                "legacy",
                answer.value,
                ask_modern,
                call_legacy=ask_legacy if legacy.safe else None,
            )
        except InvalidInput:
            return

    async def _problem(
        self, exc: StranglerError, side: SideName, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.metrics[side].failed(problem_type(exc).type)
        response = problem_for(exc, instance=scope.get("path"))
        response.headers[SIDE_HEADER.decode("ascii")] = side
        await response(scope, receive, send)


class SideApp:
    """One side of a route answering alone, as a data plane in front of strangler asks it.

    nginx (or another gateway) carrying the split sends each request to the side
    it chose; this app answers it from that side as :class:`RouteApp` would have
    (same side call, mapping, metrics and samples, ``X-Strangler-Side``), and a
    legacy answer in shadow mode still goes to the shadow runner, a modern one on
    a canary step to its comparison.
    """

    def __init__(self, route: RouteApp, side: SideName) -> None:
        self.route = route
        self.side: SideName = side

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = Incoming(scope["headers"], await _body(receive))
        await self.route.answer(self.side, request, started, scope, receive, send)


async def _body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)
