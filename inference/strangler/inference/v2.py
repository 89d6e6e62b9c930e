"""The Open Inference Protocol v2 over REST (as Triton and KServe speak it).

* ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``;
* ``GET /v2/models/{name}[/versions/{v}]``: the model's metadata (tensors and, under
  ``parameters``, what its ``metadata.yaml`` says); ``.../ready``;
* ``POST /v2/models/{name}[/versions/{v}]/infer``: JSON tensors, and the binary
  tensor extension (``Inference-Header-Content-Length``);
* ``GET /v2/models/{name}[/versions/{v}]/config``: the model's configuration as
  Triton states it (what its tools read: ``max_batch_size``, dims, batching);
* Triton's repository extension: ``POST /v2/repository/index`` and
  ``POST /v2/repository/models/{name}/load`` (read the model's versions again).

Errors are problem+json with an ``error`` member as well, the field v2 clients
read (a wrong input is 400 naming it, an unknown model or version 404).

The two ``infer`` paths are also plain Starlette routes (:func:`fast_routes`),
which the app answers ahead of FastAPI's routing (the server's
:class:`~strangler.platform.FastRoutes` face): its per-request routing,
dependency solving and exception middleware would cost more than parsing the
tensors does. The FastAPI routes of the same paths document them, and answer
where the fast lane is not installed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from strangler.errors import StranglerError
from strangler.inference.tensors import decode_request, encode_response, inflate
from strangler.rest.naming import operation_ids
from strangler.rest.problems import TYPE_PREFIX, problem_body, problem_json, problem_responses

if TYPE_CHECKING:
    from strangler.inference.repository import ServedModel
    from strangler.inference.server import ModelServer

__all__ = ["fast_routes", "v2_router"]

_JSON = "application/json"
_TAGS: list[str | Any] = ["inference"]
_ERRORS = problem_responses(
    {
        400: "An input does not fit the model (its name, datatype, shape or values).",
        404: "No such model, or no such version of it.",
        500: "The model failed to run.",
        503: "Too many requests wait for the model.",
    }
)
_INFER_ANSWER = {
    "200": {
        "description": "The outputs: JSON, or with binary outputs asked for, the JSON header "
        "(its length in Inference-Header-Content-Length) followed by the outputs' bytes.",
        "content": {
            _JSON: {
                "schema": {
                    "type": "object",
                    "required": ["model_name", "outputs"],
                    "properties": {
                        "model_name": {"type": "string"},
                        "model_version": {"type": "string"},
                        "id": {"type": "string"},
                        "outputs": {"type": "array", "items": {"type": "object"}},
                    },
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_INFER_BODY = {
    "responses": _INFER_ANSWER,
    "requestBody": {
        "required": True,
        "content": {
            _JSON: {
                "schema": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "parameters": {"type": "object"},
                        "inputs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "shape", "datatype"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "shape": {"type": "array", "items": {"type": "integer"}},
                                    "datatype": {"type": "string"},
                                    "parameters": {"type": "object"},
                                    "data": {"type": "array", "items": {}},
                                },
                            },
                        },
                        "outputs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "parameters": {"type": "object"},
                                },
                            },
                        },
                    },
                }
            }
        },
    },
}


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type=_JSON)


def _problem(exc: StranglerError, request: Request) -> Response:
    body = problem_body(exc, request.url.path)
    body["error"] = exc.message
    return problem_json(body)


_OPERATION_IDS = {
    "/v2": "serverMetadata",
    "/v2/health/live": "serverLive",
    "/v2/health/ready": "serverReady",
    "/v2/models/{name}": "modelMetadata",
    "/v2/models/{name}/versions/{version}": "modelVersionMetadata",
    "/v2/models/{name}/ready": "modelReady",
    "/v2/models/{name}/versions/{version}/ready": "modelVersionReady",
    "/v2/models/{name}/config": "modelConfig",
    "/v2/models/{name}/versions/{version}/config": "modelVersionConfig",
    "/v2/models/{name}/infer": "modelInfer",
    "/v2/models/{name}/versions/{version}/infer": "modelVersionInfer",
    "/v2/repository/index": "repositoryIndex",
    "/v2/repository/models/{name}/load": "repositoryModelLoad",
}
"""Operation ids of the v2 routes, named as the protocol's own documents name them."""


