"""Polling change capture on SQLite, PostgreSQL (psycopg) and MariaDB through raw ODBC.

Every test drives capture cycles itself (``poll_once`` / ``full_pass``) and
counts what the outbox holds: no event lost, none repeated. Each test writes
to a table of its own (unique name) in a database shared by the module's tests
(a SQLite file per test); the state database is a SQLite file in ``tmp_path``,
or PostgreSQL where the test says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import orjson
import psycopg
import pytest
import sqlalchemy as sa

from strangler.adapters.db import DatabaseAdapter
from strangler.errors import SpecError
from strangler.events.capture import Capture, Cycle
from strangler.events.part import EventHub
from strangler.events.store import StateStore
from strangler.events.streams import Stream
from strangler.platform.build import build_platform
from strangler.spec import parse_spec
from strangler.spec.database import DatabaseSystem
from strangler.spec.events import EventsSpec

MARIADB_ADMIN = "mysql+pyodbc://root@127.0.0.1/mysql?driver=MariaDB+Unicode&port=3306"
POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
T = TypeVar("T")
BASE = dt.datetime(2024, 5, 16, 8, 0, 0, 250000)  # watermarks written by the "legacy" app


def run(body: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await body()

    return asyncio.run(main())


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


# -- sources ------------------------------------------------------------------


@dataclass
class Source:
    """A database the test writes to directly, and the adapter capture reads it by."""

    name: str
    admin: sa.Engine
    connection: dict[str, Any]
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def timestamp(self) -> str:
        return {"sqlite": "TEXT", "postgresql": "TIMESTAMP(6)", "mariadb-odbc": "DATETIME(6)"}[
            self.name
        ]

    def stored(self, value: dt.datetime) -> Any:
        """A watermark as the legacy app writes it (SQLite: one fixed text form)."""
        if self.name != "postgresql":  # MariaDB's ODBC driver drops a bound fraction
            return value.isoformat(sep=" ", timespec="microseconds")
        return value

    def table(self, watermark_type: str | None = None) -> str:
        """A new table ``items_<hex>``: id, name, qty, changed_at (the watermark)."""
        name = unique("items")
        kind = watermark_type or self.timestamp
        with self.admin.begin() as c:
            c.exec_driver_sql(
                f"CREATE TABLE {name} (id INTEGER NOT NULL PRIMARY KEY, "
                f"name VARCHAR(40) NOT NULL, qty INTEGER, changed_at {kind})"
            )
        return name

    def insert(self, table: str, rows: list[tuple[int, str, int, Any]]) -> None:
        with self.admin.begin() as c:
            c.execute(
                sa.text(f"INSERT INTO {table} (id, name, qty, changed_at) VALUES (:i, :n, :q, :w)"),
                [{"i": i, "n": n, "q": q, "w": self._wm(w)} for i, n, q, w in rows],
            )

    def update(self, table: str, ident: int, name: str, watermark: Any) -> None:
        with self.admin.begin() as c:
            c.execute(
                sa.text(f"UPDATE {table} SET name = :n, changed_at = :w WHERE id = :i"),
                {"n": name, "w": self._wm(watermark), "i": ident},
            )

    def delete(self, table: str, ident: int) -> None:
        with self.admin.begin() as c:
            c.execute(sa.text(f"DELETE FROM {table} WHERE id = :i"), {"i": ident})

    def _wm(self, value: Any) -> Any:
        return self.stored(value) if isinstance(value, dt.datetime) else value

    def adapter(self, table: str) -> DatabaseAdapter:
        spec = DatabaseSystem.model_validate(
            {"kind": "database", **self.connection, "tables": {table: {}}, "pool_size": 2}
        )
        return DatabaseAdapter("src", spec)


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    name = unique("strangler_test_capture")
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def mariadb() -> Iterator[str]:
    name = unique("strangler_test_capture")
    admin = sa.create_engine(MARIADB_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb-odbc"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    kind: str = request.param
    if kind == "sqlite":
        path = tmp_path / "source.sqlite"
        made = Source(kind, sa.create_engine(f"sqlite:///{path}"), {"url": f"sqlite:///{path}"})
    elif kind == "postgresql":
        db = request.getfixturevalue("postgres")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
        made = Source(kind, sa.create_engine(url), {"url": url})
    else:
        db = request.getfixturevalue("mariadb")
        url = f"mysql+pyodbc://root@127.0.0.1/{db}?driver=MariaDB+Unicode&port=3306"
        odbc = f"DRIVER={{MariaDB Unicode}};SERVER=127.0.0.1;PORT=3306;DATABASE={db};UID=root;PWD="
        made = Source(kind, sa.create_engine(url), {"odbc": odbc})
    try:
        yield made
    finally:
        made.admin.dispose()


# -- capture over a source ----------------------------------------------------


@dataclass
class Rig:
    """One stream over one table: its hub (state database) and capture components."""

    source: Source
    table: str
    adapter: DatabaseAdapter
    hub: EventHub
    stream: Stream
    captures: list[Capture] = field(default_factory=list)

    def capture(self, holder: str = "") -> Capture:
        made = Capture(self.hub, self.stream, holder=holder)
        self.captures.append(made)
        return made

    def events(self) -> list[dict[str, Any]]:
        """Every event of the stream in the outbox, in order."""
        return [orjson.loads(r.event) for r in self.hub.store.read(self.stream.name, 0, 100_000)]

    async def close(self) -> None:
        for made in self.captures:
            await made.close()
        await self.hub.close()
        await self.adapter.close()


async def rig(source: Source, table: str, state: str, stream: str = "items", **poll: Any) -> Rig:
    adapter = source.adapter(table)
    spec = EventsSpec.model_validate(
        {
            "state": state,
            "relay": {"lease_s": 30},
            "streams": {
                stream: {"from": f"src.{table}", "poll": {"watermark": "changed_at", **poll}}
            },
        }
    )
    resolved = Stream(
        stream,
        spec.streams[stream],
        "src",
        f"src.{table}",
        f"/strangler/src/{table}",
        adapter,
        adapter.models[table].row,
        table=table,
    )
    hub = EventHub(spec, StateStore(state), [resolved])
    await hub.start()
    return Rig(source, table, adapter, hub, resolved)


def state_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


def utc(local: dt.datetime, zone: str = "UTC") -> str:
    moment = local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"].rsplit(".", 1)[1], e["subject"]) for e in events]


def counts(cycle: Cycle) -> tuple[int, int, int]:
    """created, updated, deleted."""
    return cycle.emitted.created, cycle.emitted.updated, cycle.emitted.deleted


def assert_unique_ids(events: list[dict[str, Any]]) -> None:
    assert len({e["id"] for e in events}) == len(events)


# -- tests ----------------------------------------------------------------------


def test_inserts_and_updates_in_order_with_cloudevent_fields(
    source: Source, tmp_path: Path
) -> None:
    table = source.table()
    rows = [(3, "c", 30, BASE), (1, "a", 10, BASE + dt.timedelta(seconds=1)), (2, "b", 20, BASE)]
    source.insert(table, rows)

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path))
        try:
            capture = r.capture()
            cycle = await capture.poll_once()
            assert cycle.held and cycle.emitted.created == 3
            events = r.events()
            assert summary(events) == [("created", "2"), ("created", "3"), ("created", "1")]
            answered = await r.adapter.rows.get(r.adapter.tables[table], "2")
            first = events[0]
            assert first["data"] == answered
            assert first["data"]["name"] == "b" and first["data"]["qty"] == 20
            assert first["specversion"] == "1.0"
            assert first["source"] == f"/strangler/src/{table}"
            assert first["type"] == f"strangler.src.{table}.created"
            assert first["time"] == utc(BASE)
            assert first["datacontenttype"] == "application/json"
            assert first["dataschema"].endswith(r.stream.data_model.__name__)
            assert [row.msg_key for row in r.hub.store.read("items", 0, 10)] == ["2", "3", "1"]

            source.update(table, 3, "c2", BASE + dt.timedelta(seconds=5))
            source.insert(table, [(4, "d", 40, BASE + dt.timedelta(seconds=6))])
            cycle = await capture.poll_once()
            assert (cycle.emitted.created, cycle.emitted.updated) == (1, 1)
            events = r.events()
            assert summary(events[3:]) == [("updated", "3"), ("created", "4")]
            assert events[3]["data"]["name"] == "c2"
            assert events[3]["time"] == utc(BASE + dt.timedelta(seconds=5))
            assert (await capture.poll_once()).emitted.total == 0
            assert len(r.events()) == 5
            assert_unique_ids(r.events())
            assert (await capture.health()).status == "ok"
        finally:
            await r.close()

    run(body)


def test_equal_watermarks_across_batch_boundaries(source: Source, tmp_path: Path) -> None:
    table = source.table()
    source.insert(table, [(i, f"n{i}", i, BASE) for i in range(1, 24)])

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), batch_size=4)
        try:
            capture = r.capture()
            cycle = await capture.poll_once()
            assert cycle.emitted.created == 23
            assert summary(r.events()) == [("created", str(i)) for i in range(1, 24)]
            # updates keeping the same watermark value: still found, each once
            for i in (2, 8, 9, 23):
                source.update(table, i, f"m{i}", BASE)
            source.insert(table, [(i, f"n{i}", i, BASE) for i in range(24, 30)])
            cycle = await capture.poll_once()
            assert (cycle.emitted.created, cycle.emitted.updated) == (6, 4)
            assert summary(r.events()[23:]) == [
                ("updated", "2"),
                ("updated", "8"),
                ("updated", "9"),
                ("updated", "23"),
                *[("created", str(i)) for i in range(24, 30)],
            ]
            assert (await capture.poll_once()).emitted.total == 0
            assert len(r.events()) == 33
            assert_unique_ids(r.events())
        finally:
            await r.close()

    run(body)


def test_late_commit_within_lookback_is_captured(source: Source, tmp_path: Path) -> None:
    table = source.table()
    source.insert(table, [(1, "a", 1, BASE), (2, "b", 2, BASE + dt.timedelta(seconds=30))])

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), lookback_s=60)
        try:
            capture = r.capture()
            assert (await capture.poll_once()).emitted.created == 2
            # a transaction stamps its row early, commits after newer rows were captured
            with source.admin.connect() as late:
                late.begin()
                late.execute(
                    sa.text(f"INSERT INTO {table} VALUES (3, 'c', 3, :w)"),
                    {"w": source.stored(BASE + dt.timedelta(seconds=10))},
                )
                if source.name != "sqlite":  # SQLite has one writer at a time
                    source.insert(table, [(4, "d", 4, BASE + dt.timedelta(seconds=40))])
                    assert (await capture.poll_once()).emitted.created == 1
                else:
                    assert (await capture.poll_once()).emitted.total == 0
                late.commit()
            cycle = await capture.poll_once()
            assert (cycle.emitted.created, cycle.emitted.updated) == (1, 0)
            assert r.events()[-1]["subject"] == "3"
            assert r.events()[-1]["time"] == utc(BASE + dt.timedelta(seconds=10))
            expected = 4 if source.name != "sqlite" else 3
            assert (await capture.poll_once()).emitted.total == 0
            subjects = sorted(e["subject"] for e in r.events())
            assert subjects == [str(i) for i in range(1, expected + 1)]
            assert_unique_ids(r.events())
        finally:
            await r.close()

    run(body)


def test_late_commit_beyond_lookback_is_caught_by_the_full_pass(
    source: Source, tmp_path: Path
) -> None:
    table = source.table()
    source.insert(table, [(1, "a", 1, BASE + dt.timedelta(hours=2))])

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), lookback_s=60, deletes_every_s=3600)
        try:
            capture = r.capture()
            assert (await capture.poll_once()).emitted.created == 1
            source.insert(table, [(2, "b", 2, BASE)])  # two hours behind: beyond the lookback
            source.update(table, 1, "a2", BASE + dt.timedelta(hours=1))  # changed, also behind
            cycle = await capture.poll_once()
            assert cycle.emitted.total == 0 and not cycle.full_pass  # not due yet
            cycle = await capture.poll_once(full=True)
            assert cycle.full_pass
            assert counts(cycle) == (1, 1, 0)
            assert summary(r.events()) == [("created", "1"), ("updated", "1"), ("created", "2")]
            assert r.events()[1]["data"]["name"] == "a2"
            assert (await capture.poll_once(full=True)).emitted.total == 0
            assert_unique_ids(r.events())
        finally:
            await r.close()

    run(body)


def test_a_deleted_row_gives_one_deleted_event(source: Source, tmp_path: Path) -> None:
    table = source.table()
    source.insert(table, [(i, f"n{i}", i, BASE) for i in range(1, 8)])

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), batch_size=3)
        try:
            capture = r.capture()
            assert (await capture.poll_once()).emitted.created == 7
            source.delete(table, 5)
            assert (await capture.poll_once(full=False)).emitted.total == 0
            cycle = await capture.full_pass()
            assert counts(cycle) == (0, 0, 1)
            deleted = r.events()[-1]
            assert deleted["type"] == f"strangler.src.{table}.deleted"
            assert deleted["subject"] == "5"
            assert deleted["data"] == {"id": 5}
            assert (await capture.full_pass()).emitted.total == 0
            # the same key inserted again is a new entity version: created
            source.insert(table, [(5, "again", 5, BASE + dt.timedelta(seconds=1))])
            assert (await capture.poll_once()).emitted.created == 1
            assert summary(r.events()[7:]) == [("deleted", "5"), ("created", "5")]
            assert len(r.events()) == 9
            assert_unique_ids(r.events())
        finally:
            await r.close()

    run(body)


def test_restart_resumes_from_the_stored_offset(source: Source, tmp_path: Path) -> None:
    table = source.table()
    source.insert(table, [(i, f"n{i}", i, BASE + dt.timedelta(minutes=i)) for i in range(1, 6)])
    state = state_file(tmp_path)

    async def body() -> None:
        first = await rig(source, table, state, lookback_s=0)
        try:
            assert (await first.capture().poll_once()).emitted.created == 5
        finally:
            await first.close()
        source.insert(table, [(6, "n6", 6, BASE + dt.timedelta(minutes=6))])
        source.update(table, 2, "m2", BASE + dt.timedelta(minutes=7))
        second = await rig(source, table, state, lookback_s=0)
        try:
            capture = second.capture()
            position = await asyncio.to_thread(capture.state.position)
            assert position["high"] is not None
            cycle = await capture.poll_once()
            assert (cycle.emitted.created, cycle.emitted.updated) == (1, 1)
            # resumed at the stored watermark (its own row, 5, is read again), not the start
            assert cycle.read == 3
            assert summary(second.events()) == [
                *[("created", str(i)) for i in range(1, 6)],
                ("created", "6"),
                ("updated", "2"),
            ]
            assert_unique_ids(second.events())
        finally:
            await second.close()

    run(body)


def test_local_time_of_another_zone(source: Source, tmp_path: Path) -> None:
    """The source stores Auckland's wall-clock time without a zone (13 hours ahead of UTC
    on these dates): event times are right and bounds come from the source's values."""
    zone = "Pacific/Auckland"
    local = dt.datetime.now(ZoneInfo(zone)).replace(tzinfo=None, microsecond=0)
    table = source.table()
    source.insert(table, [(1, "a", 1, local), (2, "b", 2, local + dt.timedelta(seconds=2))])

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), timezone=zone, lookback_s=30)
        try:
            capture = r.capture()
            assert (await capture.poll_once()).emitted.created == 2
            assert [e["time"] for e in r.events()] == [
                utc(local, zone),
                utc(local + dt.timedelta(seconds=2), zone),
            ]
            # late by 20 s of the source's clock: within the lookback
            source.insert(table, [(3, "c", 3, local - dt.timedelta(seconds=18))])
            source.insert(table, [(4, "d", 4, local + dt.timedelta(seconds=3))])
            cycle = await capture.poll_once()
            assert cycle.emitted.created == 2
            assert r.events()[2]["time"] == utc(local - dt.timedelta(seconds=18), zone)
            assert summary(r.events()) == [
                ("created", "1"),
                ("created", "2"),
                ("created", "3"),
                ("created", "4"),
            ]
            assert (await capture.poll_once()).emitted.total == 0
            assert_unique_ids(r.events())
        finally:
            await r.close()

    run(body)


