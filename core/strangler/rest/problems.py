"""The project's errors as RFC 9457 ``application/problem+json`` answers.

This is the only place that knows which HTTP status each error gets: the
table :data:`PROBLEM_TYPES` below, looked up along the error's class
hierarchy (the most specific entry wins). Three errors refine their row from
their own fields: a SOAP ``Client`` fault is 400 rather than 502, an open
circuit is 503 ``circuit-open``, and an outage with a known ``retry_after_s``
is 503 with ``Retry-After``.

Refusals before any operation runs (no route, a method not answered, a body
or URL too large) take their row from ``_HTTP_KINDS`` (:func:`http_problem_body`);
a 405 carries ``Allow`` with the methods the OpenAPI document lists for the
path, and a body that is not readable JSON (not UTF-8, nested too deeply) is
422 ``invalid-input`` like any other body that does not fit.

Every problem has a fixed ``title`` per ``type``; what is particular to this
occurrence goes in ``detail`` and in extension members.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from strangler.errors import (
    BadQuery,
    BadTensor,
    Conflict,
    Forbidden,
    InputTooLarge,
    InvalidInput,
    LegacyDataError,
    LegacyError,
    LegacyFault,
    LegacyProtocolError,
    LegacyTimeout,
    LegacyUnavailable,
    ModelError,
    ModelOverloaded,
    NotAllowed,
    NotFound,
    RateLimited,
    RowNotFound,
    StranglerError,
    Unauthenticated,
    UnknownModel,
    UnknownOperation,
    UpstreamError,
    UpstreamTimeout,
)
from strangler.rest.encoding import dumps

__all__ = [
    "MEDIA_TYPE",
    "PROBLEM_RESPONSES",
    "PROBLEM_TYPES",
    "Problem",
    "ProblemType",
    "http_problem_body",
    "install_problem_handlers",
    "problem_body",
    "problem_for",
    "problem_json",
    "problem_responses",
]

log = logging.getLogger("strangler.rest")

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:strangler:problem:"


@dataclass(frozen=True)
class ProblemType:
    """The status, ``type`` suffix and fixed title of one kind of problem."""

    status: int
    type: str
    title: str


PROBLEM_TYPES: dict[type[StranglerError], ProblemType] = {
    StranglerError: ProblemType(500, "internal", "Internal error"),
    NotFound: ProblemType(404, "not-found", "Not found"),
    UnknownOperation: ProblemType(404, "not-found", "No such operation"),
    RowNotFound: ProblemType(404, "not-found", "No such row"),
    UnknownModel: ProblemType(404, "not-found", "No such model"),
    NotAllowed: ProblemType(405, "method-not-allowed", "Not allowed here"),
    Unauthenticated: ProblemType(401, "unauthenticated", "Credentials are missing or not valid"),
    Forbidden: ProblemType(403, "forbidden", "The credentials do not grant this"),
    RateLimited: ProblemType(429, "rate-limited", "Too many requests"),
    Conflict: ProblemType(409, "conflict", "Not allowed in the present state"),
    InvalidInput: ProblemType(422, "invalid-input", "The request does not fit the operation"),
    BadQuery: ProblemType(400, "bad-query", "The query is not valid"),
    InputTooLarge: ProblemType(413, "too-large", "The request is too large"),
    BadTensor: ProblemType(400, "bad-tensor", "An input tensor does not fit the model"),
    LegacyError: ProblemType(502, "legacy-error", "The legacy system failed"),
    LegacyFault: ProblemType(502, "legacy-fault", "The legacy system answered with a fault"),
    LegacyTimeout: ProblemType(504, "legacy-timeout", "The legacy system did not answer in time"),
    LegacyUnavailable: ProblemType(
        502, "legacy-unavailable", "The legacy system cannot be reached"
    ),
    LegacyProtocolError: ProblemType(502, "legacy-protocol", "The legacy system answered badly"),
    LegacyDataError: ProblemType(
        502, "legacy-data", "A value stored in the legacy system breaks its declared encoding"
    ),
    ModelError: ProblemType(500, "model-error", "The model failed to run"),
    ModelOverloaded: ProblemType(503, "overloaded", "The model has too many requests waiting"),
    UpstreamError: ProblemType(502, "upstream-error", "The route's service failed"),
    UpstreamTimeout: ProblemType(
        504, "upstream-timeout", "The route's service did not answer in time"
    ),
}
"""Error class → problem; an error takes the entry of its nearest class."""

_CLIENT_FAULT = ProblemType(400, "legacy-fault", "The legacy system answered with a fault")
_CIRCUIT_OPEN = ProblemType(503, "circuit-open", "The legacy system is failing")
_PAUSED = ProblemType(503, "legacy-unavailable", "The legacy system is unavailable")
_UNEXPECTED = ProblemType(500, "internal", "Internal error")


class Problem(BaseModel):
    """An RFC 9457 problem; extension members depend on the ``type``."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


def problem_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, each a :class:`Problem`."""
    return {
        status: {"model": Problem, "description": text} for status, text in descriptions.items()
    }


PROBLEM_RESPONSES = problem_responses(
    {
        400: "The legacy system refused the request (a client fault).",
        404: "No such operation.",
        413: "The request body is too large.",
        422: "The request body does not fit the operation's schema.",
        500: "An unexpected error; the answer's request_id is in the server's log.",
        502: "The legacy system failed, could not be reached, or sent a server fault.",
        503: "The legacy system is failing; calls are paused by the circuit breaker.",
        504: "The legacy system did not answer in time.",
    }
)


def problem_type(exc: StranglerError) -> ProblemType:
    """The row of :data:`PROBLEM_TYPES` for ``exc``, refined by its fields."""
    if isinstance(exc, LegacyFault) and exc.client_error:
        return _CLIENT_FAULT
    if isinstance(exc, LegacyUnavailable):
        if exc.circuit_open:
            return _CIRCUIT_OPEN
        if exc.retry_after_s is not None:
            return _PAUSED
    for cls in type(exc).__mro__:
        found = PROBLEM_TYPES.get(cls)
        if found is not None:
            return found
    return _UNEXPECTED


def problem_body(exc: StranglerError, instance: str | None = None) -> dict[str, Any]:
    """The problem document for one of the project's errors (without sending it)."""
    kind = problem_type(exc)
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + kind.type,
        "title": kind.title,
        "status": kind.status,
        "detail": exc.message,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in _extensions(exc).items() if v is not None})
    return body


