"""The ``routes:`` section: public paths the gateway splits between a legacy and a modern side.

.. code-block:: yaml

    routes:
      state: ${GATEWAY_STATE:-}          # SQLAlchemy URL of the live mode and weight
      refresh_s: 0.5                     # each replica reads the state again this often
      items:
        reorder-advice:
          path: /api/reorder-advice      # POST, JSON (or a SOAP envelope with an xpath key)
          legacy: inventory.GetReorderAdvice        # an operation, by the uniform lookup
          modern: {model: reorder}                  # by-entity predict, or {url: http://svc/p}
          request:                       # the public request → a side's (absent: as it is)
            modern:
              fields: {entity.sku: sku, features.onHand: quantityOnHand}
          response:                      # a side's answer → the public one
            modern:
              fields: {prediction.label: {as: reorder, flag: {"true": [yes], "false": [no]}}}
          mode: shadow                   # legacy | shadow | canary | modern (the initial one)
          weight: 0.1                    # the modern share in canary mode
          sticky: {body: /customerId}    # {header: X-Customer} | {cookie: c} | {xpath: //c}
          shadow: {sample: 1.0, ignore: [/quantity, /reason, /ruleId]}

A side's ``fields`` are keyed by the side's own field (a dotted path), each
with the public name after ``as`` and an encoding of the mapping layer
(:class:`~strangler.mapping.spec.FieldMap`): the request is encoded into the
side's shape, the answer decoded into the public one, and only mapped fields
cross. ``{callable: module:function}`` maps with a Python function
``(payload: dict) -> dict`` instead.

The mode and weight given here seed the state database the first time a
route is seen; from then on the database holds the live values (the admin API
``PUT /admin/routes/{route}`` and the controller change them there), and every
replica sharing that database follows within ``refresh_s``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    PositiveFloat,
    PositiveInt,
    Tag,
    field_validator,
    model_validator,
)

from strangler.mapping.spec import FieldMaps
from strangler.spec.common import Frozen

__all__ = [
    "CallableMap",
    "FieldsMap",
    "Mode",
    "ModelTarget",
    "OperationTarget",
    "RouteSpec",
    "RoutesSpec",
    "ShadowSpec",
    "SideMaps",
    "StickySpec",
    "Target",
    "UrlTarget",
]

Mode = Literal["legacy", "shadow", "canary", "modern"]
"""``legacy``/``modern``: that side answers every request; ``shadow``: legacy answers and
modern is asked too and compared; ``canary``: ``weight`` of the keys go to modern."""

MODES: tuple[Mode, ...] = ("legacy", "shadow", "canary", "modern")

_ROUTE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_OPERATION = re.compile(r"^[A-Za-z0-9_.-]+\.[A-Za-z0-9_]+$")
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class OperationTarget(Frozen):
    """A legacy operation called in-process (``system.Operation``)."""

    operation: str

    @field_validator("operation")
    @classmethod
    def _ref(cls, value: str) -> str:
        if not _OPERATION.match(value):
            raise ValueError(f"{value!r} is not 'system.Operation'")
        return value


class ModelTarget(Frozen):
    """A served model's by-entity prediction (``POST /predict/{model}``), called in-process."""

    model: str
    version: str | None = None


class UrlTarget(Frozen):
    """Any HTTP service: the request is POSTed there over a pooled keep-alive connection."""

    url: str = Field(pattern=r"^https?://")
    timeout_s: PositiveFloat = 5.0
    safe: bool = Field(
        default=False,
        description="The service has no side effects: shadow mode may ask it twice.",
    )


def _target(value: Any) -> Any:
    return {"operation": value} if isinstance(value, str) else value


def _target_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((k for k in ("operation", "model", "url") if k in value), None)
    return next((k for k in ("operation", "model", "url") if hasattr(value, k)), None)


Target = Annotated[
    Annotated[OperationTarget, Tag("operation")]
    | Annotated[ModelTarget, Tag("model")]
    | Annotated[UrlTarget, Tag("url")],
    Discriminator(
        _target_kind,
        custom_error_type="target",
        custom_error_message="a side is 'system.Operation', {model: name} or {url: http://...}",
    ),
    BeforeValidator(_target),
]
"""Where a side's calls go: ``system.Operation`` (shorthand), ``{model: m}`` or ``{url: u}``."""


class FieldsMap(Frozen):
    """Field by field through the mapping layer: side's field (dotted path) → public name."""

    fields: FieldMaps


