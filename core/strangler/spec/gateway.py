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
          rollout:                       # the canary controller moves mode and weight
            steps: [shadow, 0.05, 0.25, 1.0]   # 'shadow', then modern shares; 1.0 is 'modern'
            bake_s: 60                   # at least this long on a step
            min_samples: 200             # modern answers (comparisons in shadow) per analysis
            thresholds: {error_rate: 0.01, p99_ms: 250, disagreement_rate: 0.02}
            fairness: {segment: {body: /segment}, max_ratio: 1.5}

A side's ``fields`` are keyed by the side's own field (a dotted path), each
with the public name after ``as`` and an encoding of the mapping layer
(:class:`~strangler.mapping.spec.FieldMap`): the request is encoded into the
side's shape, the answer decoded into the public one, and only mapped fields
cross. ``{callable: module:function}`` maps with a Python function
``(payload: dict) -> dict`` instead.

``rollout`` hands the route to the canary controller: from its first step it
promotes while the modern side's error rate, p99 latency and disagreement rate
stay under ``thresholds`` (and the segments' rates within ``fairness.max_ratio``
of each other), and rolls back to ``legacy`` at once when one is crossed.
Measurements come from every replica through the state database, from a
Prometheus server (``routes.prometheus``), or from nginx's access log when
nginx is the data plane (``routes.nginx``).

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
from strangler.spec.common import Frozen, resolve_path

__all__ = [
    "CallableMap",
    "FairnessSpec",
    "FieldsMap",
    "Mode",
    "ModelTarget",
    "NginxPlaneSpec",
    "OperationTarget",
    "PrometheusSpec",
    "RolloutSpec",
    "RouteSpec",
    "RoutesSpec",
    "SegmentSpec",
    "ShadowSpec",
    "SideMaps",
    "Step",
    "StickySpec",
    "Target",
    "ThresholdsSpec",
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


Step = Literal["shadow"] | Annotated[float, Field(gt=0, le=1)]
"""A rollout step: ``shadow``, or the modern share of a canary (``1.0`` is mode ``modern``)."""


class ThresholdsSpec(Frozen):
    """Limits on the modern side over an analysis window; crossing one rolls back."""

    error_rate: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.01, description="Modern answers that are errors (5xx or a problem), at most."
    )
    p99_ms: PositiveFloat = Field(default=500.0, description="Modern p99 latency, at most (ms).")
    disagreement_rate: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.02, description="Compared answers that disagree with legacy, at most."
    )


class SegmentSpec(Frozen):
    """Where a request's segment is read: a JSON pointer into the body, or a function."""

    body: str | None = None
    callable: str | None = Field(
        default=None, description="'module:function' taking the JSON payload, giving a str."
    )

    @model_validator(mode="after")
    def _one(self) -> SegmentSpec:
        if (self.body is None) == (self.callable is None):
            raise ValueError("give exactly one of body (a JSON pointer) or callable")
        if self.body is not None and not self.body.startswith("/"):
            raise ValueError(f"body: {self.body!r} is not a JSON pointer (it starts with '/')")
        if self.callable is not None and not _CALLABLE.match(self.callable):
            raise ValueError(f"{self.callable!r} is not 'module:function'")
        return self


class FairnessSpec(Frozen):
    """Per segment, the error and disagreement rates stay within ``max_ratio`` of each other."""

    segment: SegmentSpec
    max_ratio: Annotated[float, Field(ge=1)] = 1.5
    min_samples: PositiveInt = Field(
        default=50, description="Segments with fewer samples in the window are not compared."
    )
    floor: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.01, description="Rates below this count as this (no ratio of two near-zeros)."
    )


class RolloutSpec(Frozen):
    """The canary controller's schedule and gates for one route."""

    steps: tuple[Step, ...] = Field(min_length=1)
    bake_s: Annotated[float, Field(ge=0)] = 60.0
    min_samples: PositiveInt = 100
    window_s: PositiveFloat = Field(
        default=60.0, description="Each analysis looks at the samples of this long (on the step)."
    )
    interval_s: PositiveFloat = Field(default=5.0, description="How often the controller looks.")
    thresholds: ThresholdsSpec = ThresholdsSpec()
    fairness: FairnessSpec | None = None
    queries: dict[Literal["error_rate", "p99_ms", "disagreement_rate", "samples"], str] = Field(
        default_factory=dict,
        description="PromQL per measure, '{route}' and '{window}' filled in; used when "
        "routes.prometheus is set (absent: the built-in queries on strangler's metrics).",
    )
    auto: bool = Field(default=True, description="False: promote only when asked.")

    @field_validator("steps")
    @classmethod
    def _rising(cls, value: tuple[Step, ...]) -> tuple[Step, ...]:
        shares = [s for s in value if s != "shadow"]
        if "shadow" in value and value.index("shadow") != 0:
            raise ValueError("'shadow' can only be the first step")
        if value.count("shadow") > 1 or shares != sorted(set(shares)):
            raise ValueError("the shares of the steps rise, each once")
        return value


class PrometheusSpec(Frozen):
    """A Prometheus server that scrapes every replica: the analysis asks it."""

    url: str = Field(pattern=r"^https?://")
    timeout_s: PositiveFloat = 5.0


class NginxPlaneSpec(Frozen):
    """nginx carries the split: the controller renders each step and reloads nginx."""

    dir: str = Field(
        description="The nginx prefix the configuration is rendered into (relative: to the spec)."
    )
    listen: str = "127.0.0.1:8080"
    legacy_url: str | None = Field(
        default=None, description="Where nginx sends the legacy side (default: strangler's)."
    )
    modern_url: str | None = None
    strangler_url: str | None = Field(
        default=None,
        description=(
            "Where nginx reaches strangler, whose /_strangler/sides/{route}/{side} answers an "
            "operation or model side (default: the spec's server host and port)."
        ),
    )
    reload: Literal["signal", "command"] = Field(
        default="signal", description="signal: SIGHUP to the pid in DIR/nginx.pid."
    )

    _dir = field_validator("dir")(resolve_path)


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
    rollout: RolloutSpec | None = None

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
    prometheus: PrometheusSpec | None = Field(
        default=None, description="Rollout analyses ask this Prometheus instead of the database."
    )
    nginx: NginxPlaneSpec | None = Field(
        default=None, description="nginx is the data plane: each step is rendered and reloaded."
    )

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
