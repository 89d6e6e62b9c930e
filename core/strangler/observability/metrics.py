"""The REST edge's and the legacy operations' Prometheus metrics.

* ``strangler_http_requests_total{route, method, status}``: requests answered, by
  route template (``/soap/inventory/get-stock``, ``/erp/orders/{key}``; ``unmatched``
  for a path no route took) and status code;
* ``strangler_http_request_seconds{route, method}``: from the request's arrival to
  the end of its answer;
* ``strangler_operation_requests_total{system, operation}``: legacy operations called
  (from the REST edge, the gateway, the CLI, the shim...);
* ``strangler_operation_errors_total{system, operation, type}``: those that failed, by
  problem type (``legacy-timeout``, ``legacy-unavailable``, ``circuit-open``...);
* ``strangler_operation_seconds{system, operation}``: one operation call, validation
  to answer, retries included.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import Counter, Histogram

__all__ = [
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "OPERATION_ERRORS",
    "OPERATION_LATENCY",
    "OPERATION_REQUESTS",
    "SECONDS",
    "observe_operation",
    "problem_slug",
]

SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "strangler_http_requests",
    "REST requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "strangler_http_request_seconds",
    "Time from a REST request's arrival to the end of its answer.",
    ["route", "method"],
    buckets=SECONDS,
)
OPERATION_REQUESTS = Counter(
    "strangler_operation_requests", "Legacy operations called.", ["system", "operation"]
)
OPERATION_ERRORS = Counter(
    "strangler_operation_errors",
    "Legacy operation calls that failed, by problem type.",
    ["system", "operation", "type"],
)
OPERATION_LATENCY = Histogram(
    "strangler_operation_seconds",
    "Time of one legacy operation call, retries included.",
    ["system", "operation"],
    buckets=SECONDS,
)


def problem_slug(exc: BaseException) -> str:
    """The problem type ``exc`` is answered with (its last segment), or ``unexpected``."""
    from strangler.errors import StranglerError

    if not isinstance(exc, StranglerError):
        return "unexpected"
    try:
        from strangler.rest.problems import problem_type
    except ImportError:  # no REST edge installed: the error's own class
        return type(exc).__name__
    return problem_type(exc).type


@asynccontextmanager
async def observe_operation(system: str, operation: str) -> AsyncIterator[None]:
    """Count and time one call of ``system.operation``; a failure by its problem type."""
    OPERATION_REQUESTS.labels(system, operation).inc()
    start = time.perf_counter()
    try:
        yield
    except Exception as exc:  # a cancelled call is no error of the legacy system's
        OPERATION_ERRORS.labels(system, operation, problem_slug(exc)).inc()
        raise
    finally:
        OPERATION_LATENCY.labels(system, operation).observe(time.perf_counter() - start)