def test_rereading_unchanged_rows_emits_nothing(source: Source, tmp_path: Path) -> None:
    table = source.table()
    source.insert(table, [(i, f"n{i}", i, BASE) for i in range(1, 6)])

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), lookback_s=86400, batch_size=2)
        try:
            capture = r.capture()
            assert (await capture.poll_once()).emitted.created == 5
            for _ in range(3):
                cycle = await capture.poll_once()
                assert cycle.read == 5 and cycle.emitted.total == 0  # all re-read, none sent
            assert (await capture.full_pass()).emitted.total == 0
            # an update writing the same values gives the same answered row: no event
            source.update(table, 3, "n3", BASE)
            assert (await capture.poll_once()).emitted.total == 0
            assert len(r.events()) == 5
        finally:
            await r.close()

    run(body)


def test_two_captures_of_one_stream_only_one_emits(source: Source, tmp_path: Path) -> None:
    table = source.table()
    source.insert(table, [(i, f"n{i}", i, BASE) for i in range(1, 11)])

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), batch_size=3)
        try:
            one, two = r.capture("replica-one"), r.capture("replica-two")
            first, second = await asyncio.gather(one.poll_once(), two.poll_once())
            assert sorted([first.held, second.held]) == [False, True]
            assert first.emitted.total + second.emitted.total == 10
            holder, waiting = (one, two) if first.held else (two, one)
            source.insert(table, [(11, "n11", 11, BASE + dt.timedelta(seconds=1))])
            assert not (await waiting.poll_once()).held
            assert (await holder.poll_once()).emitted.created == 1
            await holder.close()  # gives the lease up: the other takes over at once
            source.insert(table, [(12, "n12", 12, BASE + dt.timedelta(seconds=2))])
            cycle = await waiting.poll_once()
            assert cycle.held and cycle.emitted.created == 1  # nothing repeated
            assert (await waiting.health()).detail["lease"] == "held"
            assert summary(r.events()) == [("created", str(i)) for i in range(1, 13)]
            assert_unique_ids(r.events())
        finally:
            await r.close()

    run(body)


