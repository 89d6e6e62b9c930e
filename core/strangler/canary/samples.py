"""Samples of a rollout's routes: counted in memory on each replica, flushed to the database.

The request path (:class:`~strangler.gateway.routing.RouteApp`) tells the
:class:`SampleRecorder` of every answer (route, side, error or not, latency,
the request's segment) and the shadow runner of every comparison (agreed or
not). Counting is a few dictionary updates on the event loop; every
``flush_s`` the :class:`~strangler.canary.controller.Controller` of each
replica takes the counts and writes them as rows of
``strangler_canary_samples`` (route, replica, bucket start, side, segment,
requests, errors, compared, disagreements, latency counts over
:data:`LATENCY_BOUNDS_S`). A bucket's ``at`` is when its first sample was
counted, so a bucket that starts after a step began holds only samples of
that step. :class:`~strangler.canary.source.DatabaseSource` sums the rows of
every replica over a window.

A segment is read from the request (``rollout.fairness.segment``) only for a
route with a fairness gate; other routes count everything under ``""``. At
most :data:`MAX_SEGMENTS` distinct values are kept per route (more count as
``other``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from strangler.errors import InvalidInput, SpecError, SpecProblem
from strangler.gateway.split import pointer_tokens
from strangler.spec.gateway import SegmentSpec

__all__ = [
    "LATENCY_BOUNDS_S",
    "MAX_SEGMENTS",
    "SAMPLES",
    "SampleRecorder",
    "SampleRow",
    "SampleStore",
    "Tally",
    "create_tables",
    "quantile",
    "segment_reader",
]

LATENCY_BOUNDS_S = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds of the latency buckets (seconds; the same as the gateway's histogram)."""
MAX_SEGMENTS = 50

METADATA = sa.MetaData()
SAMPLES = sa.Table(
    "strangler_canary_samples",
    METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("replica", sa.String(128), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("segment", sa.String(128), nullable=False),
    sa.Column("requests", sa.Integer, nullable=False),
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("compared", sa.Integer, nullable=False),
    sa.Column("disagreements", sa.Integer, nullable=False),
    sa.Column("latency", sa.Text, nullable=False),
    sa.Index("strangler_canary_samples_route_at", "route", "at"),
)


@dataclass
class Tally:
    """Counts of one route, side and segment; ``latency[i]``: answers within bound ``i``."""

    requests: int = 0
    errors: int = 0
    compared: int = 0
    disagreements: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS_S) + 1))

    def observe(self, seconds: float, error: bool) -> None:
        self.requests += 1
        self.errors += error
        self.latency[_bucket(seconds)] += 1

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.compared += other.compared
        self.disagreements += other.disagreements
        for i, count in enumerate(other.latency):
            self.latency[i] += count


@dataclass(frozen=True)
class SampleRow:
    """One flushed bucket of one route, side and segment."""

    route: str
    at: dt.datetime
    side: str
    segment: str
    tally: Tally


def _bucket(seconds: float) -> int:
    for i, bound in enumerate(LATENCY_BOUNDS_S):
        if seconds <= bound:
            return i
    return len(LATENCY_BOUNDS_S)


def quantile(q: float, latency: Sequence[int]) -> float | None:
    """The ``q`` quantile (seconds) of bucket counts, interpolated within its bucket.

    As Prometheus's ``histogram_quantile``: linear within a bucket, the last
    finite bound for the open one; ``None`` without counts.
    """
    total = sum(latency)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(latency):
        if count and seen + count >= rank:
            if i == len(LATENCY_BOUNDS_S):
                return LATENCY_BOUNDS_S[-1]
            low = LATENCY_BOUNDS_S[i - 1] if i else 0.0
            high = LATENCY_BOUNDS_S[i]
            return low + (high - low) * (rank - seen) / count
        seen += count
    return LATENCY_BOUNDS_S[-1]


Segmenter = Callable[[Any], str]


def segment_reader(spec: SegmentSpec, where: str = "rollout.fairness.segment") -> Segmenter:
    """A function from a request's JSON to its segment (``none`` when it is not there)."""
    if spec.body is not None:
        tokens = pointer_tokens(spec.body)

        def read(document: Any) -> str:
            value = document
            for token in tokens:
                if isinstance(value, dict):
                    value = value.get(token)
                elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
                    value = value[int(token)]
                else:
                    return "none"
            if value is None or isinstance(value, dict | list):
                return "none"
            return str(value)[:128]

        return read
    from strangler.platform.registry import load

    try:
        function = load(str(spec.callable), what="a segment function")
    except Exception as exc:
        raise SpecError([SpecProblem("<spec>", None, where, str(exc))]) from None

    def call(document: Any) -> str:
        try:
            return str(function(document))[:128]
        except Exception:  # a request the function cannot read has no segment
            return "none"

    return call


