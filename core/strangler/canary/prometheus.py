"""Measurements from a Prometheus server that scrapes every replica's ``/metrics``.

With ``routes.prometheus: {url: ...}`` the analysis asks Prometheus, so one
controller sees the traffic of every replica (and of anything else that exports
the same series). The built-in queries read strangler's own metrics, the
modern side of one route, at the window's end:

=================  ================================================================
``samples``        modern answers: ``strangler_gateway_requests_total{side="modern"}``
errors             ``strangler_gateway_errors_total{side="modern"}`` (any type)
``p99_ms``         0.99 quantile of ``strangler_gateway_request_seconds_bucket``
compared           ``strangler_gateway_shadow_calls_total{outcome=~"agreed|disagreed"}``
disagreements      ``strangler_gateway_shadow_calls_total{outcome="disagreed"}``
=================  ================================================================

A window without modern answers (the shadow step: legacy answers) takes the
shadow calls as the modern answers (``strangler_gateway_shadow_calls_total``,
any outcome, and those shed as ``slow``; errors: those that ``failed`` or were
shed as ``slow``), as the database's samples do; they have no latency series.
On a canary step the shadow calls ask legacy (a comparison), so they are not
modern answers there.

Each is the counter's growth over the window, per series, as
``(x - x offset W) >= 0 or x``: a series that starts inside the window (the
first error of a replica) counts from zero, and one that went down (a replica
restarted) counts what it has since; ``increase()`` would extrapolate, and miss
what a series counted before its first scrape. ``W`` is the window rounded up
to whole seconds, so the count starts at the last scrape before the window:
exact at the scrape interval (a short ``scrape_interval`` keeps the previous
step's last answers out).

``rollout.queries`` replaces any of ``error_rate``, ``p99_ms`` (milliseconds),
``disagreement_rate`` or ``samples`` with the route's own PromQL; ``{route}``
and ``{window}`` (a duration such as ``60s``) are filled in, and each must give
one number (an empty answer is no data). An overridden rate is turned back into
counts on the sample count, so :class:`~strangler.canary.model.Measurement`
keeps its meaning; an overridden ``samples`` counts both modern answers and
comparisons. Prometheus has no per-segment series: a rollout with a fairness
gate takes its segments from ``segments`` (the database's samples) when given.

A Prometheus that cannot be reached, answers an error, or refuses a query
raises :class:`PrometheusError` naming the query: the controller records the
analysis as failed to measure and never promotes on it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import httpx

from strangler.canary.model import Measurement, MetricsSource
from strangler.errors import StranglerError
from strangler.spec.gateway import PrometheusSpec, RolloutSpec

__all__ = ["BUILTIN_QUERIES", "PrometheusError", "PrometheusSource"]


def _growth(metric: str, matchers: str) -> str:
    series = f"{metric}{{{matchers}}}"
    return f"((({series} - ({series} offset {{window}})) >= 0) or {series})"


def _total(*parts: str) -> str:
    """The sum of each part's series, a missing part counting zero."""
    return " + ".join(f"(sum({part}) or vector(0))" for part in parts)


_MODERN = 'route="{route}",side="modern"'
_SHADOW = 'route="{route}"'
_SHADOW_CALLS = "strangler_gateway_shadow_calls_total"
_SLOW = _growth("strangler_gateway_shadow_shed_total", _SHADOW + ',reason="slow"')

BUILTIN_QUERIES: Mapping[str, str] = {
    "requests": _total(_growth("strangler_gateway_requests_total", _MODERN)),
    "errors": _total(_growth("strangler_gateway_errors_total", _MODERN)),
    "shadow_calls": _total(_growth(_SHADOW_CALLS, _SHADOW), _SLOW),
    "shadow_errors": _total(_growth(_SHADOW_CALLS, _SHADOW + ',outcome="failed"'), _SLOW),
    "p99_s": "histogram_quantile(0.99, sum by (le) ("
    + _growth("strangler_gateway_request_seconds_bucket", _MODERN)
    + "))",
    "compared": _total(_growth(_SHADOW_CALLS, _SHADOW + ',outcome=~"agreed|disagreed"')),
    "disagreements": _total(_growth(_SHADOW_CALLS, _SHADOW + ',outcome="disagreed"')),
}
"""The built-in PromQL by measure; ``{route}`` and ``{window}`` are filled in."""


class PrometheusError(StranglerError):
    """Prometheus could not be asked, or would not answer a query; ``query`` is the PromQL."""

    def __init__(self, message: str, *, url: str, query: str) -> None:
        super().__init__(message)
        self.url, self.query = url, query


