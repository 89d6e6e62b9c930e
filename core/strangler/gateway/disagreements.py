"""Disagreements between the two sides of a route: kept in a table, counted, served.

Each kept disagreement holds the public request, both answers and the paths
where they differ (with both values), in the table
``strangler_gateway_disagreements`` of the route state's database (SQLite or
PostgreSQL; any SQLAlchemy database). Only the newest ``keep`` rows of each
route stay: older ones are deleted as new ones come. Every disagreement also
counts in ``strangler_gateway_disagreements_total{route, path}``, the path
generalised over list positions and capped at :data:`MAX_PATH_LABELS` per route
(more become ``other``), so a metric never grows without bound.

``GET /admin/routes/{route}/disagreements?limit=&before=`` (see
:func:`disagreements_router`) lists them, newest first, with the paths the
route's noise estimate found varying between two legacy answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from prometheus_client import Counter

from strangler.errors import NotFound
from strangler.gateway.diff import Difference, jsonable
from strangler.gateway.paths import generalise

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = [
    "DISAGREEMENTS",
    "MAX_PATH_LABELS",
    "TABLE",
    "Disagreement",
    "DisagreementStore",
    "count_disagreement",
    "disagreements_router",
]

TABLE = "strangler_gateway_disagreements"
MAX_PATH_LABELS = 50
"""Distinct ``path`` label values per route; further paths count as ``other``."""
MAX_STORED_CHARS = 256 * 1024
"""A request or answer longer than this is kept as its head and its length."""

DISAGREEMENTS = Counter(
    "strangler_gateway_disagreements",
    "Shadow answers that disagreed, by route and differing path (list positions as *).",
    ["route", "path"],
)
_labels: dict[str, set[str]] = {}
_labels_lock = threading.Lock()


def count_disagreement(route: str, paths: Iterable[str]) -> None:
    """Count one disagreement under each distinct (generalised) path."""
    seen = {generalise(p) for p in paths}
    with _labels_lock:
        known = _labels.setdefault(route, set())
        labels = set()
        for path in seen:
            if path not in known and len(known) >= MAX_PATH_LABELS:
                path = "other"
            else:
                known.add(path)
            labels.add(path)
    for label in labels:
        DISAGREEMENTS.labels(route, label).inc()


@dataclass(frozen=True)
class Disagreement:
    """One request whose two answers differ. ``id`` is set once stored."""

    route: str
    at: datetime
    request: Any
    legacy: Any
    modern: Any
    paths: tuple[Difference, ...]
    answered_by: str = "legacy"
    id: int | None = None

    @classmethod
    def of(
        cls,
        route: str,
        request: Any,
        legacy: Any,
        modern: Any,
        paths: Sequence[Difference],
        *,
        answered_by: str = "legacy",
    ) -> Disagreement:
        return cls(
            route, datetime.now(UTC), jsonable(request), jsonable(legacy), jsonable(modern),
            tuple(paths), answered_by,
        )  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "route": self.route,
            "at": self.at.isoformat(),
            "answered_by": self.answered_by,
            "paths": [d.as_json() for d in self.paths],
            "request": self.request,
            "legacy": self.legacy,
            "modern": self.modern,
        }


class DisagreementStore:
    """The table of recent disagreements, on a SQLAlchemy engine (calls run in threads).

    ``keep``: rows kept per route, or a mapping route → rows (routes not in it
    keep :data:`DEFAULT_KEEP`). ``routes``: the known route names; given, a
    query for another route raises :class:`~strangler.errors.NotFound`.
    ``noise``: the paths a route's noise estimate has learnt (the shadow runner
    recording here sets it), shown beside the disagreements.
    """

    DEFAULT_KEEP = 1000

    def __init__(
        self,
        engine: sa.Engine,
        *,
        keep: int | dict[str, int] = DEFAULT_KEEP,
        routes: Iterable[str] | None = None,
        table: str = TABLE,
    ) -> None:
        self.engine = engine
        self._keep = keep
        self.routes = frozenset(routes) if routes is not None else None
        self.noise: Callable[[str], Sequence[str]] | None = None
        metadata = sa.MetaData()
        self.table = sa.Table(
            table,
            metadata,
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
            sa.Column("route", sa.String(63), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("answered_by", sa.String(8), nullable=False),
            sa.Column("paths", sa.Text(), nullable=False),
            sa.Column("request", sa.Text(), nullable=False),
            sa.Column("legacy", sa.Text(), nullable=False),
            sa.Column("modern", sa.Text(), nullable=False),
            sa.Index(f"{table}_route_id", "route", "id"),
        )
        self._metadata = metadata
        self._created = False
        self._lock = threading.Lock()
        self._pending: list[tuple[Disagreement, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._writer_loop: asyncio.AbstractEventLoop | None = None

    def create(self) -> None:
        """Create the table if it is missing (also done by the first write or read)."""
        with self._lock:
            if not self._created:
                self._metadata.create_all(self.engine, checkfirst=True)
                self._created = True

    def drop(self) -> None:
        """Drop the table (tests clean up with it)."""
        self._metadata.drop_all(self.engine, checkfirst=True)
        self._created = False

    def keep_for(self, route: str) -> int:
        if isinstance(self._keep, int):
            return self._keep
        return self._keep.get(route, self.DEFAULT_KEEP)

    async def record(self, disagreement: Disagreement) -> None:
        """Keep one disagreement; returns once it is written.

        Records that arrive while a write is under way are written together by
        the next one, in one transaction (a group commit): a burst costs a few
        transactions, not one each.
        """
        loop = asyncio.get_running_loop()
        if self._writer is None or self._writer_loop is not loop:
            self._pending = []
            self._wake = asyncio.Event()
            self._writer_loop = loop
            self._writer = loop.create_task(self._write_batches(), name="disagreements")
        written: asyncio.Future[None] = loop.create_future()
        self._pending.append((disagreement, written))
        self._wake.set()
        await written

    async def close(self) -> None:
        """Stop the writer task (records still waiting are cancelled); idempotent."""
        writer, self._writer = self._writer, None
        if writer is not None and not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        for _, written in self._pending:
            if not written.done():
                written.cancel()
        self._pending = []

    async def _write_batches(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                await asyncio.to_thread(self.add_all, [d for d, _ in batch])
            except Exception as exc:
                for _, written in batch:
                    if not written.done():
                        written.set_exception(exc)
            else:
                for _, written in batch:
                    if not written.done():
                        written.set_result(None)

    async def recent_async(
        self, route: str, *, limit: int = 50, before: int | None = None
    ) -> list[Disagreement]:
        return await asyncio.to_thread(self.recent, route, limit=limit, before=before)

    def add(self, disagreement: Disagreement) -> None:
        """Store one disagreement (blocking), dropping the route's rows beyond ``keep``."""
        self.add_all([disagreement])

    def add_all(self, disagreements: Sequence[Disagreement]) -> None:
        """Store disagreements in one transaction, then drop each route's rows beyond ``keep``."""
        self.create()
        rows = [
            {
                "route": d.route,
                "at": d.at,
                "answered_by": d.answered_by,
                "paths": _dump([p.as_json() for p in d.paths]),
                "request": _dump(d.request),
                "legacy": _dump(d.legacy),
                "modern": _dump(d.modern),
            }
            for d in disagreements
        ]
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(t.insert(), rows)
            for route in {d.route for d in disagreements}:
                cutoff = conn.execute(
                    sa.select(t.c.id)
                    .where(t.c.route == route)
                    .order_by(t.c.id.desc())
                    .offset(self.keep_for(route))
                    .limit(1)
                ).scalar()
                if cutoff is not None:
                    conn.execute(t.delete().where(t.c.route == route, t.c.id <= cutoff))

    def recent(
        self, route: str, *, limit: int = 50, before: int | None = None
    ) -> list[Disagreement]:
        """The route's newest disagreements (below id ``before`` if given), newest first."""
        if self.routes is not None and route not in self.routes:
            raise NotFound(f"no route {route!r}")
        self.create()
        t = self.table
        query = sa.select(t).where(t.c.route == route).order_by(t.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(t.c.id < before)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_disagreement(row) for row in rows]

    def count(self, route: str) -> int:
        self.create()
        t = self.table
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.count()).select_from(t).where(t.c.route == route)
            ).scalar()
        return int(value or 0)


