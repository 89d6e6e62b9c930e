"""The REST edge: one FastAPI app over the platform's components.

The edge knows components by their faces only, never a part by name:

* every :class:`~strangler.platform.OperationSource` (the legacy adapters) gets
  one ``POST /{kind}/{system}/{route...}`` per operation;
* a kind whose registration names a ``rest`` function (database tables,
  JSON-RPC batches) gets the routes that function builds, under
  ``/{kind}/{system}``;
* every :class:`~strangler.platform.RouteSource` gets its own router, under its
  ``prefix``; a :class:`~strangler.platform.FastRoutes` component's hot routes are
  answered ahead of the routing (:mod:`.fastlane`).

Components are built from the spec when the app is built (so the OpenAPI
document is complete without any I/O towards legacy systems), started in the
app's lifespan and closed in reverse order, also when one fails to start.
``/readyz`` answers 503 while any component is down; ``/metrics`` serves the
process's Prometheus metrics; :class:`~strangler.observability.edge.Observed`
counts, times and traces every request.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI
from pydantic import BaseModel
from starlette.responses import Response

from strangler.observability.edge import Observed, fastapi_options
from strangler.platform.build import build_platform
from strangler.platform.component import Component, FastRoutes, Guard, RouteSource
from strangler.platform.core import Platform, components_of
from strangler.platform.invocations import invoke
from strangler.platform.operations import Operation, OperationSource
from strangler.platform.registry import kinds, load
from strangler.rest.encoding import JSONResponse
from strangler.rest.fastlane import FastLane
from strangler.rest.limits import BodyLimit, UrlLimit
from strangler.rest.naming import name_document, operation_ids, route_candidates
from strangler.rest.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from strangler.rest.problems import PROBLEM_RESPONSES, Problem, install_problem_handlers
from strangler.spec.models import LimitsSpec, Spec

__all__ = ["build_app", "create_app"]


def build_app(
    components: Platform | Sequence[Component],
    *,
    title: str = "strangler",
    limits: LimitsSpec | None = None,
) -> FastAPI:
    """The REST app over already-built components (or a whole platform)."""
    platform = components_of(components)
    limits = limits or LimitsSpec()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with platform.running():
            yield

    app = FastAPI(
        title=title,
        version="1",
        description="REST in front of legacy systems. Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
        default_response_class=JSONResponse,
        **fastapi_options(),
    )
    app.state.platform = platform
    install_problem_handlers(app)
    fast = [r for c in platform if isinstance(c, FastRoutes) for r in c.fast_routes()]
    if fast:  # added first: inside the limits below
        app.add_middleware(FastLane, routes=fast)
    guards = [c for c in platform if isinstance(c, Guard)]
    for guard in guards:  # before the fast lane, inside the limits
        app.add_middleware(guard.wrap)
    app.add_middleware(BodyLimit, max_bytes=int(limits.max_body_bytes))
    app.add_middleware(UrlLimit, max_params=limits.max_query_params)
    app.add_middleware(Observed)  # outermost: every answer counted, refusals included
    registered = kinds()
    for component in platform:
        base = f"/{component.kind}/{component.name}"
        if isinstance(component, OperationSource):
            for operation in component.operations():
                if operation.rest:
                    _add_operation(app, base, component, operation)
        face = registered.get(component.kind)
        if face is not None and face.rest is not None and isinstance(component, OperationSource):
            router = load(face.rest, what=f"the REST routes of {face.name!r}")(component)
            app.include_router(router, prefix=base)
        if isinstance(component, RouteSource):
            app.include_router(component.router(), prefix=component.prefix)

    _problem_media_type(app, guards)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus metrics of the process (every part's, in the default registry)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["health"], summary="Liveness", operation_id="healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        operation_id="readyz",
        summary="Readiness: 503 while any component is down",
        responses={503: {"description": "A component is down; see components.*.status."}},
    )
    async def readyz() -> JSONResponse:
        ready, detail = await platform.health()
        body = {"status": "ok" if ready else "down", "components": detail}
        return JSONResponse(body, status_code=200 if ready else 503)

    return app


def create_app(spec: Spec, cache_dir: Path | None = None) -> FastAPI:
    """Build every component of ``spec`` and the REST app over them."""
    return build_app(build_platform(spec, cache_dir), limits=spec.limits)


def _add_operation(
    app: FastAPI, base: str, source: OperationSource, operation: Operation[Any]
) -> None:
    endpoint = _endpoint(source, operation)
    paths = [operation.route, *operation.aliases]
    for index, route in enumerate(paths):
        alias = index > 0
        app.add_api_route(
            base + "".join(f"/{part}" for part in route),
            endpoint,
            methods=["POST"],
            name=operation.operation_id + ("_short" if alias else ""),
            openapi_extra=operation_ids(*route_candidates(operation.system, route)),
            summary=operation.summary + (" [short path]" if alias else "")
            if operation.summary
            else None,
            description=operation.description,
            tags=list(operation.tags),
            responses={200: {"model": operation.output_model}, **PROBLEM_RESPONSES},
            response_class=JSONResponse,
        )


def _endpoint(source: OperationSource, operation: Operation[Any]) -> Callable[..., Awaitable[Any]]:
    """The route function; its signature is set by hand because the model is dynamic."""
    model = operation.input_model
    required = any(f.is_required() for f in model.model_fields.values())

    async def call(payload: BaseModel | None = None) -> JSONResponse:
        given = payload if payload is not None else model()
        return JSONResponse(await invoke(source, operation, given))

    annotation: Any = Annotated[model if required else model | None, Body()]
    parameter = inspect.Parameter(
        "payload",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=annotation,
        default=inspect.Parameter.empty if required else None,
    )
    call.__signature__ = inspect.Signature([parameter])  # type: ignore[attr-defined]
    return call


_EDGE_ANSWERS = {
    "413": ("requestBody", "The request body is larger than the server's limit."),
    "414": (None, "The URL (path and query) is too long."),
    "431": (None, "The request headers are too large."),
    "500": (None, "An unexpected error; the answer's request_id is in the server's log."),
}
"""Statuses the edge itself may answer to any operation (413: those with a body)."""


def _problem_media_type(app: FastAPI, guards: Sequence[Guard] = ()) -> None:
    """Document error answers as they are sent: ``application/problem+json``, and every
    status the edge itself may answer (:data:`_EDGE_ANSWERS`) on every operation; give
    operations and components their short names (:mod:`.naming`); let each guard
    declare what it asks for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.setdefault("Problem", Problem.model_json_schema())
            problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            for path in document.get("paths", {}).values():
                for op in path.values():
                    responses = op.setdefault("responses", {})
                    for status, (needs, text) in _EDGE_ANSWERS.items():
                        if status not in responses and (needs is None or needs in op):
                            responses[status] = {"description": text, "content": dict(problem)}
                    for status, response in responses.items():
                        content = response.get("content", {})
                        if status[:1] in "45" and "application/json" in content:
                            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
            name_document(document)
            for guard in guards:
                guard.document(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
