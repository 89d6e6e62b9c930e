"""The admin API of the routes' live state: read it, set a route's mode and weight.

``GET /admin/routes`` lists every route's state; ``GET /admin/routes/{route}``
gives one; ``PUT /admin/routes/{route}`` with ``{"mode": ..., "weight": ...}``
(either may be left out: it keeps its value) writes it to the state database,
where every replica reads it within its ``refresh_s``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from strangler.errors import NotFound
from strangler.spec.gateway import Mode

if TYPE_CHECKING:
    from fastapi import APIRouter

    from strangler.gateway.state import LiveState

__all__ = ["RouteStateChange", "admin_router"]


class RouteStateChange(BaseModel):
    """A new mode and/or weight for a route."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode | None = None
    weight: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None, description="The modern share in canary mode (0..1)."
    )


def admin_router(live: LiveState, paths: dict[str, str]) -> APIRouter:
    """The routes of the admin API over ``live`` (``paths``: route name → public path)."""
    from fastapi import APIRouter

    router = APIRouter(prefix="/admin/routes", tags=["gateway admin"])

    def state_of(route: str) -> dict[str, Any]:
        state = live.routes.get(route)
        if state is None:
            raise NotFound(f"no route {route!r} (known: {', '.join(sorted(live.routes))})")
        return {"route": route, "path": paths[route], **state.as_json()}

    @router.get("", summary="Every route's live mode and weight", operation_id="listRoutes")
    async def list_routes() -> dict[str, Any]:
        return {"items": [state_of(name) for name in sorted(live.routes)]}

    @router.get("/{route}", summary="A route's live mode and weight", operation_id="getRoute")
    async def get_route(route: str) -> dict[str, Any]:
        return state_of(route)

    @router.put("/{route}", summary="Set a route's mode and/or weight", operation_id="putRoute")
    async def put_route(route: str, change: RouteStateChange) -> dict[str, Any]:
        current = live.routes.get(route)
        if current is None:
            raise NotFound(f"no route {route!r} (known: {', '.join(sorted(live.routes))})")
        await live.put(
            route,
            change.mode if change.mode is not None else current.mode,
            change.weight if change.weight is not None else current.weight,
        )
        return state_of(route)

    return router
