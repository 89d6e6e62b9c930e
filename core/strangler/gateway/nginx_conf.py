"""The routes' split as nginx configuration: ``split_clients`` over a sticky key, then ``map``.

Per route, in the http context (``strangler-http.conf``):

* a ``map`` makes the route's key: the sticky header (``$http_x_customer``) or
  cookie, or ``$request_id`` (fresh per request) when the request has none;
* ``split_clients`` hashes the route's name and the key into the modern share
  (listed first, so a key inside it stays there as the share grows) or legacy;
* ``map`` turns the side into the side's upstream URL and ``Host``;
* one ``upstream`` block per side, with keep-alive connections.

Per route, in the server context (``strangler-locations.conf``): an exact
``location`` for the public path that proxies to the chosen side and answers
``X-Strangler-Side: legacy|modern``, as strangler's own gateway does (the side's
own header of that name, which strangler's side endpoints send, is not passed
on: one header, nginx's).

``nginx.conf`` is a complete configuration around the two: ``daemon off``, logs
to stderr, pid and temporary files relative to the prefix (``nginx -p DIR -c
nginx.conf -e stderr`` keeps every path under ``DIR``).

When the canary controller drives nginx (:mod:`strangler.canary.nginx`) it
passes :class:`CanaryOptions`: every route answer and ``GET /_strangler/nginx``
carry ``X-Strangler-Config: VERSION`` (so a reload can be seen to be live),
and each route's requests are logged as one JSON object a line
(``log_format strangler_canary``: ``ts`` seconds since the epoch, ``route``,
``side``, ``status``, ``request_time``, ``upstream_time``), with the request
body (``body``) for the routes named in ``log_bodies`` (a fairness segment is
read from it; bodies up to ``client_body_buffer_size``, 64 KiB, are logged).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from strangler.errors import SpecError, SpecProblem
from strangler.gateway.render import RoutePlan, Upstream

__all__ = ["CanaryOptions", "render_nginx"]

_HEADER = re.compile(r"^[A-Za-z0-9_-]+$")
_SIMPLE_COOKIE = re.compile(r"^[A-Za-z0-9_]+$")
_COOKIE = re.compile(r"^[A-Za-z0-9_.-]+$")
_PATH = re.compile(r"^/[A-Za-z0-9/_.~-]*$")
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$")


@dataclass(frozen=True)
class CanaryOptions:
    """What the canary controller adds: a version to see, an access log to read.

    ``access_log`` is relative to the nginx prefix; ``log_bodies`` names the
    routes whose request bodies are logged too.
    """

    version: str
    access_log: str
    log_bodies: Collection[str] = ()


_LOG_FIELDS = (
    '{"ts":$msec,"route":"$strangler_route","side":"$strangler_side","status":$status,'
    '"request_time":$request_time,"upstream_time":"$upstream_response_time"'
)


def _log_formats() -> str:
    return (
        "# one JSON object per route request, read by the canary controller\n"
        f"log_format strangler_canary escape=json '{_LOG_FIELDS}}}';\n"
        f"log_format strangler_canary_body escape=json '{_LOG_FIELDS},"
        '"body":"$request_body"}\';\n'
    )


def render_nginx(
    plans: Sequence[RoutePlan],
    *,
    listen: str = "127.0.0.1:8080",
    source: str = "<spec>",
    canary: CanaryOptions | None = None,
) -> dict[str, str]:
    """``{file name: text}`` for the routes (file names below ``nginx/``)."""
    _check(plans, source)
    header = f"# Rendered by strangler render nginx from {source}; do not edit by hand.\n"
    http = [header]
    locations = [header]
    underscores = False
    if canary is not None:
        http.append(_log_formats())
        locations.append(_version_location(canary.version))
    for plan in plans:
        http.append(_http_part(plan))
        locations.append(_location(plan, canary))
        underscores |= plan.sticky == "header" and "_" in (plan.sticky_name or "")
    server_extra = "        underscores_in_headers on;\n" if underscores else ""
    return {
        "nginx/strangler-http.conf": "\n".join(http),
        "nginx/strangler-locations.conf": "\n".join(locations),
        "nginx/nginx.conf": _MAIN.format(source=source, listen=listen, server_extra=server_extra),
    }


def _var(plan: RoutePlan) -> str:
    return plan.name.replace("-", "_")


def _key_source(plan: RoutePlan) -> tuple[str, str]:
    """The variable holding the sticky key, and any ``map`` that makes it."""
    v = _var(plan)
    if plan.sticky == "header":
        assert plan.sticky_name is not None
        return "$http_" + plan.sticky_name.lower().replace("-", "_"), ""
    if plan.sticky == "cookie":
        assert plan.sticky_name is not None
        if _SIMPLE_COOKIE.match(plan.sticky_name):
            return "$cookie_" + plan.sticky_name, ""
        name = re.escape(plan.sticky_name)
        return f"$strangler_cookie_{v}", (
            f"map $http_cookie $strangler_cookie_{v} {{\n"
            f'    "~(?:^|;)\\s*{name}=\\"?(?<strangler_value>[^\\";]*)" $strangler_value;\n'
            '    default "";\n'
            "}\n"
        )
    return '""', ""


def _http_part(plan: RoutePlan) -> str:
    v = _var(plan)
    key, key_map = _key_source(plan)
    sticky = f"{plan.sticky} {plan.sticky_name}" if plan.sticky_name else "none (per request)"
    notes = "".join(f"# note: {note}\n" for note in plan.notes)
    modern_line = ""
    rest = "legacy"
    if plan.modern_share >= 1:
        rest = "modern"
    elif plan.modern_share > 0:
        modern_line = f"    {plan.percent} modern;\n"
    return (
        f"# route {plan.name}: {plan.path}, mode {plan.mode}, modern share {plan.percent}, "
        f"sticky by {sticky}\n{notes}"
        f"{key_map}"
        f"map {key} $strangler_key_{v} {{\n"
        '    "" $request_id;\n'
        f"    default {key};\n"
        "}\n"
        f'split_clients "{plan.name} ${{strangler_key_{v}}}" $strangler_side_{v} {{\n'
        f"{modern_line}"
        f"    * {rest};\n"
        "}\n"
        f"map $strangler_side_{v} $strangler_url_{v} {{\n"
        f'    modern "{_url(plan, "modern", plan.modern)}";\n'
        f'    default "{_url(plan, "legacy", plan.legacy)}";\n'
        "}\n"
        f"map $strangler_side_{v} $strangler_host_{v} {{\n"
        f'    modern "{plan.modern.address}";\n'
        f'    default "{plan.legacy.address}";\n'
        "}\n"
        f"{_sni_map(plan)}"
        f"{_upstream(plan, 'legacy', plan.legacy)}"
        f"{_upstream(plan, 'modern', plan.modern)}"
    )


def _tls(plan: RoutePlan) -> bool:
    return "https" in (plan.legacy.scheme, plan.modern.scheme)


def _sni_map(plan: RoutePlan) -> str:
    """For an https side: the name TLS asks for is the side's host, not the upstream's name."""
    if not _tls(plan):
        return ""
    v = _var(plan)
    return (
        f"map $strangler_side_{v} $strangler_sni_{v} {{\n"
        f'    modern "{plan.modern.host}";\n'
        f'    default "{plan.legacy.host}";\n'
        "}\n"
    )


def _upstream_name(plan: RoutePlan, side: str) -> str:
    return f"strangler_{_var(plan)}_{side}"


def _url(plan: RoutePlan, side: str, upstream: Upstream) -> str:
    return f"{upstream.scheme}://{_upstream_name(plan, side)}{upstream.path}"


def _upstream(plan: RoutePlan, side: str, upstream: Upstream) -> str:
    return (
        f"upstream {_upstream_name(plan, side)} {{\n"
        f"    server {upstream.address};\n"
        "    keepalive 32;\n"
        "}\n"
    )


def _version_location(version: str) -> str:
    return (
        "# the configuration's version: live once this answers it\n"
        "location = /_strangler/nginx {\n"
        f'    add_header X-Strangler-Config "{version}" always;\n'
        f'    return 200 "{version}\\n";\n'
        "}\n"
    )


def _canary_lines(plan: RoutePlan, canary: CanaryOptions | None) -> str:
    if canary is None:
        return ""
    v = _var(plan)
    body = plan.name in canary.log_bodies
    return (
        f'    set $strangler_route "{plan.name}";\n'
        f"    set $strangler_side $strangler_side_{v};\n"
        f'    add_header X-Strangler-Config "{canary.version}" always;\n'
        + (
            "    client_body_buffer_size 64k;\n    client_body_in_single_buffer on;\n"
            if body
            else ""
        )
        + f"    access_log {canary.access_log} strangler_canary{'_body' if body else ''};\n"
    )


def _location(plan: RoutePlan, canary: CanaryOptions | None = None) -> str:
    v = _var(plan)
    tls = (
        f"    proxy_ssl_server_name on;\n    proxy_ssl_name $strangler_sni_{v};\n"
        if _tls(plan)
        else ""
    )
    return (
        f"# route {plan.name}\n"
        f"location = {plan.path} {{\n"
        f"    proxy_pass $strangler_url_{v}$is_args$args;\n"
        "    proxy_http_version 1.1;\n"
        '    proxy_set_header Connection "";\n'
        f"    proxy_set_header Host $strangler_host_{v};\n"
        f"{tls}"
        "    proxy_hide_header X-Strangler-Side;\n"  # strangler's side endpoint names it too
        f"    add_header X-Strangler-Side $strangler_side_{v} always;\n"
        f"{_canary_lines(plan, canary)}"
        "}\n"
    )


def _check(plans: Sequence[RoutePlan], source: str) -> None:
    problems: list[SpecProblem] = []
    seen: dict[str, str] = {}

    def problem(where: str, message: str) -> None:
        problems.append(SpecProblem(source, None, where, message))

    for plan in plans:
        where = f"routes.items.{plan.name}"
        if _var(plan) in seen:
            problem(where, f"names the same nginx variables as route {seen[_var(plan)]!r}")
        seen[_var(plan)] = plan.name
        if plan.sticky == "header" and not _HEADER.match(plan.sticky_name or ""):
            problem(
                f"{where}.sticky.header", "nginx reads only headers of letters, digits, - and _"
            )
        if plan.sticky == "cookie" and not _COOKIE.match(plan.sticky_name or ""):
            problem(f"{where}.sticky.cookie", "nginx reads only cookies of letters, digits, _ . -")
        for side, upstream in (("legacy", plan.legacy), ("modern", plan.modern)):
            if not _PATH.match(upstream.path):
                problem(
                    f"{where}.{side}", f"the path {upstream.path!r} has characters nginx quotes"
                )
            if not _HOST.match(upstream.host):
                problem(f"{where}.{side}", f"{upstream.host!r} is not a host name or address")
    if problems:
        raise SpecError(problems)


_MAIN = """\
# Rendered by strangler render nginx from {source}; do not edit by hand.
# A complete nginx around the routes' split. Every path is relative to the prefix:
#   nginx -p /some/dir -c {{this folder}}/nginx.conf -e stderr
daemon off;
worker_processes auto;
pid nginx.pid;
error_log stderr warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;

    include strangler-http.conf;

    server {{
        listen {listen};
{server_extra}        include strangler-locations.conf;
    }}
}}
"""