def v2_router(server: ModelServer) -> APIRouter:
    """The v2 routes over ``server``'s models."""
    router = APIRouter(tags=_TAGS)

    def guarded(
        handler: Callable[..., Awaitable[Response]], path: str
    ) -> Callable[..., Awaitable[Response]]:
        async def call(request: Request, **params: str) -> Response:
            try:
                return await handler(request, **params)
            except StranglerError as exc:
                return _problem(exc, request)

        call.__name__ = handler.__name__
        call.__doc__ = handler.__doc__
        call.__signature__ = _signature(re.findall(r"\{(\w+)\}", path))  # type: ignore[attr-defined]
        return call

    async def server_metadata(request: Request) -> Response:
        """Server metadata: name, version, protocol extensions."""
        return _json(
            {
                "name": "strangler",
                "version": "1",
                "extensions": ["binary_tensor_data", "model_repository"],
            }
        )

    async def live(request: Request) -> Response:
        """Liveness of the server."""
        return _json({"live": True})

    async def ready(request: Request) -> Response:
        """Readiness: 200 once the repository was read and every named model is served."""
        if server.ready():
            return _json({"ready": True})
        detail = "the model repository is not read yet, or a model named in the spec has no version"
        body = {
            "type": TYPE_PREFIX + "not-ready",
            "title": "Not ready",
            "status": 503,
            "detail": detail,
            "instance": request.url.path,
            "ready": False,
            "error": detail,
        }
        return problem_json(body)

    async def model_metadata(request: Request, name: str, version: str | None = None) -> Response:
        """The model's tensors, and its metadata under ``parameters``."""
        return _json(server.describe(server.model(name, version)))

    async def model_ready(request: Request, name: str, version: str | None = None) -> Response:
        """Whether the model (version) is served."""
        served = server.model(name, version)
        return _json({"name": served.name, "version": served.version, "ready": True})

    async def model_config(request: Request, name: str, version: str | None = None) -> Response:
        """The model's configuration as Triton states it (max_batch_size, dims, batching)."""
        return _json(server.config(server.model(name, version)))

    async def infer(request: Request, name: str, version: str | None = None) -> Response:
        """Run the model on v2 tensors (JSON, or binary after the JSON header)."""
        return await _infer(server, request, name, version)

    async def repository_index(request: Request) -> Response:
        """Every model version the repository offers, and its state."""
        return _json(server.index())

    async def load(request: Request, name: str) -> Response:
        """Read the model's versions again now (new ones go live, removed ones retire)."""
        report = await server.reload(name)
        return _json({"loaded": report.loaded, "retired": report.retired, "failed": report.failed})

    get: dict[str, Any] = {"methods": ["GET"], "responses": _ERRORS}
    post: dict[str, Any] = {"methods": ["POST"], "responses": _ERRORS}
    routes: list[tuple[str, Callable[..., Awaitable[Response]], dict[str, Any]]] = [
        ("/v2", server_metadata, get),
        ("/v2/health/live", live, get),
        ("/v2/health/ready", ready, get),
        ("/v2/models/{name}", model_metadata, get),
        ("/v2/models/{name}/versions/{version}", model_metadata, get),
        ("/v2/models/{name}/ready", model_ready, get),
        ("/v2/models/{name}/versions/{version}/ready", model_ready, get),
        ("/v2/models/{name}/config", model_config, get),
        ("/v2/models/{name}/versions/{version}/config", model_config, get),
        ("/v2/models/{name}/infer", infer, {**post, "openapi_extra": _INFER_BODY}),
        (
            "/v2/models/{name}/versions/{version}/infer",
            infer,
            {**post, "openapi_extra": _INFER_BODY},
        ),
        ("/v2/repository/index", repository_index, post),
        ("/v2/repository/models/{name}/load", load, post),
    ]

    for path, handler, options in routes:
        versioned = "{version}" in path
        extra = {**options.pop("openapi_extra", {}), **operation_ids(_OPERATION_IDS[path])}
        router.add_api_route(
            path,
            guarded(handler, path),
            name=f"v2_{handler.__name__}" + ("_version" if versioned else ""),
            summary=(handler.__doc__ or "").split("\n")[0].rstrip("."),
            openapi_extra=extra,
            **options,
        )
    return router


async def _infer(server: ModelServer, request: Request, name: str, version: str | None) -> Response:
    started = perf_counter()
    body = await request.body()
    headers = request.headers
    content, header = await _answer(
        server,
        name,
        version,
        body,
        headers.get("content-encoding"),
        headers.get("inference-header-content-length"),
        started,
    )
    if header is None:
        return Response(content, media_type=_JSON)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(header)},
    )


async def _answer(
    server: ModelServer,
    name: str,
    version: str | None,
    body: bytes,
    encoding: str | None,
    header_length: str | None,
    started: float,
) -> tuple[bytes, int | None]:
    """The response body of an infer request, and its JSON header's length when binary
    outputs follow it."""
    served: ServedModel = server.model(name, version)
    try:
        if encoding and encoding != "identity":
            body = inflate(served.name, body, encoding)
        decoded = decode_request(served.name, served.signature, body, header_length)
    except StranglerError:
        served.metrics.requests.inc()
        served.metrics.bad_input.inc()
        raise
    outputs = await served.run(decoded.inputs, started)
    return encode_response(served.name, served.version, served.signature, decoded, outputs)


_JSON_HEADERS = [(b"content-type", b"application/json")]
_BINARY_HEADERS = [(b"content-type", b"application/octet-stream")]


class _FastInfer:
    """``infer`` as a bare ASGI app: no request object, no response object."""

    def __init__(self, server: ModelServer) -> None:
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        encoding = length = None
        for key, value in scope["headers"]:
            if key == b"content-encoding":
                encoding = value.decode("latin-1")
            elif key == b"inference-header-content-length":
                length = value.decode("latin-1")
        params = scope["path_params"]
        try:
            content, header = await _answer(
                self.server,
                params["name"],
                params.get("version"),
                chunks[0] if len(chunks) == 1 else b"".join(chunks),
                encoding,
                length,
                started,
            )
        except StranglerError as exc:
            body = problem_body(exc, scope["path"])
            body["error"] = exc.message
            await problem_json(body)(scope, receive, send)
            return
        headers = _JSON_HEADERS if header is None else _BINARY_HEADERS
        extra = [(b"content-length", str(len(content)).encode())]
        if header is not None:
            extra.append((b"inference-header-content-length", str(header).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers + extra})
        await send({"type": "http.response.body", "body": content})


def fast_routes(server: ModelServer) -> list[Route]:
    """The ``infer`` paths as bare ASGI routes (see the module's docstring)."""
    app = _FastInfer(server)
    return [
        Route(path, app, methods=["POST"], include_in_schema=False)
        for path in ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer")
    ]


def _signature(names: list[str]) -> inspect.Signature:
    """``(request, <path parameters as str>)``: what FastAPI passes the route."""
    kind = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature(
        [
            inspect.Parameter("request", kind, annotation=Request),
            *(inspect.Parameter(n, kind, annotation=str) for n in names),
        ],
        return_annotation=Response,
    )