def _extensions(exc: StranglerError) -> dict[str, Any]:
    if isinstance(exc, BadTensor):
        return {"model": exc.model, "input": exc.input}
    if isinstance(exc, ModelOverloaded):
        return {"model": exc.model, "version": exc.version, "retry_after_s": exc.retry_after_s}
    if isinstance(exc, ModelError | UnknownModel):
        return {"model": exc.model, "version": exc.version}
    if isinstance(exc, Forbidden):
        return {"required_scope": exc.required_scope}
    if isinstance(exc, RateLimited):
        return {"limit": exc.limit, "retry_after_s": exc.retry_after_s}
    if isinstance(exc, InvalidInput):
        return {"errors": [{"path": p.path, "message": p.message} for p in exc.problems] or None}
    if not isinstance(exc, LegacyError):
        return {}
    extra: dict[str, Any] = {"system": exc.system, "operation": exc.operation}
    if isinstance(exc, LegacyFault):
        fault = exc.fault
        extra.update(
            faultcode=fault.code,
            faultstring=fault.message,
            faultactor=fault.actor,
            subcodes=fault.subcodes or None,
            faultdetail=fault.detail,
        )
    if isinstance(exc, LegacyUnavailable):
        extra["retry_after_s"] = exc.retry_after_s
    return extra


def problem_json(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """Send a problem document (``Retry-After`` from its ``retry_after_s``)."""
    headers = dict(headers or {})
    retry_after = body.get("retry_after_s")
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return Response(
        dumps(body, default=str),
        status_code=body["status"],
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def problem_for(exc: StranglerError, instance: str | None = None) -> Response:
    """The problem answer for one of the project's errors."""
    headers = {}
    if isinstance(exc, NotAllowed) and exc.allowed:
        headers["Allow"] = ", ".join(exc.allowed)
    return problem_json(problem_body(exc, instance), headers)


def problem_response(
    status: int, kind: str, title: str, detail: str | None, instance: str | None, **extra: Any
) -> Response:
    """A problem answer built by hand (for errors that are not the project's)."""
    body: dict[str, Any] = {"type": TYPE_PREFIX + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    headers = extra.pop("headers", None)
    body.update({k: v for k, v in extra.items() if v is not None})
    return problem_json(body, headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        errors.append(
            {"path": "/".join(loc) or "/", "message": err.get("msg", ""), "type": err.get("type")}
        )
    return errors


_HTTP_KINDS = {
    400: ("bad-request", "The request is not valid HTTP for this API"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("too-large", "The request is too large"),
    414: ("too-large", "The request URI is too long"),
    431: ("too-large", "The request headers are too large"),
}


def http_problem_body(
    status: int, detail: str | None = None, instance: str | None = None
) -> dict[str, Any]:
    """The problem document for an HTTP-level refusal (no route, bad method, too large...)."""
    kind, title = _HTTP_KINDS.get(status, ("http-error", "HTTP error"))
    body: dict[str, Any] = {"type": TYPE_PREFIX + kind, "title": title, "status": status}
    if detail and detail != title:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    return body


def _unreadable_body(request: Request, cause: BaseException) -> Response:
    why = "nested too deeply" if isinstance(cause, RecursionError) else "not readable JSON"
    if isinstance(cause, UnicodeError):
        why = "not UTF-8"
    message = f"the body is {why}"
    return problem_response(
        422,
        "invalid-input",
        "The request does not fit the operation",
        message,
        request.url.path,
        errors=[{"path": "/", "message": message, "type": "json_invalid"}],
    )


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document lists at the request's path (for ``Allow``)."""
    path = request.scope["path"]
    allowed: set[str] = set()
    for template, item in request.app.openapi().get("paths", {}).items():
        if _template_pattern(template).fullmatch(path):
            allowed.update(method.upper() for method in item if method in _METHODS)
    if "GET" in allowed:
        allowed.add("HEAD")  # answered for every GET route
    return sorted(allowed)


_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of the app with problem+json, unexpected ones included."""

    @app.exception_handler(StranglerError)
    async def _strangler(request: Request, exc: StranglerError) -> Response:
        return problem_for(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc)
        detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
        return problem_response(
            422,
            "invalid-input",
            "The request does not fit the operation",
            detail,
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's "error parsing the body", raised from what json.loads
            # refused without a JSONDecodeError (too deeply nested, not UTF-8).
            return _unreadable_body(request, exc.__cause__)
        detail = str(exc.detail or "")
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not answered here; Allow lists what is"
        body = http_problem_body(exc.status_code, detail, request.url.path)
        return problem_json(body, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # the edge's id for the request (strangler.observability.edge), when it took one
        request_id = request.scope.get("strangler.request_id") or uuid.uuid4().hex
        log.error(
            "unexpected error answering %s %s (request_id=%s)",
            request.method,
            request.url.path,
            request_id,
            exc_info=exc,
        )
        return problem_response(
            500,
            "internal",
            "Internal error",
            "an unexpected error; the server's log has the details under this request_id",
            request.url.path,
            request_id=request_id,
        )
