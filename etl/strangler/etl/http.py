"""The feature tables over HTTP: the :class:`~strangler.etl.serving.FeatureReader`'s routes.

For each view and service of the spec's ``features:`` section (``{name}``):

* ``GET /features``: the views and services, their entities, features and load state;
* ``GET /features/{name}/latest?<entity>=<value>``: one entity's newest values;
* ``POST /features/{name}/latest`` ``{"entities": [{...}]}``: many entities' newest values;
* ``POST /features/{name}/as-of`` ``{"entities": [{...}], "at": time or [times]}``:
  values as they were at the time (one for all entities, or one per entity), point
  in time: nothing from after the time is read.

Answers are ``{"rows": [...]}`` in the order asked, one row per entity; features
are ``null`` where nothing was loaded for the entity (or, as of a time, nothing
before it). Decimals are strings, times ISO 8601; a time without a zone is UTC.
"""

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from strangler.adapters.db.values import plain_json
from strangler.errors import BadQuery, InputProblem
from strangler.etl.serving import FeatureReader
from strangler.platform.naming import model_name, pascal
from strangler.rest.naming import operation_ids
from strangler.rest.problems import problem_responses

__all__ = ["features_router"]

MAX_ENTITIES = 1000
"""Entities per request, so one call cannot ask for a whole table."""

_Scalar = str | int | float | bool
_PROBLEMS = problem_responses(
    {
        400: "An entity column missing from the query, or an unknown query parameter.",
        422: "An entity value that does not fit the stored kind, or bad times.",
    }
)


class FeatureInfo(BaseModel):
    """A view or service that can be read."""

    name: str
    views: list[str] = Field(description="The views read (a view is its own only one).")
    entity: list[str]
    features: list[str] | None = Field(
        description="Declared features (null: every column but entity and time)."
    )
    schedule: str | None = None


class FeatureList(BaseModel):
    items: list[FeatureInfo]


class Rows(BaseModel):
    """One row per entity asked for, in the same order."""

    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, Any]] = Field(
        description="The entity's columns, the features, and eventTime (a view) or "
        "eventTimes by view (a service)."
    )


def features_router(reader: FeatureReader) -> APIRouter:
    """The routes of the reader's views and services (see the module's docstring)."""
    router = APIRouter(tags=["features"])

    async def list_features() -> FeatureList:
        items = []
        for name in reader.names:
            members = reader.members(name)
            view = reader.spec.views.get(name)
            items.append(
                FeatureInfo(
                    name=name,
                    views=members,
                    entity=reader.entity_of(name),
                    features=None if view is None or view.features is None else view.features,
                    schedule=None if view is None else view.schedule,
                )
            )
        return FeatureList(items=items)

    router.add_api_route(
        "/features",
        list_features,
        methods=["GET"],
        summary="The feature views and services",
        response_model=FeatureList,
        openapi_extra=operation_ids("listFeatures"),
    )
    for name in reader.names:
        _add_routes(router, reader, name)
    return router


def _add_routes(router: APIRouter, reader: FeatureReader, name: str) -> None:
    entity = reader.entity_of(name)
    title = model_name("features", name)
    key_model: Any = create_model(  # type: ignore[call-overload]
        f"{title}Key",
        __config__=ConfigDict(extra="forbid"),
        **{column: (_Scalar, ...) for column in entity},
    )
    latest_model: Any = create_model(
        f"{title}LatestRequest",
        __config__=ConfigDict(extra="forbid"),
        entities=(Annotated[list[key_model], Field(min_length=1, max_length=MAX_ENTITIES)], ...),
    )
    as_of_model: Any = create_model(
        f"{title}AsOfRequest",
        __config__=ConfigDict(extra="forbid"),
        entities=(Annotated[list[key_model], Field(min_length=1, max_length=MAX_ENTITIES)], ...),
        at=(
            dt.datetime | Annotated[list[dt.datetime], Field(max_length=MAX_ENTITIES)],
            Field(description="One time for every entity, or one per entity."),
        ),
    )
    stem = pascal(name)

    async def one_latest(request: Request) -> JSONResponse:
        given = dict(request.query_params)
        missing = [c for c in entity if c not in given]
        unknown = sorted(set(given) - set(entity))
        if missing or unknown:
            problems = [InputProblem(c, "required") for c in missing]
            problems += [InputProblem(c, "not an entity column") for c in unknown]
            raise BadQuery(f"give {', '.join(entity)} as query parameters", problems)
        rows = await asyncio.to_thread(reader.latest, name, [given])
        return _answer(rows)

    async def many_latest(body: latest_model) -> JSONResponse:
        entities = [k.model_dump() for k in body.entities]
        return _answer(await asyncio.to_thread(reader.latest, name, entities))

    async def as_of(body: as_of_model) -> JSONResponse:
        entities = [k.model_dump() for k in body.entities]
        at = body.at
        times = [at] * len(entities) if isinstance(at, dt.datetime) else list(at)
        times = [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in times]
        return _answer(await asyncio.to_thread(reader.as_of, name, entities, times))

    params = [
        {"name": c, "in": "query", "required": True, "schema": {"type": "string"}} for c in entity
    ]
    router.add_api_route(
        f"/features/{name}/latest",
        one_latest,
        methods=["GET"],
        summary=f"{name}: one entity's newest values",
        response_model=Rows,
        responses=_PROBLEMS,
        openapi_extra={"parameters": params, **operation_ids(f"get{stem}Latest")},
    )
    router.add_api_route(
        f"/features/{name}/latest",
        many_latest,
        methods=["POST"],
        summary=f"{name}: the newest values of many entities",
        response_model=Rows,
        responses=_PROBLEMS,
        openapi_extra=operation_ids(f"read{stem}Latest"),
    )
    router.add_api_route(
        f"/features/{name}/as-of",
        as_of,
        methods=["POST"],
        summary=f"{name}: values as they were at a time (point in time)",
        response_model=Rows,
        responses=_PROBLEMS,
        openapi_extra=operation_ids(f"read{stem}AsOf"),
    )


def _answer(rows: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"rows": [plain_json(row) for row in rows]})
