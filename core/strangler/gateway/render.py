"""The routes' split for real gateways: what each route sends where, as a frozen plan.

``strangler render nginx|kong SPEC`` reads the ``routes:`` section, takes each
route's modern share (``canary``: its weight; ``modern``: all; ``legacy`` and
``shadow``: none, since only strangler's own gateway compares two answers) from
the spec or, with ``--state``, from the live state database, and writes it in
the gateway's own terms (:mod:`strangler.gateway.nginx_conf`,
:mod:`strangler.gateway.kong_conf`) into ``gateway_config/generated/``.

A real gateway forwards bytes, so each side must be an HTTP service that
already speaks the route's public contract; ``--upstream ROUTE.SIDE=URL`` says
where (a ``{url: ...}`` target is its own default; when the spec maps that side's
requests or answers, the plan notes that the gateway would not). Stickiness by header
or cookie carries over; a key inside the body (``body``/``xpath``) does not
(neither gateway reads bodies): such a route is split per request, and the
plan says so in :attr:`RoutePlan.notes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from strangler.errors import SpecError, SpecProblem
from strangler.spec.gateway import RoutesSpec, UrlTarget

if TYPE_CHECKING:
    from strangler.gateway.state import RouteState

__all__ = ["RoutePlan", "Upstream", "plan_routes", "write_files"]

StickyKind = Literal["header", "cookie", "none"]


@dataclass(frozen=True)
class Upstream:
    """One side's HTTP address: scheme, host, port and the path its route answers on."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str, where: str, *, source: str = "<spec>") -> Upstream:
        """``http://host:port/path`` → an upstream; a :class:`SpecError` naming ``where``."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _problem(source, where, f"{url!r} is not an http:// or https:// URL with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise _problem(source, where, f"{url!r}: give no query, fragment or credentials")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise _problem(source, where, f"{url!r} has a port that is not a number") from None
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return cls(parts.scheme, host, port, parts.path or "/")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RoutePlan:
    """One route as a real gateway carries it."""

    name: str
    path: str
    modern_share: float
    sticky: StickyKind
    sticky_name: str | None
    legacy: Upstream
    modern: Upstream
    mode: str
    notes: tuple[str, ...] = ()

    @property
    def percent(self) -> str:
        """The modern share as nginx writes it: a percentage with at most two decimals."""
        text = f"{round(self.modern_share * 100, 2):.2f}".rstrip("0").rstrip(".")
        return f"{text}%"


def plan_routes(
    routes: RoutesSpec,
    upstreams: Mapping[str, str],
    states: Mapping[str, RouteState] | None = None,
    *,
    source: str = "<spec>",
) -> list[RoutePlan]:
    """The plan of every route; ``upstreams`` maps ``route.side`` to a URL.

    ``states``: live mode and weight by route (from the state database); a
    route not in it keeps the spec's. ``source`` names the spec file in
    problems. Unknown ``route.side`` keys and sides without an address are
    :class:`SpecError` problems, all reported at once.
    """
    problems: list[SpecProblem] = []
    for key in upstreams:
        name, _, side = key.partition(".")
        if name not in routes.items or side not in ("legacy", "modern"):
            problems.append(_where(source, f"--upstream {key}", "not ROUTE.legacy or ROUTE.modern"))
    plans: list[RoutePlan] = []
    for name, route in routes.items.items():
        sides: dict[str, Upstream] = {}
        mapped: list[str] = []
        for side in ("legacy", "modern"):
            target = getattr(route, side)
            url = upstreams.get(f"{name}.{side}")
            if url is None and isinstance(target, UrlTarget):
                url = target.url
                if getattr(route.request, side) or getattr(route.response, side):
                    mapped.append(side)
            where = f"routes.items.{name}.{side}"
            if url is None:
                hint = f"give its address: --upstream {name}.{side}=http://host:port/path"
                problems.append(_where(source, where, hint))
                continue
            try:
                sides[side] = Upstream.parse(url, where, source=source)
            except SpecError as exc:
                problems.extend(exc.problems)
        if len(sides) < 2:
            continue
        state = states.get(name) if states else None
        mode = state.mode if state else route.mode
        weight = state.weight if state else route.weight
        share = {"modern": 1.0, "canary": weight}.get(mode, 0.0)
        sticky: StickyKind = "none"
        sticky_name: str | None = None
        notes: list[str] = []
        if mode == "shadow":
            notes.append("shadow mode: legacy answers; only strangler's gateway compares answers")
        for side in mapped:
            notes.append(
                f"the {side} side's requests and answers are mapped in the spec, which only "
                f"strangler's gateway does: give --upstream {name}.{side}= a service that "
                "speaks the public contract"
            )
        if route.sticky is not None and route.sticky.header is not None:
            sticky, sticky_name = "header", route.sticky.header
        elif route.sticky is not None and route.sticky.cookie is not None:
            sticky, sticky_name = "cookie", route.sticky.cookie
        elif route.sticky is not None:
            notes.append(
                "the sticky key is inside the body, which this gateway does not read: "
                "each request is split on its own"
            )
        plans.append(
            RoutePlan(
                name,
                route.path,
                share,
                sticky,
                sticky_name,
                sides["legacy"],
                sides["modern"],
                mode,
                tuple(notes),
            )
        )
    if problems:
        raise SpecError(problems)
    return plans


def write_files(files: Mapping[str, str], out_dir: Path) -> list[Path]:
    """Write each ``name → text`` into ``out_dir`` (made if missing); the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _where(source: str, where: str, message: str) -> SpecProblem:
    return SpecProblem(source, None, where, message)


def _problem(source: str, where: str, message: str) -> SpecError:
    return SpecError([_where(source, where, message)])