def test_integer_row_versions(source: Source, tmp_path: Path) -> None:
    table = source.table("BIGINT")
    source.insert(table, [(1, "a", 1, 100), (2, "b", 2, 101), (3, "c", 3, 101)])

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), lookback_versions=5, batch_size=2)
        try:
            capture = r.capture()
            assert (await capture.poll_once()).emitted.created == 3
            source.insert(table, [(4, "d", 4, 99)])  # a late version within the lookback
            source.update(table, 1, "a2", 102)
            cycle = await capture.poll_once()
            assert (cycle.emitted.created, cycle.emitted.updated) == (1, 1)
            assert summary(r.events()[3:]) == [("created", "4"), ("updated", "1")]
            assert (await capture.poll_once()).emitted.total == 0
        finally:
            await r.close()

    run(body)


def test_iso_text_watermark_with_offset(source: Source, tmp_path: Path) -> None:
    table = source.table("VARCHAR(40)")
    texts = ["2024-05-16T08:00:00.500+02:00", "2024-05-16T08:00:01+02:00"]
    source.insert(table, [(1, "a", 1, texts[0]), (2, "b", 2, texts[1])])

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), lookback_s=60)
        try:
            capture = r.capture()
            assert (await capture.poll_once()).emitted.created == 2
            assert [e["time"] for e in r.events()] == [
                "2024-05-16T06:00:00.500000Z",
                "2024-05-16T06:00:01Z",
            ]
            source.insert(table, [(3, "c", 3, "2024-05-16T07:59:30+02:00")])  # late, in lookback
            assert (await capture.poll_once()).emitted.created == 1
            assert (await capture.poll_once()).emitted.total == 0
            assert len(r.events()) == 3
        finally:
            await r.close()

    run(body)


