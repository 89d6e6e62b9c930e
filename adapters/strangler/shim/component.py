"""The ``shim`` component: every service of the ``shim:`` section, served in the fast lane.

:func:`build_shim` looks each service's SOAP system up among the adapters
and each operation's gateway route in the route table, so a service or route
that does not exist fails the build with a spec error naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strangler.errors import SpecError, SpecProblem
from strangler.platform.component import Health

if TYPE_CHECKING:
    from starlette.routing import Route

    from strangler.platform.build import BuildContext
    from strangler.shim.dispatch import RouteCall
    from strangler.shim.service import ShimService
    from strangler.spec.models import Spec

__all__ = ["Shim", "build_shim"]


class Shim:
    """The ``shim`` component: one :class:`~strangler.shim.service.ShimService` per service."""

    kind = "shim"

    def __init__(self, services: dict[str, ShimService]) -> None:
        self.services = services

    @property
    def name(self) -> str:
        return "shim"

    async def start(self) -> None:
        for service in self.services.values():
            await service.start()

    async def close(self) -> None:
        for service in self.services.values():
            await service.close()

    async def health(self) -> Health:
        detail: dict[str, Any] = {
            "kind": self.kind,
            "services": {name: s.path for name, s in self.services.items()},
        }
        return Health("ok", detail)

    def fast_routes(self) -> list[Route]:
        """Each service's legacy path: ``GET`` for its documents, ``POST`` for its envelopes."""
        from starlette.routing import Route

        return [
            Route(s.path, s, methods=["GET", "POST"], include_in_schema=False)
            for s in self.services.values()
        ]


def build_shim(spec: Spec, context: BuildContext) -> list[Shim]:
    """The shim of ``spec``'s ``shim:`` section (see the module)."""
    from strangler.gateway.table import Gateway
    from strangler.shim.dispatch import RouteCall
    from strangler.shim.service import build_service

    section = spec.section("shim")
    platform = context.platform()
    routes: dict[str, RouteCall] = {}
    for component in platform:
        if isinstance(component, Gateway):
            routes = {
                name: RouteCall(app, component.spec.items[name].path)
                for name, app in component.routes.items()
            }
    services: dict[str, ShimService] = {}
    for name, service in section.services.items():
        where = f"shim.services.{name}"
        source = platform.sources().get(name)
        if source is None or getattr(source, "kind", None) != "soap":
            raise _problem(where, f"{name!r} is not a soap system of 'systems:'")
        apps = {}
        for operation, route in service.routes.items():
            if route not in routes:
                known = ", ".join(sorted(routes)) or "none"
                raise _problem(
                    f"{where}.routes.{operation}", f"no route {route!r} (known: {known})"
                )
            apps[operation] = routes[route]
        try:
            services[name] = build_service(name, service, source, apps, platform)
        except ValueError as exc:
            raise _problem(where, str(exc)) from exc
    return [Shim(services)]


def _problem(where: str, message: str) -> SpecError:
    return SpecError([SpecProblem("<spec>", None, where, message)])
