"""A route's public path (and each of its sides alone) as the OpenAPI document shows it.

The fast lane answers a route's requests ahead of FastAPI's routing, so what
FastAPI adds here is the route's documentation (and an answer for an app built
without the fast lane): the request and answer are the legacy operation's
models when the legacy side is an operation taken as it is (the public contract
is the legacy one), any JSON object otherwise. The handler gives the request,
as FastAPI read it, to the same :class:`~strangler.gateway.routing.RouteApp`.
"""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from strangler.gateway.routing import RouteApp, SideApp, side_path
from strangler.gateway.sides import OperationSide, SideName
from strangler.rest.problems import PROBLEM_RESPONSES
from strangler.spec.gateway import RouteSpec

__all__ = ["document_route", "document_sides"]


def document_route(router: APIRouter, app: RouteApp, route: RouteSpec) -> None:
    """Add ``POST route.path`` to ``router``, documented and answered by ``app``."""
    legacy = app.sides["legacy"]
    request_model, answer_model = _models(app, route)
    described = f"the route's modern side ({_target(route.modern)})"
    if isinstance(legacy, OperationSide):
        described = f"{legacy.operation.ref} or " + described
    router.add_api_route(
        route.path,
        _endpoint(app, request_model),
        methods=["POST"],
        name=f"route_{app.name}",
        operation_id=_camel(app.name),
        summary=f"Route {app.name}: legacy or modern, as its mode and weight decide",
        description=f"Answered by {described}; the `X-Strangler-Side` header says which.",
        tags=["gateway"],
        responses={200: {"model": answer_model}, **PROBLEM_RESPONSES},
    )


def document_sides(router: APIRouter, app: RouteApp, route: RouteSpec) -> None:
    """Add ``POST /_strangler/sides/{route}/legacy|modern``: each side of the route alone."""
    request_model, answer_model = _models(app, route)
    sides: tuple[SideName, ...] = ("legacy", "modern")
    for side in sides:
        target = _target(getattr(route, side))
        router.add_api_route(
            side_path(app.name, side),
            _endpoint(app.side_app(side), request_model),
            methods=["POST"],
            name=f"route_{app.name}_{side}",
            operation_id=_camel(f"{app.name}-{side}-side"),
            summary=f"Route {app.name}: its {side} side alone",
            description=(
                f"Answered by the route's {side} side ({target}) whatever its mode, for a "
                "data plane (nginx) that carries the split; counted, sampled and, for the "
                "legacy side in shadow mode, compared as through the route."
            ),
            tags=["gateway"],
            responses={200: {"model": answer_model}, **PROBLEM_RESPONSES},
        )


def _models(app: RouteApp, route: RouteSpec) -> tuple[Any, Any]:
    """The public request and answer: the legacy operation's models when the route
    takes it as it is (the public contract is the legacy one), any JSON object else."""
    legacy = app.sides["legacy"]
    request_model: Any = dict[str, Any]
    answer_model: Any = dict[str, Any]
    if isinstance(legacy, OperationSide):
        if route.request.legacy is None:
            request_model = legacy.operation.input_model
        if route.response.legacy is None:
            answer_model = legacy.operation.output_model
    return request_model, answer_model


def _endpoint(app: RouteApp | SideApp, model: Any) -> Any:
    async def call(request: Request, payload: Any = None) -> Response:
        return _Replay(app, await request.body())

    parameter = inspect.Parameter(
        "payload", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[model, Body()]
    )
    given = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
    )
    call.__signature__ = inspect.Signature([given, parameter])  # type: ignore[attr-defined]
    return call


class _Replay(Response):
    """Answers by running the route's app on the body FastAPI has already read."""

    def __init__(self, app: RouteApp | SideApp, body: bytes) -> None:
        super().__init__()
        self.app, self.request_body = app, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def replay() -> Message:
            return {"type": "http.request", "body": self.request_body, "more_body": False}

        await self.app(scope, replay, send)


def _target(target: BaseModel) -> str:
    return ", ".join(f"{k} {v}" for k, v in target.model_dump(exclude_defaults=True).items())


def _camel(name: str) -> str:
    head, *rest = re.split(r"[-_]", name)
    return head + "".join(word.title() for word in rest)