class PrometheusSource:
    """A :class:`~strangler.canary.model.MetricsSource` asking Prometheus (see the module)."""

    def __init__(
        self,
        spec: PrometheusSpec,
        rollouts: Mapping[str, RolloutSpec],
        *,
        segments: MetricsSource | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.spec = spec
        self.rollouts = rollouts
        self.segments = segments
        self._transport = transport

    async def measure(self, route: str, since: dt.datetime, until: dt.datetime) -> Measurement:
        """The modern side of ``route`` between ``since`` and ``until``, as Prometheus saw it."""
        rollout = self.rollouts.get(route)
        overrides: dict[str, str] = {}
        if rollout is not None:
            overrides = {str(name): query for name, query in rollout.queries.items()}
        window = _duration(until - since)
        at = until.timestamp()
        async with httpx.AsyncClient(
            base_url=self.spec.url, timeout=self.spec.timeout_s, transport=self._transport
        ) as client:

            async def ask(query: str) -> float | None:
                text = query.replace("{route}", _label(route)).replace("{window}", window)
                return await self._value(client, text, at)

            shadow_step = False
            if "samples" in overrides:
                requests = compared = _count(await ask(overrides["samples"]))
            else:
                requests = _count(await ask(BUILTIN_QUERIES["requests"]))
                if requests == 0:  # no modern answers: a shadow step, whose are the shadow calls
                    requests = _count(await ask(BUILTIN_QUERIES["shadow_calls"]))
                    shadow_step = requests > 0
                compared = _count(await ask(BUILTIN_QUERIES["compared"]))
            if "error_rate" in overrides:
                errors = _of(await ask(overrides["error_rate"]), requests)
            else:
                query = BUILTIN_QUERIES["shadow_errors" if shadow_step else "errors"]
                errors = _count(await ask(query))
            if "p99_ms" in overrides:
                p99_ms = await ask(overrides["p99_ms"])
                p99_s = None if p99_ms is None else p99_ms / 1000
            else:
                p99_s = await ask(BUILTIN_QUERIES["p99_s"])
            if "disagreement_rate" in overrides:
                disagreements = _of(await ask(overrides["disagreement_rate"]), compared)
            else:
                disagreements = _count(await ask(BUILTIN_QUERIES["disagreements"]))
        segments = {}
        if self.segments is not None and rollout is not None and rollout.fairness is not None:
            segments = dict((await self.segments.measure(route, since, until)).segments)
        return Measurement(
            requests=requests,
            errors=min(errors, requests),
            p99_s=p99_s if requests else None,
            compared=compared,
            disagreements=min(disagreements, compared),
            segments=segments,
        )

    async def _value(self, client: httpx.AsyncClient, query: str, at: float) -> float | None:
        """One instant query's single number (``None``: no data, or not a number)."""
        try:
            answer = await client.get("/api/v1/query", params={"query": query, "time": at})
        except httpx.HTTPError as exc:
            raise PrometheusError(
                f"Prometheus at {self.spec.url} cannot be asked: {exc!r}",
                url=self.spec.url,
                query=query,
            ) from exc
        try:
            body: dict[str, Any] = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or body.get("status") != "success":
            reason = body.get("error") or f"HTTP {answer.status_code}"
            raise PrometheusError(
                f"Prometheus at {self.spec.url} refused {query!r}: {reason}",
                url=self.spec.url,
                query=query,
            )
        return _single(body["data"], query, self.spec.url)


def _single(data: Mapping[str, Any], query: str, url: str) -> float | None:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        raw = result[1] if isinstance(result, list) else "NaN"
    elif kind == "vector" and isinstance(result, list):
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusError(
                f"{query!r} gives {len(result)} series where one number is needed "
                "(wrap it in sum(...))",
                url=url,
                query=query,
            )
        raw = result[0]["value"][1]
    else:
        raise PrometheusError(
            f"{query!r} gives a {kind} where one number is needed", url=url, query=query
        )
    value = float(raw)
    return None if math.isnan(value) or math.isinf(value) else value


def _count(value: float | None) -> int:
    return 0 if value is None else max(0, round(value))


def _of(rate: float | None, total: int) -> int:
    """A rate back into a count of ``total`` (at least one when the rate is above zero)."""
    if rate is None or total == 0 or rate <= 0:
        return 0
    return max(1, round(min(rate, 1.0) * total))


def _duration(span: dt.timedelta) -> str:
    """A PromQL duration covering ``span``: whole seconds, rounded up, at least one."""
    return f"{max(1, math.ceil(span.total_seconds() - 1e-3))}s"


def _label(value: str) -> str:
    """``value`` safe inside a double-quoted PromQL label matcher."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
