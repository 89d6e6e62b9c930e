"""The canary controller's admin API.

``GET /admin/canary``: every rollout's status; ``GET /admin/canary/{route}``:
one; ``GET /admin/canary/{route}/analyses?since=&limit=``: its analyses,
oldest first (for charts); ``GET /admin/canary/{route}/audit?limit=``: its
changes, newest first; ``POST /admin/canary/{route}/{action}`` (``pause``,
``resume``, ``promote``, ``rollback``) with an optional ``{"reason": ...}``:
the change, by the actor named in the ``X-Strangler-Actor`` header
(``admin-api`` when absent), answered with the new status. A route without a
rollout is 404; an action its present status does not allow is 409.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from strangler.canary.controller import Action

if TYPE_CHECKING:
    from strangler.canary.controller import Controller

__all__ = ["ACTOR_HEADER", "SUMMARIES", "CanaryChange", "canary_router"]

ACTOR_HEADER = "X-Strangler-Actor"


class CanaryChange(BaseModel):
    """Why a rollout is paused, resumed, promoted or rolled back (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=500)] | None = None


def canary_router(controller: Controller) -> APIRouter:
    """The routes of the canary admin API over ``controller``."""
    router = APIRouter(prefix="/admin/canary", tags=["canary admin"])

    @router.get("", summary="Every rollout's status", operation_id="listRollouts")
    async def list_rollouts() -> dict[str, Any]:
        return {"items": await controller.statuses()}

    @router.get("/{route}", summary="A route's rollout status", operation_id="getRollout")
    async def get_rollout(route: str) -> dict[str, Any]:
        return await controller.status(route)

    @router.get(
        "/{route}/analyses",
        summary="A rollout's analyses, oldest first",
        operation_id="listRolloutAnalyses",
    )
    async def list_analyses(
        route: str,
        since: Annotated[
            dt.datetime | None, Query(description="Only analyses at or after this.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> dict[str, Any]:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        return {"items": await controller.analyses(route, since, limit)}

    @router.get(
        "/{route}/audit",
        summary="A rollout's changes, newest first",
        operation_id="listRolloutAudit",
    )
    async def list_audit(
        route: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> dict[str, Any]:
        return {"items": await controller.audit(route, limit)}

    for action, summary in SUMMARIES.items():
        _add_change(router, controller, action, summary)

    return router


SUMMARIES: dict[Action, str] = {
    "pause": "Pause a rollout (the split stays)",
    "resume": "Resume a rollout (after a rollback: from its first step)",
    "promote": "Promote a rollout to its next step now",
    "rollback": "Roll a rollout back to legacy now",
}


def _add_change(router: APIRouter, controller: Controller, action: Action, summary: str) -> None:
    """``POST /admin/canary/{route}/{action}``: one path per action (so the reads beside them
    answer 405 to a POST, not a 422 about the action)."""

    async def change_rollout(
        route: str,
        change: Annotated[CanaryChange | None, Body()] = None,
        actor: Annotated[
            str | None, Header(alias=ACTOR_HEADER, max_length=128, description="Who asks.")
        ] = None,
    ) -> dict[str, Any]:
        reason = change.reason if change is not None else None
        return await controller.act(route, action, reason=reason, actor=actor or "admin-api")

    router.add_api_route(
        f"/{{route}}/{action}",
        change_rollout,
        methods=["POST"],
        summary=summary,
        operation_id=f"{action}Rollout",
    )