def disagreements_router(store: DisagreementStore) -> APIRouter:
    """``GET /admin/routes/{route}/disagreements``: the route's recent disagreements."""
    from fastapi import APIRouter, Query

    router = APIRouter(tags=["gateway admin"])

    @router.get(
        "/admin/routes/{route}/disagreements",
        summary="Recent disagreements of a shadowed route, newest first",
    )
    async def list_disagreements(
        route: str,
        limit: int = Query(50, ge=1, le=500),
        before: int | None = Query(None, ge=1, description="Only ids below this (paging)."),
    ) -> dict[str, Any]:
        items = await store.recent_async(route, limit=limit, before=before)
        return {
            "route": route,
            "noise": list(store.noise(route)) if store.noise is not None else [],
            "items": [d.as_json() for d in items],
            "next_before": items[-1].id if len(items) == limit else None,
        }

    return router


def _dump(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= MAX_STORED_CHARS:
        return text
    return json.dumps({"truncated": True, "chars": len(text), "head": text[:4096]})


def _disagreement(row: Any) -> Disagreement:
    at = row["at"]
    if at.tzinfo is None:  # SQLite keeps no zone: the value was written in UTC
        at = at.replace(tzinfo=UTC)
    return Disagreement(
        route=row["route"],
        at=at,
        request=json.loads(row["request"]),
        legacy=json.loads(row["legacy"]),
        modern=json.loads(row["modern"]),
        paths=tuple(
            Difference(p["path"], p["legacy"], p["modern"], p["change"])
            for p in json.loads(row["paths"])
        ),
        answered_by=row["answered_by"],
        id=int(row["id"]),
    )
