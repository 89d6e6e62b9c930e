"""The gateway's Prometheus metrics, per route and side.

``strangler_gateway_requests_total{route, side}``: requests answered by a side;
``strangler_gateway_errors_total{route, side, type}``: those answered with a
problem (``type`` the problem type: ``invalid-input``, ``legacy-timeout``,
``upstream-error``...), or with a 5xx of the side's own (``type="status-503"``);
``strangler_gateway_request_seconds{route, side}``: time from the request's
arrival to its answer. Disagreements and shed shadow calls are counted by
:mod:`strangler.gateway.shadow` and :mod:`strangler.gateway.disagreements`.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["ERRORS", "LATENCY", "REQUESTS", "SideMetrics"]

_SECONDS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "strangler_gateway_requests", "Requests answered by a route's side.", ["route", "side"]
)
ERRORS = Counter(
    "strangler_gateway_errors",
    "Requests a route's side answered with an error, by problem type.",
    ["route", "side", "type"],
)
LATENCY = Histogram(
    "strangler_gateway_request_seconds",
    "Time from a request's arrival at the gateway to its answer.",
    ["route", "side"],
    buckets=_SECONDS,
)


class SideMetrics:
    """One route side's metric children, looked up once (not on every request)."""

    __slots__ = ("latency", "requests", "route", "side")

    def __init__(self, route: str, side: str) -> None:
        self.route, self.side = route, side
        self.requests = REQUESTS.labels(route, side)
        self.latency = LATENCY.labels(route, side)

    def answered(self, seconds: float) -> None:
        self.requests.inc()
        self.latency.observe(seconds)

    def failed(self, problem_type: str) -> None:
        ERRORS.labels(self.route, self.side, problem_type).inc()