class SampleRecorder:
    """Counts per route, side and segment since the last :meth:`take` (see the module).

    ``routes``: the routes to count, each with the segment spec of its
    fairness gate (``None``: no segments); the controller narrows
    :attr:`routes` to the rollouts still under way. Called on the event loop only.
    """

    def __init__(self, routes: Mapping[str, SegmentSpec | None]) -> None:
        self.routes = frozenset(routes)
        self._readers: dict[str, Segmenter] = {
            name: segment_reader(spec, f"routes.items.{name}.rollout.fairness.segment")
            for name, spec in routes.items()
            if spec is not None
        }
        self._segments: dict[str, set[str]] = {}
        self._tallies: dict[tuple[str, str, str], Tally] = {}
        self._opened: dt.datetime | None = None

    def segment(self, route: str, document: Callable[[], Any]) -> str:
        """The segment of a request of ``route`` (``document()`` gives its JSON)."""
        reader = self._readers.get(route)
        if reader is None:
            return ""
        try:
            value = reader(document())
        except InvalidInput:
            value = "none"
        known = self._segments.setdefault(route, set())
        if value not in known:
            if len(known) >= MAX_SEGMENTS:
                return "other"
            known.add(value)
        return value

    def _tally(self, route: str, side: str, segment: str) -> Tally:
        if self._opened is None:
            self._opened = dt.datetime.now(dt.UTC)
        key = (route, side, segment)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = Tally()
        return tally

    def answered(
        self, route: str, side: str, seconds: float, error: bool, document: Callable[[], Any]
    ) -> None:
        """One answer of ``side`` (an error: a 5xx or a problem of the side's own)."""
        if route in self.routes:
            self._tally(route, side, self.segment(route, document)).observe(seconds, error)

    def compared(self, route: str, payload: Any, agreed: bool) -> None:
        """One comparison of the two sides' answers to a request (``payload``: its JSON)."""
        if route in self.routes:
            tally = self._tally(route, "modern", self.segment(route, lambda: payload))
            tally.compared += 1
            tally.disagreements += not agreed

    def take(self) -> list[SampleRow]:
        """The counts since the last take, as rows (and start counting afresh)."""
        tallies, opened = self._tallies, self._opened
        self._tallies, self._opened = {}, None
        if opened is None:
            return []
        return [SampleRow(r, opened, side, seg, t) for (r, side, seg), t in tallies.items()]


class SampleStore:
    """The samples table on a SQLAlchemy engine (blocking: call from a thread)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(self) -> None:
        create_tables(self.engine, METADATA, SAMPLES.name)

    def write(self, replica: str, rows: Iterable[SampleRow]) -> None:
        values = [
            {
                "route": row.route,
                "replica": replica,
                "at": row.at,
                "side": row.side,
                "segment": row.segment,
                "requests": row.tally.requests,
                "errors": row.tally.errors,
                "compared": row.tally.compared,
                "disagreements": row.tally.disagreements,
                "latency": json.dumps(row.tally.latency),
            }
            for row in rows
        ]
        if values:
            with self.engine.begin() as conn:
                conn.execute(SAMPLES.insert(), values)

    def sums(
        self, route: str, since: dt.datetime, until: dt.datetime, side: str = "modern"
    ) -> dict[str, Tally]:
        """The counts of ``side`` per segment in buckets starting in ``[since, until)``."""
        t = SAMPLES
        query = sa.select(
            t.c.segment, t.c.requests, t.c.errors, t.c.compared, t.c.disagreements, t.c.latency
        ).where(t.c.route == route, t.c.side == side, t.c.at >= since, t.c.at < until)
        out: dict[str, Tally] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                tally = out.setdefault(row.segment, Tally())
                tally.add(
                    Tally(
                        row.requests,
                        row.errors,
                        row.compared,
                        row.disagreements,
                        list(json.loads(row.latency)),
                    )
                )
        return out

    def prune(self, before: dt.datetime) -> int:
        """Delete the buckets that started before ``before``; how many went."""
        with self.engine.begin() as conn:
            return int(conn.execute(SAMPLES.delete().where(SAMPLES.c.at < before)).rowcount or 0)


def create_tables(engine: sa.Engine, metadata: sa.MetaData, name: str) -> None:
    """Create the tables if missing (replicas starting together: one of them wins)."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except sa.exc.SQLAlchemyError:
        if not sa.inspect(engine).has_table(name):
            raise
