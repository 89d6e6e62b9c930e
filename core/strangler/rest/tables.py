"""FastAPI routes per table, mounted by the app under ``/database/{system}``.

Named by the ``database`` kind's registration; the adapter behind them knows
no HTTP (it raises the project's errors, mapped in :mod:`.problems`).

=========  ======================  ==========================================
method     path                    what
=========  ======================  ==========================================
GET        ``/{table}``            a page: ``{"items": [...], "next_cursor"}``
GET        ``/{table}/{key}``      one row (key values comma-separated)
POST       ``/{table}``            insert (201, ``Location``)      writes only
PATCH      ``/{table}/{key}``      change some columns              writes only
DELETE     ``/{table}/{key}``      delete (204)                     writes only
=========  ======================  ==========================================

Tables are read-only unless the spec says ``writes: true``; a write to a
read-only table is answered 405 (problem+json), and the OpenAPI document shows
no write routes for it.

``Location`` names the new row by its key (see ``rows.key_text``), with the
system, table and key percent-encoded (UTF-8), so any name or key — spaces,
``/``, ``?``, ``€``, control characters — leads back to the same row; a key
segment may hold ``/`` (the route takes the rest of the path). A write that
succeeded is answered 201 even when no ``Location`` can be made.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Request
from fastapi import Path as PathParam
from pydantic import BaseModel
from starlette.responses import Response

from strangler.adapters.db.meta import TableInfo
from strangler.adapters.db.models import body_values
from strangler.adapters.db.rows import key_text
from strangler.errors import NotAllowed
from strangler.platform.naming import camel
from strangler.rest.encoding import JSONResponse
from strangler.rest.naming import operation_ids
from strangler.rest.problems import problem_responses
from strangler.rest.table_params import list_parameters

if TYPE_CHECKING:
    from strangler.adapters.db.adapter import DatabaseAdapter

__all__ = ["build_router", "location"]

log = logging.getLogger(__name__)

_PROBLEMS = problem_responses(
    {
        400: "A bad filter, sort, fields, limit, offset, cursor or key (named in errors[].path).",
        404: "No such row.",
        405: "The table is read-only.",
        422: "The body does not fit the table, or the database refused it.",
        502: "The database failed.",
        503: "The database cannot be reached; see Retry-After.",
        504: "The statement did not finish in time.",
    }
)


def build_router(adapter: DatabaseAdapter) -> APIRouter:
    router = APIRouter(tags=[adapter.system])
    for table in adapter.tables.values():
        _read_routes(router, adapter, table)
        if table.writes:
            _write_routes(router, adapter, table)
        else:
            _refusals(router, adapter, table)
    return router


def location(system: str, table: TableInfo, row: Mapping[str, Any]) -> str | None:
    """The path of ``row`` (answered JSON), percent-encoded; None without its key."""
    if not all(row.get(name) is not None for name in table.key):
        return None
    key = key_text([row[name] for name in table.key])
    parts = (system, table.name, key)
    return "/database/" + "/".join(quote(p, safe="," if p is key else "") for p in parts)


def _ids(adapter: DatabaseAdapter, table: TableInfo, verb: str) -> dict[str, Any]:
    """Operation ids for ``verb`` on ``table``: ``listOrders``, ``getOrdersByKey``...,
    system-qualified where another system has the same table."""
    by_key = ("ByKey",) if verb in ("get", "update", "delete") else ()
    return operation_ids(
        camel(verb, table.name, *by_key), camel(verb, adapter.system, table.name, *by_key)
    )


def _signed(function: Callable[..., Any], *params: inspect.Parameter) -> Callable[..., Any]:
    """Give a route function the signature FastAPI reads (the models are dynamic)."""
    function.__signature__ = inspect.Signature(list(params))  # type: ignore[attr-defined]
    return function


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    kind = inspect.Parameter.KEYWORD_ONLY
    return inspect.Parameter(name, kind, annotation=annotation, default=default)


def _read_routes(router: APIRouter, adapter: DatabaseAdapter, table: TableInfo) -> None:
    models = adapter.models[table.name]
    keys = ",".join(table.key)

    async def list_page(request: Request) -> Response:
        page = await adapter.rows.list_json(table, request.query_params.multi_items())
        if isinstance(page, bytes):  # written by the database: passed through as it is
            return Response(page, media_type="application/json")
        return JSONResponse(page)

    async def list_rows(request: Request, **_: Any) -> Response:
        return await list_page(request)

    params = list_parameters(
        table, default_limit=adapter.spec.default_page_size, max_limit=adapter.spec.max_page_size
    )
    # The list route reads its query string itself (``RowService.list_json`` checks
    # it): the route answering takes the request alone, and the one after it, with
    # the same path, only documents the parameters. FastAPI would otherwise read
    # and validate every documented parameter (one per column) on every request.
    router.add_api_route(
        f"/{table.name}",
        _signed(list_page, _param("request", Request)),
        methods=["GET"],
        include_in_schema=False,
        response_class=JSONResponse,
    )
    router.add_api_route(
        f"/{table.name}",
        _signed(list_rows, _param("request", Request), *params),
        methods=["GET"],
        openapi_extra=_ids(adapter, table, "list"),
        summary=f"List {table.name}",
        description=(
            'A page of rows: `{"items": [...], "next_cursor"}`. Filters are '
            "`?Column=op.value`, ANDed (each column's parameter lists the operators its type "
            "takes); `sort=-A,B` (the key is added last), `fields=A,B`, `limit`, and `offset` "
            "or `cursor` (the previous page's `next_cursor`). A bad one is a 400 naming it."
        ),
        responses={200: {"model": models.page}, **_PROBLEMS},
        response_class=JSONResponse,
    )

    async def get_row(key: str) -> JSONResponse:
        return JSONResponse(await adapter.rows.get(table, key))

    key_doc = PathParam(description=f"{keys}, comma-separated in this order")
    router.add_api_route(
        f"/{table.name}/{{key:path}}",
        _signed(get_row, _param("key", Annotated[str, key_doc])),
        methods=["GET"],
        openapi_extra=_ids(adapter, table, "get"),
        summary=f"Get one {table.name} by {keys}",
        responses={200: {"model": models.row}, **_PROBLEMS},
        response_class=JSONResponse,
    )


def _refusals(router: APIRouter, adapter: DatabaseAdapter, table: TableInfo) -> None:
    """Writes to a read-only table: 405 saying why (hidden from the OpenAPI document)."""

    async def refuse() -> None:
        raise NotAllowed(
            f"{table.name} is read-only: the spec does not allow writes", allowed=("GET", "HEAD")
        )

    for path, methods in (
        (f"/{table.name}", ["POST"]),
        (f"/{table.name}/{{key:path}}", ["PATCH", "PUT", "DELETE"]),
    ):
        router.add_api_route(path, refuse, methods=methods, include_in_schema=False)


def _write_routes(router: APIRouter, adapter: DatabaseAdapter, table: TableInfo) -> None:
    models = adapter.models[table.name]
    assert models.create is not None and models.update is not None
    keys = ",".join(table.key)

    async def insert(body: BaseModel) -> JSONResponse:
        row = await adapter.rows.insert(table, body_values(body))
        headers = {}
        try:  # committed: nothing here may turn the answer into an error
            path = location(adapter.system, table, row)
        except Exception:
            log.exception("no Location for a new %s row", table.name)
            path = None
        if path is not None:
            headers["Location"] = path
        return JSONResponse(row, status_code=201, headers=headers)

    async def update(key: str, body: BaseModel) -> JSONResponse:
        return JSONResponse(await adapter.rows.update(table, key, body_values(body)))

    async def delete(key: str) -> Response:
        await adapter.rows.delete(table, key)
        return Response(status_code=204)

    key_param = _param("key", Annotated[str, PathParam(description=f"{keys}, comma-separated")])
    router.add_api_route(
        f"/{table.name}",
        _signed(insert, _param("body", Annotated[models.create, Body()])),
        methods=["POST"],
        status_code=201,
        openapi_extra=_ids(adapter, table, "insert"),
        summary=f"Insert a {table.name}",
        responses={201: {"model": models.row}, **_PROBLEMS},
        response_class=JSONResponse,
    )
    router.add_api_route(
        f"/{table.name}/{{key:path}}",
        _signed(update, key_param, _param("body", Annotated[models.update, Body()])),
        methods=["PATCH"],
        openapi_extra=_ids(adapter, table, "update"),
        summary=f"Change a {table.name}",
        responses={200: {"model": models.row}, **_PROBLEMS},
        response_class=JSONResponse,
    )
    router.add_api_route(
        f"/{table.name}/{{key:path}}",
        _signed(delete, key_param),
        methods=["DELETE"],
        status_code=204,
        openapi_extra=_ids(adapter, table, "delete"),
        summary=f"Delete a {table.name}",
        responses=_PROBLEMS,
        response_class=Response,
    )
