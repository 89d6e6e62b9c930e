"""The JSON-RPC routes the edge cannot build from operations: notifications and
batches. See ``BATCH_DESCRIPTION`` for the batch contract.

Named by the ``jsonrpc`` kind's registration; the adapter itself knows no HTTP.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field, create_model
from starlette.responses import Response

from strangler.platform.naming import camel
from strangler.platform.operations import Operation
from strangler.rest.encoding import JSONResponse
from strangler.rest.naming import operation_ids, route_candidates
from strangler.rest.problems import PROBLEM_RESPONSES, Problem, problem_body

if TYPE_CHECKING:
    from strangler.adapters.rpc.jsonrpc import JsonRpcAdapter

__all__ = ["BATCH_DESCRIPTION", "BatchItem", "build_router"]


BATCH_DESCRIPTION = """\
Several calls in one JSON-RPC batch request.

The body is a JSON array of calls, each `{"method": name, "params": ...}` where
`params` has the shape of that method's own route's body (typed per method below,
chosen by `method`; notification methods may be part of a batch).

The answer is 200 with an array of the same length and order. Each item is
`{"method", "status": 200, "result"}`, `{"method", "status": 202}` for a
notification, or `{"method", "status", "problem"}` where `status` and the RFC 9457
`problem` are what the call alone would have answered.

Trouble with the whole batch (unreachable, timeout, an unreadable answer, one
error object for the whole batch) is one problem+json answer, as for a single
call. A batch is retried only when every call in it is safe.
"""

_PROBLEMS: dict[int | str, dict[str, Any]] = PROBLEM_RESPONSES


class BatchItem(BaseModel):
    """The outcome of one call of a batch, at the call's position."""

    method: str
    status: int = Field(
        description="200: `result` holds the answer. 202: a notification, sent. "
        "Otherwise the status a single call would have had; `problem` says why."
    )
    result: Any = Field(default=None, description="The method's result (status 200 only).")
    problem: Problem | None = Field(default=None, description="Why the call failed.")


_STATUS = {"ok": 200, "sent": 202}


def _item(outcome: dict[str, Any], instance: str) -> dict[str, Any]:
    """One batch outcome as answered: the call's status, its result or its problem."""
    error = outcome.get("error")
    if error is not None:
        problem = problem_body(error, instance)
        return {"method": outcome["method"], "status": problem["status"], "problem": problem}
    item = {"method": outcome["method"], "status": _STATUS[outcome["status"]]}
    if outcome["status"] == "ok":
        item["result"] = outcome.get("result")
    return item


def build_router(adapter: JsonRpcAdapter) -> APIRouter:
    """Notification routes and the batch route of ``adapter``."""
    router = APIRouter(tags=[adapter.system])
    for operation in adapter.notifications():
        router.add_api_route(
            f"/{operation.name}",
            _notify_endpoint(adapter, operation),
            methods=["POST"],
            status_code=202,
            response_class=Response,
            openapi_extra=operation_ids(*route_candidates(adapter.system, operation.route)),
            summary=operation.summary,
            description=operation.description,
            responses={202: {"description": "Sent as a notification: no result."}, **_PROBLEMS},
        )
    router.add_api_route(
        "/_batch",
        _batch_endpoint(adapter),
        methods=["POST"],
        response_class=JSONResponse,
        openapi_extra=operation_ids("batch", camel(adapter.system, "batch")),
        summary="Several calls in one JSON-RPC batch",
        description=BATCH_DESCRIPTION,
        responses={
            200: {"model": list[BatchItem], "description": "One item per call."},
            **_PROBLEMS,
        },
    )
    return router


def _is_required(model: type[BaseModel]) -> bool:
    return any(f.is_required() for f in model.model_fields.values())


def _body(model: Any, required: bool) -> inspect.Parameter:
    return inspect.Parameter(
        "payload",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[model if required else model | None, Body()],
        default=inspect.Parameter.empty if required else None,
    )


def _notify_endpoint(
    adapter: JsonRpcAdapter, operation: Operation[Any]
) -> Callable[..., Awaitable[Response]]:
    model = operation.input_model
    required = _is_required(model)

    async def notify(payload: BaseModel | None = None) -> Response:
        await adapter.notify(operation, payload if payload is not None else model())
        return Response(status_code=202)

    notify.__signature__ = inspect.Signature([_body(model, required)])  # type: ignore[attr-defined]
    return notify


def _call_model(adapter: JsonRpcAdapter, operation: Operation[Any]) -> type[BaseModel]:
    """``{"method": <this method>, "params": <its body>}``."""
    names = operation.target.names
    if names is None:  # raw params: the body's one field, as it is
        field = operation.input_model.model_fields["params"]
        default: list[Any] | None = [] if operation.target.by_position else None
        params: Any = (field.annotation, Field(default=default))
    elif _is_required(operation.input_model):
        params = (operation.input_model, ...)
    else:
        params = (operation.input_model | None, None)
    method: Any = Literal[operation.name]
    model: type[BaseModel] = create_model(
        adapter.factory.name(operation.name, "Call"), method=(method, ...), params=params
    )
    return model


def _batch_endpoint(adapter: JsonRpcAdapter) -> Callable[..., Awaitable[JSONResponse]]:
    operations = adapter.methods
    models = [_call_model(adapter, op) for op in operations.values()]
    call: Any = models[0]
    if len(models) > 1:
        call = Annotated[Union[tuple(models)], Field(discriminator="method")]  # noqa: UP007
    calls: Any = Annotated[list[call], Field(min_length=1, max_length=adapter.spec.max_batch)]

    async def batch(request: Request, payload: list[BaseModel]) -> JSONResponse:
        pairs = []
        for item in payload:
            operation = operations[getattr(item, "method")]  # noqa: B009
            params = getattr(item, "params")  # noqa: B009
            if params is None and operation.target.names is not None:
                params = operation.input_model()
            pairs.append((operation, params))
        outcomes = await adapter.batch(pairs)
        return JSONResponse([_item(outcome, request.url.path) for outcome in outcomes])

    batch.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
            inspect.Parameter(
                "payload", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[calls, Body()]
            ),
        ]
    )
    return batch
