"""The route table: the ``routes:`` section built into one component of the app.

:func:`build_gateway` looks each side up when the app is built (a legacy
operation by the uniform lookup, a model through the ``predictions``
component, a URL as a pooled client), so a route naming something that does
not exist fails the build with a spec error. :class:`Gateway` opens the state
database and the shadow runner in the app's lifespan and serves every route's
public path (in the app's fast lane, ahead of its routing), the admin API and
the disagreements of shadowed routes; each side of a route also answers alone
at ``/_strangler/sides/{route}/legacy|modern`` (where nginx, carrying the split,
sends it). When a route has a ``rollout:``, the
canary :class:`~strangler.canary.controller.Controller` is built beside it
(a component of its own, started after the gateway) and its admin API is
served with the gateway's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from strangler.canary.build import build_controller, recorder_for
from strangler.errors import NotFound, SpecError, SpecProblem
from strangler.gateway.routing import RouteApp, side_path
from strangler.gateway.shapes import answer_shape, request_shape
from strangler.gateway.sides import ModelSide, OperationSide, Predictor, Side, SideName, UrlSide
from strangler.gateway.split import StickyKey
from strangler.gateway.state import LiveState, RouteState, StateStore, default_state_url
from strangler.gateway.upstream import Upstream
from strangler.paths import default_cache_dir
from strangler.platform.component import Health
from strangler.spec.gateway import ModelTarget, OperationTarget, RouteSpec, RoutesSpec, UrlTarget

if TYPE_CHECKING:
    from fastapi import APIRouter
    from fastapi.routing import APIRoute
    from starlette.routing import Route

    from strangler.canary.controller import Controller
    from strangler.gateway.disagreements import DisagreementStore
    from strangler.gateway.shadow import ShadowRunner
    from strangler.platform.build import BuildContext
    from strangler.platform.core import Platform
    from strangler.spec.models import Spec

__all__ = ["Gateway", "build_gateway", "server_url"]


class Gateway:
    """The ``gateway`` component: every route, the live state, the shadow runner."""

    kind = "gateway"
    prefix = ""

    def __init__(
        self,
        spec: RoutesSpec,
        routes: dict[str, RouteApp],
        live: LiveState,
        upstreams: list[Upstream],
        shadow: ShadowRunner | None,
        disagreements: DisagreementStore | None,
        controller: Controller | None = None,
    ) -> None:
        self.spec = spec
        self.controller = controller
        self.routes = routes
        self.live = live
        self.upstreams = upstreams
        self.shadow = shadow
        self.disagreements = disagreements

    @property
    def name(self) -> str:
        return "gateway"

    async def start(self) -> None:
        await self.live.start()
        if self.shadow is not None:
            await self.shadow.start()

    async def close(self) -> None:
        if self.shadow is not None:
            await self.shadow.close()
        for upstream in self.upstreams:
            await upstream.close()
        await self.live.close()

    async def health(self) -> Health:
        detail: dict[str, Any] = {
            "kind": self.kind,
            "routes": {name: state.as_json() for name, state in self.live.routes.items()},
        }
        if self.live.error is not None:
            return Health("degraded", {**detail, "state_error": self.live.error})
        return Health("ok", detail)

    def fast_routes(self) -> list[Route]:
        """Every route's public path, answered ahead of the app's routing (the fast lane)."""
        from starlette.routing import Route

        routes = [
            Route(self.spec.items[app.name].path, app, methods=["POST"], include_in_schema=False)
            for app in self.routes.values()
        ]
        sides: tuple[SideName, ...] = ("legacy", "modern")
        routes += [  # one side alone, for a data plane that carries the split (nginx)
            Route(side_path(app.name, side), app.side_app(side), methods=["POST"],
                  include_in_schema=False)
            for app in self.routes.values()
            for side in sides
        ]  # fmt: skip
        return routes

    def router(self) -> APIRouter:
        from fastapi import APIRouter

        from strangler.gateway.admin import admin_router
        from strangler.gateway.disagreements import disagreements_router
        from strangler.gateway.documented import document_route, document_sides
        from strangler.rest.problems import problem_responses

        router = APIRouter()
        for name, app in self.routes.items():  # documented (the fast lane answers them)
            document_route(router, app, self.spec.items[name])
            document_sides(router, app, self.spec.items[name])
        answers = problem_responses(
            {404: "No such route.", 422: "The request does not fit (a mode, a weight...)."}
        )
        paths = {name: route.path for name, route in self.spec.items.items()}
        router.include_router(admin_router(self.live, paths), responses=answers)
        if self.disagreements is not None:
            router.include_router(
                disagreements_router(self.disagreements),
                responses=answers,
                generate_unique_id_function=_camel_id,
            )
        if self.controller is not None:
            from strangler.canary.admin import canary_router

            conflict = problem_responses(
                {
                    404: "No such route, or it has no rollout.",
                    409: "The rollout's present status does not allow it.",
                    422: "The request does not fit.",
                }
            )
            router.include_router(canary_router(self.controller), responses=conflict)
            from strangler.canary.dashboard import dashboard_router

            router.include_router(dashboard_router())  # /_strangler/, not in the document
        return router


def _camel_id(route: APIRoute) -> str:
    """An admin route's operation id when it names none: its function's name, camelCase."""
    head, *rest = route.name.split("_")
    return head + "".join(word.title() for word in rest)


def build_gateway(spec: Spec, context: BuildContext) -> list[Gateway | Controller]:
    """The gateway of ``spec``'s ``routes:`` section (see the module)."""
    section: RoutesSpec = spec.section("routes")
    platform = context.platform()
    cache_dir = context.cache_dir or default_cache_dir()
    url = section.state or default_state_url(Path(cache_dir))
    store = StateStore(url)
    seeds = {name: RouteState(route.mode, route.weight) for name, route in section.items.items()}
    live = LiveState(store, seeds, section.refresh_s)
    upstreams: list[Upstream] = []
    apps: dict[str, RouteApp] = {}
    shadowed = {name: route for name, route in section.items.items()}
    runner, disagreements = _shadow(store, shadowed, platform) if shadowed else (None, None)
    samples = recorder_for(section)
    if runner is not None:
        runner.comparisons = samples
    for name, route in section.items.items():
        legacy = _side(platform, name, route, "legacy", upstreams)
        modern = _side(platform, name, route, "modern", upstreams)
        apps[name] = RouteApp(
            name, legacy, modern, live, StickyKey(route.sticky), runner,
            samples if route.rollout is not None else None,
        )  # fmt: skip
    if samples is None:
        return [Gateway(section, apps, live, upstreams, runner, disagreements)]
    controller = build_controller(
        section, live, store.engine, samples, strangler_url=server_url(spec)
    )
    return [Gateway(section, apps, live, upstreams, runner, disagreements, controller), controller]


