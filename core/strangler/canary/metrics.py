"""The controller's Prometheus metrics, per route.

``strangler_canary_step{route}``: the index of the route's current step;
``strangler_canary_weight{route}``: the modern share it sends (0 in shadow or
after a rollback, 1 once promoted); ``strangler_canary_status{route, status}``:
1 for the route's present status; ``strangler_canary_promotions_total{route}``
and ``strangler_canary_rollbacks_total{route}``: the changes this replica made
(sum over replicas); ``strangler_canary_analyses_total{route, verdict}``: its
analyses. Every replica sets the gauges from the rollout rows it reads.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["ANALYSES", "PROMOTIONS", "ROLLBACKS", "STATUS", "STEP", "WEIGHT"]

STEP = Gauge("strangler_canary_step", "The index of a route's current rollout step.", ["route"])
WEIGHT = Gauge(
    "strangler_canary_weight", "The modern share a route's rollout sends now.", ["route"]
)
STATUS = Gauge(
    "strangler_canary_status",
    "1 for a route's present rollout status (running, paused, promoted, rolled_back).",
    ["route", "status"],
)
PROMOTIONS = Counter(
    "strangler_canary_promotions", "Rollout steps promoted by this replica.", ["route"]
)
ROLLBACKS = Counter("strangler_canary_rollbacks", "Rollbacks made by this replica.", ["route"])
ANALYSES = Counter(
    "strangler_canary_analyses", "Analyses made by this replica, by verdict.", ["route", "verdict"]
)
