"""The fast lane: a few components' hot routes, answered ahead of FastAPI's routing.

:class:`FastLane` sits inside the request limits (:mod:`.limits`) and before
FastAPI's exception middleware, routing and dependency solving. It tries each
route of the components with the :class:`~strangler.platform.FastRoutes` face
on every request; one that matches fully answers it, anything else goes on to
the app. Errors keep their usual answers: the project's errors and HTTP-level
refusals (a body over the limit) become problem+json here, anything unexpected
reaches the app's last-resort handler.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from strangler.errors import StranglerError
from strangler.rest.problems import http_problem_body, problem_for, problem_json

__all__ = ["FastLane"]


class FastLane:
    """ASGI middleware answering ``routes`` before the app routes the request."""

    def __init__(self, app: ASGIApp, routes: Sequence[Route]) -> None:
        self.app = app
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["route"] = route  # as the router does: the metrics' route label
                    await self._answer(route, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _answer(route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        try:
            await route.handle(scope, receive, send)
        except StranglerError as exc:
            await problem_for(exc, path)(scope, receive, send)
        except HTTPException as exc:
            body = http_problem_body(exc.status_code, str(exc.detail or ""), path)
            await problem_json(body, dict(exc.headers or {}))(scope, receive, send)
