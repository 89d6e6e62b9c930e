"""The routes' split as Kong declarative configuration (``_format_version: "3.0"``).

Per route: a service whose host is an upstream, a route on the public path
(an exact regex path, stripped, so the service's path is what the sides see),
and the upstream with one target per side, weighted by the modern share (in
thousandths; a weight of 0 switches a target off). A sticky header or cookie
becomes the upstream's ``consistent-hashing`` input (``hash_on: header`` /
``cookie``; for a cookie Kong sets one when the request has none); without
one the upstream is weighted round-robin.

Kong balances over *targets* (host and port), so both sides of a route must
answer on the same path with the same scheme; a route whose sides differ there
is refused. Kong's ring balancer gives each target slots in proportion to its
weight and reassigns them when weights change: unlike nginx's ``split_clients``
and strangler's own gateway, a key on the modern side is not promised to stay
there as the weight grows. The file says so at its top.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML

from strangler.errors import SpecError, SpecProblem
from strangler.gateway.render import RoutePlan

__all__ = ["SCALE", "kong_config", "render_kong"]

SCALE = 1000
"""Target weights are the share in thousandths (Kong accepts 0 to 65535)."""


def kong_config(plans: Sequence[RoutePlan], *, source: str = "<spec>") -> dict[str, Any]:
    """The declarative configuration as data (what :func:`render_kong` writes as YAML)."""
    problems = [
        SpecProblem(
            source,
            None,
            f"routes.items.{plan.name}",
            "Kong balances over hosts: both sides must answer on the same scheme and path "
            f"(legacy {plan.legacy.scheme}://…{plan.legacy.path}, "
            f"modern {plan.modern.scheme}://…{plan.modern.path})",
        )
        for plan in plans
        if (plan.legacy.path, plan.legacy.scheme) != (plan.modern.path, plan.modern.scheme)
    ]
    if problems:
        raise SpecError(problems)
    services: list[dict[str, Any]] = []
    upstreams: list[dict[str, Any]] = []
    for plan in plans:
        name = f"strangler-{plan.name}"
        upstream_name = f"{name}.upstream"
        services.append(
            {
                "name": name,
                "protocol": plan.legacy.scheme,
                "host": upstream_name,
                "port": plan.legacy.port,
                "path": plan.legacy.path,
                "tags": ["strangler"],
                "routes": [
                    {
                        "name": name,
                        "paths": [f"~{plan.path}$"],
                        "strip_path": True,
                        "tags": ["strangler"],
                    }
                ],
            }
        )
        modern = round(plan.modern_share * SCALE)
        upstream: dict[str, Any] = {"name": upstream_name, "tags": ["strangler"]}
        if plan.sticky == "header":
            upstream |= {
                "algorithm": "consistent-hashing",
                "hash_on": "header",
                "hash_on_header": plan.sticky_name,
            }
        elif plan.sticky == "cookie":
            upstream |= {
                "algorithm": "consistent-hashing",
                "hash_on": "cookie",
                "hash_on_cookie": plan.sticky_name,
                "hash_on_cookie_path": "/",
            }
        else:
            upstream |= {"algorithm": "round-robin", "hash_on": "none"}
        upstream["targets"] = [
            {"target": plan.legacy.address, "weight": SCALE - modern, "tags": ["legacy"]},
            {"target": plan.modern.address, "weight": modern, "tags": ["modern"]},
        ]
        upstreams.append(upstream)
    return {"_format_version": "3.0", "services": services, "upstreams": upstreams}


def render_kong(plans: Sequence[RoutePlan], *, source: str = "<spec>") -> dict[str, str]:
    """``{"kong/kong.yaml": text}`` for the routes."""
    config = kong_config(plans, source=source)
    lines = [
        f"# Rendered by strangler render kong from {source}; do not edit by hand.",
        "# Load with: kong config db_import kong.yaml (or KONG_DECLARATIVE_CONFIG, DB-less).",
        "# Kong's consistent hashing reassigns keys when weights change: a sticky key on",
        "# the modern side may move back as the weight grows (nginx's split_clients keeps it).",
    ]
    for plan in plans:
        lines.append(
            f"# route {plan.name}: mode {plan.mode}, modern share {plan.percent}"
            + "".join(f"; {note}" for note in plan.notes)
        )
    yaml = YAML()
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(config, out)
    return {"kong/kong.yaml": "\n".join(lines) + "\n" + out.getvalue()}