class CallableMap(Frozen):
    """A Python function ``module:function`` taking the payload dict and returning the mapped."""

    callable: str

    @field_validator("callable")
    @classmethod
    def _ref(cls, value: str) -> str:
        if not _CALLABLE.match(value):
            raise ValueError(f"{value!r} is not 'module:function'")
        return value


SideMap = FieldsMap | CallableMap


class SideMaps(Frozen):
    """One mapping per side; a side without one sees the payload as it is."""

    legacy: SideMap | None = None
    modern: SideMap | None = None


class StickySpec(Frozen):
    """The key that keeps a caller on one side: exactly one of the four.

    ``body`` is a JSON pointer (RFC 6901) into a JSON request; ``xpath`` an
    XPath 1.0 expression into an XML (SOAP) request, matched by local names.
    """

    header: str | None = None
    cookie: str | None = None
    body: str | None = None
    xpath: str | None = None

    @model_validator(mode="after")
    def _one(self) -> StickySpec:
        given = [k for k in ("header", "cookie", "body", "xpath") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of header, cookie, body (a JSON pointer) or xpath")
        if self.header is not None and not _HEADER.match(self.header):
            raise ValueError(f"{self.header!r} is not a header name")
        if self.body is not None and not (self.body.startswith("/") or self.body == ""):
            raise ValueError(f"body: {self.body!r} is not a JSON pointer (it starts with '/')")
        if self.xpath is not None:
            from lxml import etree

            try:
                etree.XPath(self.xpath)
            except etree.XPathSyntaxError as exc:
                raise ValueError(f"xpath: {self.xpath!r} does not parse ({exc})") from exc
        return self


class ShadowSpec(Frozen):
    """Shadow mode: legacy answers; modern is asked as well and the two are compared."""

    sample: Annotated[float, Field(ge=0, le=1)] = Field(
        default=1.0, description="The share of requests also sent to the modern side."
    )
    ignore: tuple[str, ...] = Field(
        default=(), description="JSON pointers (or XPaths) never counted as disagreement."
    )
    tolerance: Annotated[float, Field(ge=0)] = Field(
        default=1e-6, description="Numbers closer than this (relative) agree."
    )
    noise_sample: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.05,
        description="The share of shadowed requests whose safe legacy side is asked twice "
        "to learn which paths vary by themselves.",
    )
    max_inflight: PositiveInt = Field(
        default=32, description="Shadow calls in flight at most; more are dropped and counted."
    )
    timeout_s: PositiveFloat = Field(
        default=2.0, description="A shadow call slower than this is abandoned and counted."
    )
    keep: PositiveInt = Field(default=1000, description="Recent disagreements kept per route.")


class RouteSpec(Frozen):
    """One public path and the two sides behind it."""

    path: str = Field(pattern=r"^/[A-Za-z0-9/_.~-]*$")
    legacy: Target
    modern: Target
    request: SideMaps = SideMaps()
    response: SideMaps = SideMaps()
    mode: Mode = "legacy"
    weight: Annotated[float, Field(ge=0, le=1)] = 0.0
    sticky: StickySpec | None = Field(
        default=None, description="Absent: each request of a canary is split on its own."
    )
    shadow: ShadowSpec = ShadowSpec()

    @model_validator(mode="after")
    def _xml_maps(self) -> RouteSpec:
        if self.sticky is not None and self.sticky.xpath is not None:
            for side in ("legacy", "modern"):
                for maps in (self.request, self.response):
                    if isinstance(getattr(maps, side), FieldsMap):
                        raise ValueError(
                            f"an XML route maps {side} with a callable, not fields "
                            "(fields map JSON objects)"
                        )
        return self


class RoutesSpec(Frozen):
    """The gateway's routes and the database that holds their live state."""

    state: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the route state; default: SQLite in the cache dir.",
    )
    refresh_s: PositiveFloat = Field(
        default=0.5, description="How often each replica reads the state database again."
    )
    items: dict[str, RouteSpec] = Field(default_factory=dict)

    @field_validator("state", mode="before")
    @classmethod
    def _empty_state(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("items")
    @classmethod
    def _names_and_paths(cls, value: dict[str, RouteSpec]) -> dict[str, RouteSpec]:
        paths: dict[str, str] = {}
        for name, route in value.items():
            if not _ROUTE_NAME.match(name):
                raise ValueError(
                    f"route name {name!r}: lower-case letters, digits, '_' or '-', at most 63"
                )
            if route.path in paths:
                raise ValueError(
                    f"routes {paths[route.path]!r} and {name!r} share the path {route.path}"
                )
            paths[route.path] = name
        return value
