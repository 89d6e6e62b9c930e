"""Prometheus metrics of ETL runs, per feature view.

* ``strangler_etl_runs_total{view, outcome}``: runs ended, ``ok`` or ``failed``
  (a quality check that refused the load is ``failed`` too);
* ``strangler_etl_rows_total{view}``: rows read and staged by successful runs;
* ``strangler_etl_rows_written_total{view}``: rows written into the feature table;
* ``strangler_etl_run_seconds{view}``: one run, start to commit;
* ``strangler_etl_last_success_timestamp_seconds{view}``: when the last run succeeded
  (``time() - ...`` is the view's staleness).

A run counts in the process that ran it: the REST API's ETL routes, ``strangler
etl run`` or an Airflow worker (whose metrics reach Prometheus through its own
exporter, or not at all).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from strangler.etl.run import RunReport

__all__ = ["observe_run"]

RUNS = Counter("strangler_etl_runs", "ETL runs ended, by outcome.", ["view", "outcome"])
ROWS = Counter("strangler_etl_rows", "Rows read and staged by successful ETL runs.", ["view"])
WRITTEN = Counter(
    "strangler_etl_rows_written", "Rows written into feature tables by ETL runs.", ["view"]
)
SECONDS = Histogram(
    "strangler_etl_run_seconds",
    "Time of one ETL run, start to commit.",
    ["view"],
    buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0),
)
LAST_SUCCESS = Gauge(
    "strangler_etl_last_success_timestamp_seconds",
    "Unix time of the view's last successful ETL run.",
    ["view"],
)


@contextmanager
def observe_run(view: str) -> Iterator[Callable[[RunReport], None]]:
    """Time the run of ``view``; call the yielded function with its report on success."""
    start = time.monotonic()
    done = False

    def succeeded(report: RunReport) -> None:
        nonlocal done
        done = True
        ROWS.labels(view).inc(report.rows)
        WRITTEN.labels(view).inc(report.written)
        LAST_SUCCESS.labels(view).set(time.time())

    try:
        yield succeeded
    finally:
        RUNS.labels(view, "ok" if done else "failed").inc()
        SECONDS.labels(view).observe(time.monotonic() - start)
