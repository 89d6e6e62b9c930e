"""Which scope each operation needs, and whether a caller's scopes grant it.

A scope is segments joined by ``:``, from the area outwards. The default names:

==========================================  ==========================================
``POST /soap/inventory/.../GetStock``       ``soap:inventory:GetStock``
``POST /xmlrpc/pricing/pricing.quote``      ``xmlrpc:pricing:pricing.quote``
``GET /database/erp/orders[/{key}]``        ``db:erp:orders:read``
``POST`` / ``PATCH`` / ``DELETE`` on it     ``db:erp:orders:insert`` / ``update`` / ``delete``
``POST /jsonrpc/calc/_batch``               ``jsonrpc:calc:*`` (every method it may call)
``POST /jsonrpc/calc/log`` (a notification)   ``jsonrpc:calc:log``
``GET /events/orders[/sse]``                ``stream:orders:read``
``/features/item_sales/...``                ``features:item_sales:read``
``POST /predict/{model}``, ``.../infer``    ``model:{model}:predict``, ``model:{name}:infer``
``GET /v2/models/{name}...``                ``model:{name}:read``
a gateway route (``routes.items.NAME``)     ``gateway:NAME``
``/admin/...``, ``/v2/repository/...``      ``admin``
anything else                               ``FIRST-SEGMENT:read`` or ``:write``
==========================================  ==========================================

``{param}`` in a scope is the path parameter's value in the request
(``model:reorder:infer``). ``security.scopes`` names a scope of one's own for
any operation. Paths the OpenAPI document does not list (``/openapi.json``,
``/docs``, ``/metrics``, unknown ones) need credentials but no scope.

A granted scope may use ``*``: one segment anywhere, and as the last segment
everything below (``db:erp:*`` grants ``db:erp:orders:read``; ``db:*:*:read``
every table's reads); ``*`` alone grants everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from strangler.platform.operations import OperationSource

__all__ = ["RouteRule", "ScopeTable", "grants", "route_rules"]

KIND_TAGS = {"database": "db"}
"""A kind's first scope segment, where it differs from the kind's name."""

TABLE_VERBS = {"GET": "read", "HEAD": "read", "POST": "insert", "PUT": "update"}
TABLE_VERBS |= {"PATCH": "update", "DELETE": "delete"}
READS = frozenset({"GET", "HEAD", "OPTIONS"})
_NOT_WRITES = ("read", "infer", "predict")

AREA_RULES: tuple[tuple[str, str, str], ...] = (
    ("*", "/admin/**", "admin"),
    ("*", "/v2/repository/**", "admin"),
    ("GET", "/events", "events:read"),
    ("GET", "/asyncapi.json", "events:read"),
    ("GET", "/events/{stream}/**", "stream:{stream}:read"),
    ("GET", "/features", "features:read"),
    ("*", "/features/{view}/**", "features:{view}:read"),
    ("POST", "/predict/{model}", "model:{model}:predict"),
    ("POST", "/v2/models/{model}/**", "model:{model}:infer"),
    ("GET", "/v2/models/{model}/**", "model:{model}:read"),
    ("GET", "/v2/**", "models:read"),
)
"""(methods, path pattern, scope) of the platform's areas, first match wins. In a
pattern, ``{var}`` is one segment (bound into the scope) and ``/**`` any rest."""


@dataclass(frozen=True)
class RouteRule:
    """One documented operation: its scope (``None``: public) and whether it writes."""

    method: str
    template: str
    scope: str | None
    write: bool
    params: tuple[str, ...] = ()
    regex: re.Pattern[str] = field(default=re.compile(""), compare=False)

    def required(self, values: Mapping[str, str]) -> str | None:
        """The scope with the request's path parameters filled in."""
        if self.scope is None or "{" not in self.scope:
            return self.scope
        return re.sub(r"\{([^}]+)\}", lambda m: _segment(values.get(m.group(1), "")), self.scope)


def _segment(value: str) -> str:
    """A parameter's value as one scope segment (other characters %-escaped: no ``:`` or ``*``)."""
    return re.sub(r"[^A-Za-z0-9_.\-]", lambda m: "%" + m.group(0).encode().hex().upper(), value)


def grants(granted: Iterable[str], required: str) -> bool:
    """Whether any granted scope (or pattern) grants ``required``."""
    need = required.split(":")
    return any(_grants(g.split(":"), need) for g in granted)


def _grants(pattern: list[str], need: list[str]) -> bool:
    for index, part in enumerate(pattern):
        if index >= len(need):
            return False
        if part == "*" and index == len(pattern) - 1:
            return True
        if part != "*" and part != need[index]:
            return False
    return len(pattern) == len(need)


def _template_regex(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    names: list[str] = []
    out = []
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{") and piece.endswith("}"):
            names.append(piece[1:-1])
            out.append("([^/]+)")
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out)), tuple(names)


def _area_scope(method: str, template: str) -> str | None:
    segments = template.strip("/").split("/")
    for methods, pattern, scope in AREA_RULES:
        if methods != "*" and methods != method:
            continue
        want = pattern.strip("/").split("/")
        rest = want[-1] == "**"
        if rest:
            want = want[:-1]
        if len(segments) < len(want) or (not rest and len(segments) != len(want)):
            continue
        bound: dict[str, str] = {}
        for have, part in zip(segments, want, strict=False):
            if part.startswith("{"):
                bound[part[1:-1]] = have
            elif part != have:
                break
        else:
            return _fill(scope, bound)
    return None


def _fill(scope: str, bound: Mapping[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: bound[m.group(1)], scope)


def _is_write(method: str, scope: str) -> bool:
    return method not in READS and not scope.endswith(tuple(f":{v}" for v in _NOT_WRITES))


def route_rules(
    document: Mapping[str, Any],
    sources: Iterable[tuple[str, str, OperationSource]],
    *,
    public: Iterable[str] = (),
    overrides: Mapping[str, str] | None = None,
    gateway: Mapping[str, str] | None = None,
) -> list[RouteRule]:
    """A rule for every operation of the OpenAPI ``document``.

    ``sources``: (kind, system, component) of the legacy adapters; ``gateway``:
    public path → route name; ``overrides``: ``security.scopes``.
    """
    overrides = overrides or {}
    gateway = gateway or {}
    public = set(public)
    operations: dict[tuple[str, str], tuple[str, bool]] = {}
    systems: dict[str, str] = {}
    for kind, system, source in sources:
        tag = KIND_TAGS.get(kind, kind)
        base = f"/{kind}/{system}"
        systems[base] = f"{tag}:{system}"
        for op in source.operations():
            for route in (op.route, *op.aliases):
                path = base + "".join(f"/{p}" for p in route)
                operations[("POST", path)] = (f"{tag}:{system}:{op.route[-1]}", not op.safe)
    rules = []
    for template, item in document.get("paths", {}).items():
        for method in item:
            if method not in ("get", "put", "post", "delete", "patch", "head", "options"):
                continue
            verb = method.upper()
            named, write = _scope(verb, template, operations, systems, gateway)
            scope: str | None = named
            if template in public:
                scope, write = None, False
            given = overrides.get(f"{verb} {template}") or overrides.get(template)
            if given:
                scope = given
            regex, params = _template_regex(template)
            rules.append(RouteRule(verb, template, scope, write, params, regex))
    return rules


def _scope(
    verb: str,
    template: str,
    operations: Mapping[tuple[str, str], tuple[str, bool]],
    systems: Mapping[str, str],
    gateway: Mapping[str, str],
) -> tuple[str, bool]:
    if (verb, template) in operations:
        return operations[(verb, template)]
    if template in gateway:
        return f"gateway:{gateway[template]}", False
    segments = template.strip("/").split("/")
    base = "/" + "/".join(segments[:2])
    if base in systems and len(segments) >= 2:
        rest = segments[2] if len(segments) > 2 and not segments[2].startswith("{") else None
        if not systems[base].startswith("db:"):  # a notification; a batch needs all
            named = rest if rest and not rest.startswith("_") else "*"
            return f"{systems[base]}:{named}", verb not in READS
        action = TABLE_VERBS.get(verb, "call")
        scope = f"{systems[base]}:{rest}:{action}" if rest else f"{systems[base]}:{action}"
        return scope, verb not in READS
    area = _area_scope(verb, template)
    if area is not None:
        return area, _is_write(verb, area)
    first = re.sub(r"[^A-Za-z0-9_.\-]", "_", segments[0]) or "root"
    scope = f"{first}:{'read' if verb in READS else 'write'}"
    return scope, verb not in READS


class ScopeTable:
    """Finds the rule of a request: literal paths by look-up, templates by pattern."""

    def __init__(self, rules: Iterable[RouteRule]) -> None:
        self.rules = list(rules)
        self._literal: dict[tuple[str, str], RouteRule] = {}
        self._templated: list[RouteRule] = []
        for rule in self.rules:
            if rule.params:
                self._templated.append(rule)
            else:
                self._literal[(rule.method, rule.template)] = rule

    def find(self, method: str, path: str) -> tuple[RouteRule | None, dict[str, str]]:
        """The rule for ``method path`` (HEAD as GET) and its path parameters."""
        method = "GET" if method == "HEAD" else method
        rule = self._literal.get((method, path))
        if rule is not None:
            return rule, {}
        for rule in self._templated:
            if rule.method == method:
                found = rule.regex.fullmatch(path)
                if found:
                    return rule, dict(zip(rule.params, found.groups(), strict=True))
        return None, {}

    def scopes(self) -> list[str]:
        """Every scope named, sorted (for the OpenAPI document)."""
        return sorted({r.scope for r in self.rules if r.scope})
