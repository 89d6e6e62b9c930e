"""Connection pools, measured when Prometheus scrapes (no bookkeeping on the hot path).

* ``strangler_pool_in_use{system, pool}``: connections lent out now;
* ``strangler_pool_size{system, pool}``: connections the pool may lend at once.

A part registers a pool with :func:`watch_pool` and a function answering
``(in_use, size)``; the pool is held weakly, so a closed adapter drops out.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["watch_pool"]

_lock = threading.Lock()
_watched: dict[tuple[str, str], tuple[weakref.ref[Any], Callable[[Any], tuple[int, int]]]] = {}
_installed = False


def watch_pool(
    system: str, pool: str, owner: Any, measure: Callable[[Any], tuple[int, int]]
) -> None:
    """Report ``measure(owner)`` as ``system``'s ``pool`` while ``owner`` lives."""
    global _installed
    with _lock:
        _watched[(system, pool)] = (weakref.ref(owner), measure)
        install, _installed = not _installed, True
    if install:  # outside the lock: registering collects once
        REGISTRY.register(_Pools())


class _Pools(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        in_use = GaugeMetricFamily(
            "strangler_pool_in_use", "Connections a pool has lent out.", labels=["system", "pool"]
        )
        size = GaugeMetricFamily(
            "strangler_pool_size", "Connections a pool may lend at once.", labels=["system", "pool"]
        )
        with _lock:
            watched = list(_watched.items())
        for (system, pool), (ref, measure) in watched:
            owner = ref()
            if owner is None:
                with _lock:
                    _watched.pop((system, pool), None)
                continue
            try:
                used, most = measure(owner)
            except Exception:  # a pool being closed: skip it this time
                continue
            in_use.add_metric([system, pool], used)
            size.add_metric([system, pool], most)
        yield in_use
        yield size
