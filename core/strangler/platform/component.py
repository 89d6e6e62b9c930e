"""The small interface every part of a running strangler implements.

A *component* is anything with a lifetime inside the app: a legacy adapter, an
event stream, a model session, a gateway route table, the SOAP shim. The app
starts every component in its lifespan, closes them in reverse order (also
when a later one fails to start), and asks each for its health on
``/readyz``.

Beside the lifecycle a component may offer *faces*, each a protocol of its own
that the app checks with ``isinstance``:

* :class:`~strangler.platform.operations.OperationSource`: operations with
  typed input and output models, callable in-process (legacy adapters); the
  REST edge serves each as a ``POST`` route, and the gateway, command topics,
  ETL and the shim call them by name.
* :class:`RouteSource`: HTTP routes the component builds itself (a component
  whose own protocol is HTTP, such as an inference endpoint).
* :class:`FastRoutes`: a few hot routes answered ahead of the framework's
  routing (after the request limits), where its per-request work would cost
  more than the route's own.
* :class:`Guard`: stands in front of every route (authentication, scopes,
  rate limits), and declares what it asks for in the OpenAPI document.
* :class:`OwnAuthentication`: paths whose callers the component authenticates
  itself (the SOAP shim's WS-Security); a guard lets them through to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fastapi import APIRouter
    from starlette.routing import Route
    from starlette.types import ASGIApp

__all__ = [
    "Component",
    "FastRoutes",
    "Guard",
    "Health",
    "OwnAuthentication",
    "RouteSource",
    "Status",
]

Status = Literal["ok", "degraded", "down"]


@dataclass(frozen=True)
class Health:
    """A component's answer to "can you serve?".

    ``down`` makes the app not ready (``/readyz`` answers 503); ``degraded``
    is reported but keeps it ready. ``detail`` is JSON-ready and must hold no
    secrets: it is shown to whoever asks.
    """

    status: Status = "ok"
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, **self.detail}


@runtime_checkable
class Component(Protocol):
    """What the app needs of every part it runs.

    ``name`` is unique within the app (a system's name for an adapter);
    ``kind`` says what it is (``soap``, ``database``, ``model``...).
    :meth:`close` must be safe to call when :meth:`start` failed half-way or
    never ran: the app calls it in both cases.
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    async def start(self) -> None:
        """Open long-lived resources (pools, sessions, consumers)."""
        ...

    async def close(self) -> None:
        """Release what :meth:`start` opened; idempotent."""
        ...

    async def health(self) -> Health:
        """A cheap check; never raises."""
        ...


@runtime_checkable
class RouteSource(Protocol):
    """A component that serves HTTP routes of its own, mounted under ``prefix``."""

    @property
    def prefix(self) -> str: ...

    def router(self) -> APIRouter:
        """The routes; handlers raise the project's errors, never HTTP exceptions."""
        ...


@runtime_checkable
class FastRoutes(Protocol):
    """A component with Starlette routes answered before the framework's routing.

    Each is tried in turn on every request, after the body and URL limits and
    before FastAPI's routing, dependency solving and exception middleware. A
    handler may raise the project's errors (answered as problem+json); the
    component's :meth:`RouteSource.router` should document the same paths.
    """

    def fast_routes(self) -> Sequence[Route]:
        """The routes; few, and matched by a cheap path test."""
        ...


@runtime_checkable
class Guard(Protocol):
    """A component in front of every route, inside the request limits and before
    the fast lane and the routing (authentication, scopes, rate limits)."""

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` behind the guard (added as the app's middleware)."""
        ...

    def document(self, openapi: dict[str, Any]) -> None:
        """Learn the operations from the finished OpenAPI document and declare in it
        what the guard asks of each (security schemes, scopes, its refusals)."""
        ...


@runtime_checkable
class OwnAuthentication(Protocol):
    """A component that authenticates the callers of some of its paths itself, in its
    own protocol (a SOAP shim with WS-Security): a guard leaves those paths to it."""

    def authenticated_paths(self) -> Sequence[str]:
        """The exact paths (no templates) whose callers the component checks."""
        ...
