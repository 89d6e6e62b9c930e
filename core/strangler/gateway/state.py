"""The live mode and weight of each route, in a database every replica reads.

One table, ``strangler_gateway_routes`` (route, mode, weight, version,
updated_at). A route's row is written from the spec the first time any replica
sees the route; after that only :meth:`StateStore.put` changes it (the admin
API, the controller), raising ``version`` by one. Replicas never ask the
database on a request: :class:`LiveState` holds the rows in memory and reads
them again every ``refresh_s`` in a background task, so a change reaches every
replica within about that long. A database that cannot be read keeps the last
rows in use (and :meth:`LiveState.health` says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from strangler.errors import NotFound, StranglerError
from strangler.spec.gateway import MODES, Mode

__all__ = ["ROUTES", "LiveState", "RouteState", "StateStore", "default_state_url"]

log = logging.getLogger(__name__)

METADATA = sa.MetaData()
ROUTES = sa.Table(
    "strangler_gateway_routes",
    METADATA,
    sa.Column("route", sa.String(64), primary_key=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("weight", sa.Float, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class RouteState:
    """A route's live mode and modern weight; ``version`` grows with every change."""

    mode: Mode
    weight: float
    version: int = 0
    updated_at: dt.datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "weight": self.weight,
            "version": self.version,
            "updated_at": _utc(self.updated_at).isoformat() if self.updated_at else None,
        }


def default_state_url(cache_dir: Path) -> str:
    """SQLite in the cache dir: the embedded default (one machine's replicas share it)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{cache_dir / 'gateway-state.sqlite'}"


class StateStore:
    """The state table, read and written with SQLAlchemy (blocking: call from a thread)."""

    def __init__(self, url: str) -> None:
        options: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 30, "check_same_thread": False}
        self.engine = sa.create_engine(url, **options)

    def open(self, seeds: Mapping[str, RouteState]) -> None:
        """Create the table if missing and write a row for each route that has none."""
        try:
            METADATA.create_all(self.engine, checkfirst=True)
        except SQLAlchemyError:  # replicas starting together: another one created it first
            if not sa.inspect(self.engine).has_table(ROUTES.name):
                raise
        known = set(self.read())
        for route, seed in seeds.items():
            if route in known:
                continue
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        ROUTES.insert().values(
                            route=route,
                            mode=seed.mode,
                            weight=seed.weight,
                            version=1,
                            updated_at=_now(),
                        )
                    )
            except IntegrityError:  # another replica wrote it first: theirs stands
                pass

    def read(self) -> dict[str, RouteState]:
        """Every route's row."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(ROUTES)).all()
        return {
            row.route: RouteState(_mode(row.mode), float(row.weight), row.version, row.updated_at)
            for row in rows
        }

    def put(self, route: str, mode: Mode, weight: float) -> RouteState:
        """Set a route's mode and weight (one step of ``version``); ``NotFound`` if unknown."""
        with self.engine.begin() as conn:
            done = conn.execute(
                ROUTES.update()
                .where(ROUTES.c.route == route)
                .values(mode=mode, weight=weight, version=ROUTES.c.version + 1, updated_at=_now())
            )
            if done.rowcount == 0:
                raise NotFound(f"no route {route!r} in the state database")
            row = conn.execute(sa.select(ROUTES).where(ROUTES.c.route == route)).one()
        return RouteState(_mode(row.mode), float(row.weight), row.version, row.updated_at)

    def close(self) -> None:
        self.engine.dispose()


class LiveState:
    """The rows in memory, read again every ``refresh_s`` (see the module)."""

    def __init__(self, store: StateStore, seeds: Mapping[str, RouteState], refresh_s: float):
        self.store = store
        self.seeds = dict(seeds)
        self.refresh_s = refresh_s
        self.routes: dict[str, RouteState] = dict(seeds)
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self.store.open, self.seeds)
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="gateway-state")

    async def refresh(self) -> None:
        """Read the rows now (the background task does it every ``refresh_s``)."""
        try:
            rows = await asyncio.to_thread(self.store.read)
        except (SQLAlchemyError, StranglerError) as exc:
            self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            log.warning("gateway state not read, keeping the last: %s", self.error)
            return
        self.error = None
        self.routes = {name: rows.get(name, seed) for name, seed in self.seeds.items()}

    async def put(self, route: str, mode: Mode, weight: float) -> RouteState:
        """Write a route's state and use it here at once (others follow on their refresh)."""
        if route not in self.seeds:
            raise NotFound(f"no route {route!r}")
        if mode not in MODES:
            raise StranglerError(f"unknown mode {mode!r}")
        try:
            state = await asyncio.to_thread(self.store.put, route, mode, weight)
        except SQLAlchemyError as exc:
            first = str(exc).splitlines()[0]
            raise StranglerError(f"the route state cannot be written: {first}") from exc
        self.routes = {**self.routes, route: state}
        return state

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            await self.refresh()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.store.close)


def _mode(value: str) -> Mode:
    for mode in MODES:
        if mode == value:
            return mode
    raise StranglerError(f"the state database holds an unknown mode {value!r}")


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite gives the stored UTC time back without its zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
