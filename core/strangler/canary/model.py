"""What an analysis measures, and the two seams of the controller.

A :class:`MetricsSource` gives a route's :class:`Measurement` over a time
window: the built-in one reads the samples every replica writes to the state
database; others ask Prometheus or read nginx's access log. A
:class:`DataPlane` carries the split the controller decides: strangler's own
gateway follows the state database by itself; nginx is rendered and reloaded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from strangler.gateway.state import RouteState

__all__ = ["DataPlane", "Measurement", "MetricsSource", "SegmentCounts"]


@dataclass(frozen=True)
class SegmentCounts:
    """One segment's modern-side counts over the window."""

    requests: int = 0
    errors: int = 0
    compared: int = 0
    disagreements: int = 0


@dataclass(frozen=True)
class Measurement:
    """The modern side of one route over one window.

    ``requests``/``errors``: modern answers and those that were errors (5xx or
    a problem); ``p99_s``: their p99 latency (``None`` without answers);
    ``compared``/``disagreements``: shadow comparisons and those that disagreed;
    ``segments``: the same per segment, when the rollout has a fairness gate.
    ``samples`` is what the minimum sample count is checked against: modern
    answers on a canary step, comparisons on the shadow step.
    """

    requests: int = 0
    errors: int = 0
    p99_s: float | None = None
    compared: int = 0
    disagreements: int = 0
    segments: Mapping[str, SegmentCounts] = field(default_factory=dict)

    def samples(self, shadow: bool) -> int:
        return self.compared if shadow else self.requests

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def disagreement_rate(self) -> float | None:
        return self.disagreements / self.compared if self.compared else None


class MetricsSource(Protocol):
    """Where a route's measurements come from."""

    async def measure(self, route: str, since: dt.datetime, until: dt.datetime) -> Measurement:
        """The modern side of ``route`` between ``since`` and ``until`` (UTC)."""
        ...


class DataPlane(Protocol):
    """What carries the split: told every route's state after each change."""

    name: str

    async def apply(self, states: Mapping[str, RouteState]) -> None:
        """Make the data plane carry ``states`` (mode and weight per route)."""
        ...

    async def close(self) -> None: ...
