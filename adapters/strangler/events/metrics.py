"""Prometheus metrics of change capture and the outbox, per stream.

* ``strangler_capture_rows_read_total{stream}``: changed rows read from the legacy table;
* ``strangler_capture_events_total{stream, action}``: events appended to the outbox
  (``created``, ``updated``, ``deleted``);
* ``strangler_capture_failures_total{stream}``: poll cycles that failed;
* ``strangler_capture_last_success_timestamp_seconds{stream}``: when a poll cycle last
  went through (``time() - ...`` is the capture's lag behind the legacy table);
* ``strangler_outbox_pending{stream}``: events waiting in the outbox for the broker
  (measured by the relay after each cycle, so only where Kafka is configured);
* ``strangler_outbox_published_total{stream}``: events the relay published;
* ``strangler_relay_failures_total{stream}``: relay cycles the broker failed.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "CAPTURED",
    "CAPTURE_FAILURES",
    "CAPTURE_OK",
    "CAPTURE_READ",
    "OUTBOX_PENDING",
    "PUBLISHED",
    "RELAY_FAILURES",
]

CAPTURE_READ = Counter(
    "strangler_capture_rows_read", "Changed rows read from a legacy table.", ["stream"]
)
CAPTURED = Counter(
    "strangler_capture_events",
    "Events change capture appended to the outbox.",
    ["stream", "action"],
)
CAPTURE_FAILURES = Counter(
    "strangler_capture_failures", "Change capture poll cycles that failed.", ["stream"]
)
CAPTURE_OK = Gauge(
    "strangler_capture_last_success_timestamp_seconds",
    "Unix time of the stream's last successful poll cycle.",
    ["stream"],
)
OUTBOX_PENDING = Gauge(
    "strangler_outbox_pending", "Events waiting in the outbox for the broker.", ["stream"]
)
PUBLISHED = Counter(
    "strangler_outbox_published", "Events the relay published to the broker.", ["stream"]
)
RELAY_FAILURES = Counter(
    "strangler_relay_failures", "Relay cycles that the broker failed.", ["stream"]
)
