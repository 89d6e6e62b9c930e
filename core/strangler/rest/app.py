"""The REST edge: one FastAPI app with a POST route per legacy operation.

Adapters are built from the spec when the app is built (so the OpenAPI
document is complete without any I/O towards legacy systems) and opened in the
app's lifespan.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI
from pydantic import BaseModel

from strangler.adapters.base import Adapter, Operation, adapter_class
from strangler.rest.encoding import JSONResponse
from strangler.rest.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from strangler.rest.problems import PROBLEM_RESPONSES, install_problem_handlers
from strangler.spec.models import Spec

__all__ = ["build_adapters", "build_app", "create_app"]


def build_adapters(spec: Spec, cache_dir: Path | None = None) -> list[Adapter]:
    """One adapter per system of the spec, looked up by its ``kind``."""
    if cache_dir is None and spec.cache_dir:
        cache_dir = Path(spec.cache_dir)
    adapters: list[Adapter] = []
    for name, system in spec.systems.items():
        cls = adapter_class(system.kind)
        adapters.append(cls(name, system, cache_dir=cache_dir))
    return adapters


def build_app(adapters: Sequence[Adapter], *, title: str = "strangler") -> FastAPI:
    """The REST app for already-built adapters."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for adapter in adapters:
            await adapter.start()
        try:
            yield
        finally:
            for adapter in adapters:
                await adapter.close()

    app = FastAPI(
        title=title,
        version="1",
        description="REST in front of legacy systems. Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
        default_response_class=JSONResponse,
    )
    install_problem_handlers(app)
    for adapter in adapters:
        for operation in adapter.operations():
            _add_operation(app, adapter, operation)
        router = getattr(adapter, "router", None)
        if router is not None:  # resource-style routes an adapter builds itself (tables)
            app.include_router(router(), prefix=f"/{adapter.kind}/{adapter.system}")

    _problem_media_type(app)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness and adapter state")
    async def readyz() -> dict[str, Any]:
        return {"status": "ok", "systems": {a.system: await a.health() for a in adapters}}

    return app


def create_app(spec: Spec, cache_dir: Path | None = None) -> FastAPI:
    """Build adapters for ``spec`` and the REST app over them."""
    return build_app(build_adapters(spec, cache_dir))


def _add_operation(app: FastAPI, adapter: Adapter, operation: Operation) -> None:
    endpoint = _endpoint(adapter, operation)
    base = f"/{adapter.kind}/{operation.system}"
    paths = [operation.route, *operation.aliases]
    for index, route in enumerate(paths):
        alias = index > 0
        app.add_api_route(
            base + "".join(f"/{part}" for part in route),
            endpoint,
            methods=["POST"],
            name=operation.operation_id + ("_short" if alias else ""),
            operation_id=operation.operation_id + ("_short" if alias else ""),
            summary=operation.summary + (" [short path]" if alias else "")
            if operation.summary
            else None,
            description=operation.description,
            tags=list(operation.tags),
            responses={200: {"model": operation.output_model}, **PROBLEM_RESPONSES},
            response_class=JSONResponse,
        )


def _endpoint(adapter: Adapter, operation: Operation) -> Callable[..., Awaitable[Any]]:
    """The route function; its signature is set by hand because the model is dynamic."""
    model = operation.input_model
    invoke = adapter.invoke
    required = any(f.is_required() for f in model.model_fields.values())

    async def call(payload: BaseModel | None = None) -> JSONResponse:
        return JSONResponse(await invoke(operation, payload if payload is not None else model()))

    annotation: Any = Annotated[model if required else model | None, Body()]
    parameter = inspect.Parameter(
        "payload",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=annotation,
        default=inspect.Parameter.empty if required else None,
    )
    call.__signature__ = inspect.Signature([parameter])  # type: ignore[attr-defined]
    return call


def _problem_media_type(app: FastAPI) -> None:
    """Document error answers under ``application/problem+json``, as they are sent."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for path in document.get("paths", {}).values():
                for op in path.values():
                    for status, response in op.get("responses", {}).items():
                        content = response.get("content", {})
                        if status[:1] in "45" and "application/json" in content:
                            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