@pytest.mark.parametrize("source", ["sqlite"], indirect=True)
def test_state_in_postgresql(source: Source, postgres: str) -> None:
    table = source.table()
    source.insert(table, [(i, f"n{i}", i, BASE) for i in range(1, 6)])
    state_db = unique("strangler_test_state")
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{state_db}"')
    state = f"postgresql+psycopg://postgres@127.0.0.1:5432/{state_db}"

    async def body() -> None:
        r = await rig(source, table, state, batch_size=2)
        try:
            one, two = r.capture("a"), r.capture("b")
            first, second = await asyncio.gather(one.poll_once(), two.poll_once())
            assert first.emitted.total + second.emitted.total == 5
            source.update(table, 2, "m2", BASE + dt.timedelta(seconds=1))
            source.delete(table, 4)
            holder = one if first.held else two
            cycle = await holder.poll_once(full=True)
            assert counts(cycle) == (0, 1, 1)
            assert summary(r.events()) == [
                *[("created", str(i)) for i in range(1, 6)],
                ("updated", "2"),
                ("deleted", "4"),
            ]
            assert_unique_ids(r.events())
        finally:
            await r.close()

    try:
        run(body)
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{state_db}" WITH (FORCE)')


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until ``condition`` holds, 30 s at most."""
    deadline = asyncio.get_running_loop().time() + 30
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_unreachable_source_degrades_health_and_the_loop_recovers(tmp_path: Path) -> None:
    """The background loop: the source refuses connections, health says so, the loop
    keeps retrying, and once the source is back nothing is lost or repeated."""
    db = unique("strangler_test_capture_down")
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{db}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
    source = Source("postgresql", sa.create_engine(url, poolclass=sa.NullPool), {"url": url})
    table = source.table()
    source.insert(table, [(i, f"n{i}", i, BASE) for i in range(1, 4)])

    def allow(allowed: bool) -> None:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS {str(allowed).lower()}')
            if not allowed:
                connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (db,),
                )

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), interval_s=0.05)
        capture = r.capture()
        try:
            await capture.start()

            async def captured(count: int) -> bool:
                return len(await asyncio.to_thread(r.events)) == count

            await wait_for(lambda: captured(3), "the first rows")
            allow(False)

            async def degraded() -> bool:
                return (await capture.health()).status == "degraded"

            await wait_for(degraded, "health to say the source fails")
            health = await capture.health()
            assert health.detail["failing"] == "source" and health.detail["error"]
            allow(True)
            source.insert(table, [(4, "n4", 4, BASE), (5, "n5", 5, BASE + dt.timedelta(seconds=1))])
            await wait_for(lambda: captured(5), "the rows written while it was down")

            async def healthy() -> bool:
                return (await capture.health()).status == "ok"

            await wait_for(healthy, "health to recover")
            await capture.close()
            assert summary(r.events()) == [("created", str(i)) for i in range(1, 6)]
            assert_unique_ids(r.events())
        finally:
            await r.close()

    try:
        run(body)
    finally:
        source.admin.dispose()
        allow(True)
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def test_build_adds_a_capture_per_polled_stream(tmp_path: Path) -> None:
    path = tmp_path / "legacy.sqlite"
    source = Source("sqlite", sa.create_engine(f"sqlite:///{path}"), {"url": f"sqlite:///{path}"})
    table = source.table()
    text = f"""
