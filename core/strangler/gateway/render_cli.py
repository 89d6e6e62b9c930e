"""``strangler render nginx|kong SPEC``: the routes' split written for a real gateway.

(The gateway's commands also include ``strangler canary``: :mod:`strangler.canary.cli`.)

A thin layer over :func:`~strangler.gateway.render.plan_routes`,
:func:`~strangler.gateway.nginx_conf.render_nginx` and
:func:`~strangler.gateway.kong_conf.render_kong`; it prints the files written
and each route's notes (a body key that the gateway cannot read, say).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from strangler.gateway.render import RoutePlan
    from strangler.gateway.state import RouteState

__all__ = ["register_cli"]

SpecArgument = Annotated[
    Path, typer.Argument(help="The spec file (strangler.yaml).", dir_okay=False)
]
OutOption = Annotated[
    Path, typer.Option("--out", "-o", help="The folder to write into.", file_okay=False)
]
UpstreamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--upstream",
        "-u",
        help="ROUTE.SIDE=URL: where a side answers the route's public contract "
        "(a modern {url: ...} target is its own default). Repeat per side.",
    ),
]
StateOption = Annotated[
    str | None,
    typer.Option(
        "--state",
        help="Take modes and weights from this route-state database (SQLAlchemy URL; "
        "'live' for the spec's own) instead of the spec.",
    ),
]

DEFAULT_OUT = Path("gateway_config/generated")


def register_cli(app: typer.Typer) -> None:
    """Add ``strangler render nginx|kong`` and ``strangler canary ...`` to ``app``."""
    from strangler.canary.cli import register_cli as register_canary
    from strangler.cli import fail, stdout
    from strangler.errors import StranglerError

    register_canary(app)

    render = typer.Typer(help="Write configuration rendered from the spec.", no_args_is_help=True)
    app.add_typer(render, name="render")

    @render.command()
    def nginx(
        spec: SpecArgument,
        out: OutOption = DEFAULT_OUT,
        upstream: UpstreamOption = None,
        state: StateOption = None,
        listen: Annotated[
            str, typer.Option(help="The address nginx.conf listens on.")
        ] = "127.0.0.1:8080",
    ) -> None:
        """nginx: split_clients over the sticky header or cookie, maps to upstreams."""
        from strangler.gateway.nginx_conf import render_nginx

        try:
            plans = _plans(spec, upstream, state)
            written = _write(render_nginx(plans, listen=listen, source=str(spec)), out)
        except StranglerError as exc:
            raise fail(exc) from None
        _report(stdout, plans, written)

    @render.command()
    def kong(
        spec: SpecArgument,
        out: OutOption = DEFAULT_OUT,
        upstream: UpstreamOption = None,
        state: StateOption = None,
    ) -> None:
        """Kong: declarative config, an upstream per route with weighted targets."""
        from strangler.gateway.kong_conf import render_kong

        try:
            plans = _plans(spec, upstream, state)
            written = _write(render_kong(plans, source=str(spec)), out)
        except StranglerError as exc:
            raise fail(exc) from None
        _report(stdout, plans, written)


def _plans(spec_path: Path, upstream: list[str] | None, state: str | None) -> list[RoutePlan]:
    from strangler.errors import SpecError, SpecProblem
    from strangler.gateway.render import plan_routes
    from strangler.spec import load_spec
    from strangler.spec.gateway import RoutesSpec

    spec = load_spec(spec_path)
    routes: RoutesSpec | None = spec.section("routes")
    if routes is None or not routes.items:
        raise SpecError([SpecProblem(str(spec_path), None, "routes", "the spec has no routes")])
    upstreams: dict[str, str] = {}
    for value in upstream or []:
        key, sep, url = value.partition("=")
        if not sep or not key or not url:
            raise typer.BadParameter(f"{value!r}: give ROUTE.SIDE=URL", param_hint="--upstream")
        upstreams[key] = url
    states = None
    if state is not None:
        states = _read_state(routes.state if state == "live" else state, spec.cache_dir)
    return plan_routes(routes, upstreams, states, source=str(spec_path))


def _read_state(url: str | None, cache_dir: str | None) -> dict[str, RouteState]:
    from strangler.gateway.state import StateStore, default_state_url
    from strangler.paths import default_cache_dir

    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    store = StateStore(url or default_state_url(folder))
    try:
        return store.read()
    finally:
        store.close()


def _write(files: dict[str, str], out: Path) -> list[Path]:
    from strangler.gateway.render import write_files

    return write_files(files, out)


def _report(stdout: Console, plans: list[RoutePlan], written: list[Path]) -> None:
    for path in written:
        stdout.print(f"wrote {path}", highlight=False, soft_wrap=True)
    for plan in plans:
        sticky = f"{plan.sticky} {plan.sticky_name}" if plan.sticky_name else "none"
        stdout.print(
            f"{plan.name}: {plan.path} mode {plan.mode}, modern {plan.percent}, sticky {sticky}",
            highlight=False,
            soft_wrap=True,
        )
        for note in plan.notes:
            stdout.print(f"  note: {note}", highlight=False, soft_wrap=True)
