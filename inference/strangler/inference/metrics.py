"""Prometheus metrics of the served models, per model and version.

* ``strangler_model_requests_total``: inference requests answered (also those refused);
* ``strangler_model_errors_total`` by ``kind``: ``bad_input`` (400), ``overloaded`` (503),
  ``failed`` (the run failed);
* ``strangler_model_request_seconds``: a request's time in the server, parsing to answer;
* ``strangler_model_queue_seconds``: how long a request waited for its run;
* ``strangler_model_run_seconds``: one ``session.run`` (a whole batch);
* ``strangler_model_batch_size``: requests coalesced into one run.

They live in the process's default registry, which the app serves at ``/metrics``.
Each version binds its labelled children once (:class:`VersionMetrics`), so a
request touches no label lookup.
"""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Histogram

__all__ = ["VersionMetrics"]

_LABELS = ("model", "version")
_SECONDS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

REQUESTS = Counter("strangler_model_requests", "Inference requests to a model version.", _LABELS)
ERRORS = Counter(
    "strangler_model_errors",
    "Inference requests that failed, by kind: bad_input, overloaded, failed.",
    (*_LABELS, "kind"),
)
LATENCY = Histogram(
    "strangler_model_request_seconds",
    "Time of an inference request in the server, from parsing to the answer.",
    _LABELS,
    buckets=_SECONDS,
)
QUEUE = Histogram(
    "strangler_model_queue_seconds",
    "Time a request waited for the run that answered it.",
    _LABELS,
    buckets=_SECONDS,
)
RUN = Histogram(
    "strangler_model_run_seconds",
    "Time of one session.run (one batch).",
    _LABELS,
    buckets=_SECONDS,
)
BATCH = Histogram(
    "strangler_model_batch_size",
    "Requests coalesced into one session.run.",
    _LABELS,
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)

_ALL = (REQUESTS, LATENCY, QUEUE, RUN, BATCH)
_KINDS = ("bad_input", "overloaded", "failed")


class VersionMetrics:
    """The metrics of one model version, labels bound once."""

    __slots__ = (
        "bad_input",
        "batch",
        "failed",
        "latency",
        "overloaded",
        "queue",
        "requests",
        "run",
    )

    def __init__(self, model: str, version: str) -> None:
        self.requests = REQUESTS.labels(model, version)
        self.latency = LATENCY.labels(model, version)
        self.queue = QUEUE.labels(model, version)
        self.run = RUN.labels(model, version)
        self.batch = BATCH.labels(model, version)
        self.bad_input = ERRORS.labels(model, version, "bad_input")
        self.overloaded = ERRORS.labels(model, version, "overloaded")
        self.failed = ERRORS.labels(model, version, "failed")

    @staticmethod
    def forget(model: str, version: str) -> None:
        """Drop a retired version's series (a long-running server sees many versions)."""
        for metric in _ALL:
            with contextlib.suppress(KeyError):
                metric.remove(model, version)
        for kind in _KINDS:
            with contextlib.suppress(KeyError):
                ERRORS.remove(model, version, kind)
