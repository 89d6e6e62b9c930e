"""The built-in measurements: the samples every replica writes to the state database.

:class:`DatabaseSource` sums the modern side's rows of
``strangler_canary_samples`` (see :mod:`strangler.canary.samples`) over a
window, whichever replica wrote them, so one analysis sees the traffic of all
replicas without any other server. The p99 comes from the merged latency
buckets, interpolated as Prometheus's ``histogram_quantile`` does.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from strangler.canary.model import Measurement, SegmentCounts
from strangler.canary.samples import SampleStore, Tally, quantile

__all__ = ["DatabaseSource", "measurement"]


class DatabaseSource:
    """A :class:`~strangler.canary.model.MetricsSource` over the samples table."""

    def __init__(self, store: SampleStore) -> None:
        self.store = store

    async def measure(self, route: str, since: dt.datetime, until: dt.datetime) -> Measurement:
        tallies = await asyncio.to_thread(self.store.sums, route, since, until)
        return measurement(tallies)


def measurement(tallies: dict[str, Tally]) -> Measurement:
    """One measurement of per-segment counts (segment ``""``: the route has no segments)."""
    total = Tally()
    for tally in tallies.values():
        total.add(tally)
    p99 = quantile(0.99, total.latency)
    segments = {
        name: SegmentCounts(t.requests, t.errors, t.compared, t.disagreements)
        for name, t in sorted(tallies.items())
        if name
    }
    return Measurement(
        requests=total.requests,
        errors=total.errors,
        p99_s=p99,
        compared=total.compared,
        disagreements=total.disagreements,
        segments=segments,
    )