def server_url(spec: Spec) -> str:
    """Where this app answers, from the spec's ``server`` (a wildcard address on loopback)."""
    host = spec.server.host
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = "https" if spec.server.tls is not None else "http"
    return f"{scheme}://{host}:{spec.server.port}"


def _side(
    platform: Platform, name: str, route: RouteSpec, side: SideName, upstreams: list[Upstream]
) -> Side:
    where = f"routes.items.{name}"
    target = getattr(route, side)
    asked = request_shape(getattr(route.request, side), f"{where}.request.{side}")
    answered = answer_shape(getattr(route.response, side), f"{where}.response.{side}")
    if isinstance(target, OperationTarget):
        try:
            operation = platform.operation(target.operation)
        except NotFound as exc:
            raise SpecError([SpecProblem("<spec>", None, f"{where}.{side}", str(exc))]) from exc
        return OperationSide(platform, operation, asked, answered)
    if isinstance(target, ModelTarget):
        predictor = _predictor(platform)
        if predictor is None:
            raise SpecError(
                [
                    SpecProblem(
                        "<spec>",
                        None,
                        f"{where}.{side}",
                        f"model {target.model!r}: the spec serves no models (add 'models:')",
                    )
                ]
            )
        return ModelSide(predictor, target.model, target.version, asked, answered)
    assert isinstance(target, UrlTarget)
    upstream = Upstream(target.url, route=name, timeout_s=target.timeout_s, safe=target.safe)
    upstreams.append(upstream)
    return UrlSide(upstream, asked, answered, safe=target.safe)


def _predictor(platform: Platform) -> Predictor | None:
    for component in platform:
        if component.kind == "predictions" and isinstance(component, Predictor):
            return component
    return None


def _shadow(
    store: StateStore, routes: dict[str, RouteSpec], platform: Platform
) -> tuple[ShadowRunner, DisagreementStore]:
    from strangler.gateway.disagreements import DisagreementStore
    from strangler.gateway.shadow import ShadowRoute, ShadowRunner

    disagreements = DisagreementStore(
        store.engine,
        keep={name: route.shadow.keep for name, route in routes.items()},
        routes=routes,
    )
    shadow_routes = {
        name: ShadowRoute(name, route.shadow, legacy_safe=_legacy_safe(platform, route))
        for name, route in routes.items()
    }
    return ShadowRunner(shadow_routes, disagreements), disagreements


def _legacy_safe(platform: Platform, route: RouteSpec) -> bool:
    if isinstance(route.legacy, OperationTarget):
        try:
            return platform.operation(route.legacy.operation).safe
        except NotFound:
            return False
    return route.legacy.safe if isinstance(route.legacy, UrlTarget) else True
