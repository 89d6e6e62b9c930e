"""The project's errors as RFC 9457 ``application/problem+json`` answers.

This is the only place that knows which HTTP status each error gets.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from strangler.errors import (
    BadQuery,
    InvalidInput,
    LegacyError,
    LegacyFault,
    LegacyProtocolError,
    LegacyTimeout,
    LegacyUnavailable,
    StranglerError,
    UnknownOperation,
)

__all__ = ["MEDIA_TYPE", "PROBLEM_RESPONSES", "Problem", "install_problem_handlers", "problem_for"]

MEDIA_TYPE = "application/problem+json"
_TYPE = "urn:strangler:problem:"


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
        422: "The request body does not fit the operation's schema.",
        502: "The legacy system failed, could not be reached, or sent a server fault.",
        503: "The legacy system is failing; calls are paused by the circuit breaker.",
        504: "The legacy system did not answer in time.",
    }
)


def problem_response(
    status: int, kind: str, title: str, detail: str | None, instance: str | None, **extra: Any
) -> Response:
    body: dict[str, Any] = {"type": _TYPE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {}
    retry_after = extra.get("retry_after_s")
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return Response(
        orjson.dumps(body, default=str), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def problem_for(exc: StranglerError, instance: str | None = None) -> Response:
    """The problem answer for one of the project's errors."""
    if isinstance(exc, LegacyFault):
        fault = exc.fault
        return problem_response(
            400 if exc.client_error else 502,
            "legacy-fault",
            "The legacy system answered with a fault",
            fault.message,
            instance,
            system=exc.system,
            operation=exc.operation,
            faultcode=fault.code,
            faultstring=fault.message,
            faultactor=fault.actor,
            subcodes=fault.subcodes or None,
            faultdetail=fault.detail,
        )
    if isinstance(exc, LegacyTimeout):
        return _legacy(
            504, "legacy-timeout", "The legacy system did not answer in time", exc, instance
        )
    if isinstance(exc, LegacyUnavailable):
        if exc.circuit_open:
            return _legacy(
                503,
                "circuit-open",
                "The legacy system is failing",
                exc,
                instance,
                retry_after_s=exc.retry_after_s,
            )
        if exc.retry_after_s is not None:
            return _legacy(
                503,
                "legacy-unavailable",
                "The legacy system is unavailable",
                exc,
                instance,
                retry_after_s=exc.retry_after_s,
            )
        return _legacy(
            502, "legacy-unavailable", "The legacy system cannot be reached", exc, instance
        )
    if isinstance(exc, LegacyProtocolError):
        return _legacy(502, "legacy-protocol", "The legacy system answered badly", exc, instance)
    if isinstance(exc, LegacyError):
        return _legacy(502, "legacy-error", "The legacy system failed", exc, instance)
    if isinstance(exc, UnknownOperation):
        return problem_response(
            404, "unknown-operation", "No such operation", exc.message, instance
        )
    if isinstance(exc, BadQuery):
        errors = [{"path": p.path, "message": p.message} for p in exc.problems] or None
        return problem_response(
            400, "bad-query", "The query is not valid", exc.message, instance, errors=errors
        )
    if isinstance(exc, InvalidInput):
        errors = [{"path": p.path, "message": p.message} for p in exc.problems] or None
        return problem_response(
            422,
            "invalid-input",
            "The request does not fit the operation",
            exc.message,
            instance,
            errors=errors,
        )
    return problem_response(500, "internal", "Internal error", exc.message, instance)


def _legacy(
    status: int, kind: str, title: str, exc: LegacyError, instance: str | None, **extra: Any
) -> Response:
    return problem_response(
        status,
        kind,
        title,
        exc.message,
        instance,
        system=exc.system,
        operation=exc.operation,
        **extra,
    )


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


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of the app with problem+json."""

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
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, kind, str(exc.detail), None, request.url.path)