systems:
  erp: {{kind: database, url: "sqlite:///{path}", tables: {{{table}: {{}}}}}}
events:
  state: "sqlite:///{tmp_path / "state.sqlite"}"
  streams:
    items: {{from: erp.{table}, poll: {{watermark: changed_at}}}}
    pushed: {{from: erp.{table}}}
"""
    platform = build_platform(parse_spec(text))
    try:
        captures = [c for c in platform.components if c.kind == "capture"]
        assert [c.name for c in captures] == ["events.items.capture"]
        with pytest.raises(SpecError, match="no column 'changedAt'"):
            build_platform(parse_spec(text.replace("changed_at", "changedAt")))
    finally:
        for component in platform.components:
            run(component.close)
        source.admin.dispose()


def test_composite_keys_and_deletes(source: Source, tmp_path: Path) -> None:
    """A two-column key whose text holds a comma: keyed, paged and looked up correctly."""
    table = unique("pairs")
    with source.admin.begin() as c:
        c.exec_driver_sql(
            f"CREATE TABLE {table} (a INTEGER NOT NULL, b VARCHAR(20) NOT NULL, "
            f"note VARCHAR(20), changed_at {source.timestamp}, PRIMARY KEY (a, b))"
        )
        c.execute(
            sa.text(f"INSERT INTO {table} VALUES (:a, :b, :n, :w)"),
            [
                {"a": a, "b": b, "n": f"{a}{b}", "w": source.stored(BASE)}
                for a in (1, 2)
                for b in ("x", "x,y", "z")
            ],
        )

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), batch_size=2)
        try:
            capture = r.capture()
            assert (await capture.poll_once()).emitted.created == 6
            subjects = [e["subject"] for e in r.events()]
            assert subjects == ["1,x", '1,"x,y"', "1,z", "2,x", '2,"x,y"', "2,z"]
            with source.admin.begin() as c:
                c.execute(sa.text(f"DELETE FROM {table} WHERE a = 1 AND b = 'x,y'"))
                c.execute(sa.text(f"DELETE FROM {table} WHERE a = 2 AND b = 'z'"))
            cycle = await capture.full_pass()
            assert counts(cycle) == (0, 0, 2)
            assert [(e["subject"], e["data"]) for e in r.events()[6:]] == [
                ('1,"x,y"', {"a": 1, "b": "x,y"}),
                ("2,z", {"a": 2, "b": "z"}),
            ]
            assert (await capture.full_pass()).emitted.total == 0
            assert_unique_ids(r.events())
        finally:
            await r.close()

    run(body)


@pytest.mark.parametrize("source", ["postgresql"], indirect=True)
def test_timestamps_with_zone(source: Source, tmp_path: Path) -> None:
    table = source.table("TIMESTAMPTZ")
    auckland = ZoneInfo("Pacific/Auckland")
    first = dt.datetime(2024, 5, 16, 20, 0, 0, 125000, tzinfo=auckland)
    source.insert(table, [(1, "a", 1, first), (2, "b", 2, first + dt.timedelta(seconds=1))])

    async def body() -> None:
        r = await rig(source, table, state_file(tmp_path), lookback_s=60)
        try:
            capture = r.capture()
            assert (await capture.poll_once()).emitted.created == 2
            assert r.events()[0]["time"] == "2024-05-16T08:00:00.125000Z"
            source.insert(table, [(3, "c", 3, first - dt.timedelta(seconds=30))])
            assert (await capture.poll_once()).emitted.created == 1
            assert r.events()[2]["time"] == "2024-05-16T07:59:30.125000Z"
            assert (await capture.poll_once()).emitted.total == 0
        finally:
            await r.close()

    run(body)
