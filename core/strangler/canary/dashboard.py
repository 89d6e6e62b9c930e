"""The rollout dashboard at ``/_strangler/``: every route's step, split, figures and buttons.

A page of the app itself: ``index.html``, ``dashboard.js`` and
``dashboard.css`` from the ``static`` folder beside this module, written by
hand (charts are SVG the script draws; nothing is fetched from elsewhere, so
it works air-gapped). The script reads the JSON the app already serves, every
two seconds:

* ``GET /admin/canary``: each rollout's status, step, split and last analysis;
* ``GET /admin/canary/{route}/analyses``: error rate, p99 latency and
  disagreement rate over time, drawn with the route's thresholds;
* ``GET /admin/canary/{route}/audit``: the latest changes, and who made them;
* ``GET /admin/routes/{route}/disagreements``: the newest disagreements, the
  legacy and modern answers side by side with their differing paths marked;

and its buttons call ``POST /admin/canary/{route}/{pause|resume|promote|rollback}``
as actor ``dashboard``. The page holds no state of its own: any replica serves it.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = ["PREFIX", "dashboard_router"]

PREFIX = "/_strangler"
_FILES = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}


def _read(name: str) -> bytes:
    return resources.files("strangler.canary").joinpath("static", name).read_bytes()


def dashboard_router() -> APIRouter:
    """``GET /_strangler/`` (the page) and its two files; none in the OpenAPI document."""
    from fastapi import APIRouter
    from fastapi.responses import RedirectResponse, Response

    from strangler.errors import NotFound

    router = APIRouter(include_in_schema=False)
    files = {name: (_read(name), kind) for name, kind in _FILES.items()}
    headers = {"cache-control": "no-cache", "x-content-type-options": "nosniff"}

    @router.get(PREFIX)
    async def dashboard_root() -> Response:
        return RedirectResponse(PREFIX + "/", status_code=308)

    @router.get(PREFIX + "/")
    async def dashboard_page() -> Response:
        body, kind = files["index.html"]
        return Response(body, media_type=kind, headers=headers)

    @router.get(PREFIX + "/{name}")
    async def dashboard_file(name: str) -> Response:
        if name not in files:
            raise NotFound(f"no dashboard file {name!r}")
        body, kind = files[name]
        return Response(body, media_type=kind, headers=headers)

    return router
