"""The controller the gateway builds for its routes' rollouts: which source, which data planes.

Measurements come from Prometheus when ``routes.prometheus`` is set, else from
nginx's access log when nginx is the data plane (``routes.nginx``), else from
the samples every replica writes to the state database. The first two still
take from those samples what they cannot see: a fairness gate's segments
(Prometheus) and the shadow comparisons (nginx compares nothing). nginx, when
set, is a data plane beside strangler's own gateway (which follows the state
database by itself). The classes are imported only when the spec names them.
Samples are flushed every second, or every ``interval_s`` when a rollout looks
more often.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strangler.canary.controller import Controller
from strangler.canary.samples import SampleRecorder, SampleStore
from strangler.canary.source import DatabaseSource
from strangler.platform.registry import load

if TYPE_CHECKING:
    import sqlalchemy as sa

    from strangler.canary.model import DataPlane, MetricsSource
    from strangler.gateway.state import LiveState
    from strangler.spec.gateway import RolloutSpec, RoutesSpec

__all__ = ["build_controller", "recorder_for"]

PROMETHEUS = "strangler.canary.prometheus:PrometheusSource"
ACCESS_LOG = "strangler.canary.access_log:AccessLogSource"
NGINX = "strangler.canary.nginx:NginxPlane"


def rollouts_of(section: RoutesSpec) -> dict[str, RolloutSpec]:
    return {name: r.rollout for name, r in section.items.items() if r.rollout is not None}


def recorder_for(section: RoutesSpec) -> SampleRecorder | None:
    """The sample recorder of the routes with a rollout (none without any)."""
    rollouts = rollouts_of(section)
    if not rollouts:
        return None
    return SampleRecorder(
        {name: r.fairness.segment if r.fairness else None for name, r in rollouts.items()}
    )


def build_controller(
    section: RoutesSpec,
    live: LiveState,
    engine: sa.Engine,
    recorder: SampleRecorder,
    *,
    strangler_url: str | None = None,
) -> Controller:
    """The controller of ``section``'s rollouts, over the state database ``engine``;
    ``strangler_url`` is where nginx reaches this app's side endpoints."""
    rollouts = rollouts_of(section)
    database = DatabaseSource(SampleStore(engine))
    source: Any = database
    if section.prometheus is not None:
        source = load(PROMETHEUS, what="the Prometheus source")(
            section.prometheus, rollouts, segments=database
        )
    elif section.nginx is not None:
        source = load(ACCESS_LOG, what="the nginx access-log source")(
            section.nginx, rollouts, comparisons=database
        )
    planes: list[DataPlane] = []
    if section.nginx is not None:
        plane = load(NGINX, what="the nginx data plane")
        planes.append(plane(section.nginx, section, strangler_url=strangler_url))
    sources: dict[str, MetricsSource] = dict.fromkeys(rollouts, source)
    flush_s = min([1.0] + [r.interval_s for r in rollouts.values()])
    return Controller(section, live, engine, recorder, sources, planes, flush_s=flush_s)
