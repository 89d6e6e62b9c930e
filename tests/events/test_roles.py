"""Capture and relay in separate processes, as replicas by role run them.

Two platforms built from one spec share the state database: one runs only the
``capture`` role, the other only ``relay``. Rows inserted into a real SQLite
table reach a real broker once each, in order per key; the capturing platform
alone publishes nothing.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from strangler.errors import SpecError
from strangler.events.part import RUN_ENV, roles_to_run
from strangler.events.store import LEASES, OUTBOX, StateStore
from strangler.platform.build import build_platform
from strangler.spec import parse_spec
from strangler.spec.events import EventsSpec
from tests.events.broker import Broker, consume, unique_topic
from tests.events.test_relay import delivered, events

ROWS = 60
KEYS = 5


def spec_text(tmp_path: Path, topic: str, bootstrap: str, run: str) -> str:
    source = f"sqlite:///{tmp_path / 'legacy.sqlite'}"
    return f"""
systems:
  erp: {{kind: database, url: "{source}", tables: {{items: {{}}}}}}
events:
  state: "sqlite:///{tmp_path / "state.sqlite"}"
  kafka: {{bootstrap: "{bootstrap}"}}
  relay: {{interval_s: 0.05}}
  run: {run}
  streams:
    items: {{from: erp.items, topic: {topic}, poll: {{watermark: n, interval_s: 0.05}}}}
"""


def outbox(path: Path) -> list[dict[str, Any]]:
    """The outbox rows of the state database, in ``seq`` order."""
    store = StateStore(f"sqlite:///{path}")
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(sa.select(OUTBOX).order_by(OUTBOX.c.seq)).mappings()
            return [dict(r) for r in rows]
    finally:
        store.dispose()


def waiting(path: Path) -> int:
    """How many events of the stream ``items`` wait to be published."""
    store = StateStore(f"sqlite:///{path}")
    try:
        return store.pending_count("items")
    finally:
        store.dispose()


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.05)


def test_a_capture_process_and_a_relay_process(tmp_path: Path, broker: Broker) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'legacy.sqlite'}")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"
        )
    topic = unique_topic("roles")
    capturing = build_platform(parse_spec(spec_text(tmp_path, topic, broker.bootstrap, "capture")))
    relaying = build_platform(parse_spec(spec_text(tmp_path, topic, broker.bootstrap, "[relay]")))
    assert [c.kind for c in capturing.components if c.kind in ("capture", "relay")] == ["capture"]
    assert [c.kind for c in relaying.components if c.kind in ("capture", "relay")] == ["relay"]
    state = tmp_path / "state.sqlite"
    counter = iter(range(1, 10_000))

    def write(count: int) -> None:
        """Insert or update rows: keys 0..KEYS-1 in turn, ``n`` growing (the watermark)."""
        with engine.begin() as connection:
            for _ in range(count):
                n = next(counter)
                connection.exec_driver_sql(
                    "INSERT INTO items (id, n) VALUES (?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET n = excluded.n",
                    (n % KEYS, n),
                )

    def captured_up_to(n: int) -> Callable[[], bool]:
        return lambda: any(orjson.loads(r["event"])["data"]["n"] == n for r in outbox(state))

    async def scenario() -> None:
        async with capturing.running():
            for _ in range(ROWS // 2 // 5):
                await asyncio.to_thread(write, 5)
                await asyncio.sleep(0.02)
            await until(captured_up_to(ROWS // 2), "the capture process fills the outbox")
            assert waiting(state) == len(outbox(state)), "capture published"
            async with relaying.running():
                for _ in range(ROWS // 2 // 5):
                    await asyncio.to_thread(write, 5)
                    await asyncio.sleep(0.02)
                await until(captured_up_to(ROWS), "every change in the outbox")
                await until(
                    lambda: waiting(state) == 0,
                    "the relay process publishes the outbox",
                )

    asyncio.run(scenario())
    engine.dispose()
    rows = outbox(state)
    assert len({r["msg_key"] for r in rows}) == KEYS
    assert len(rows) > KEYS  # some keys have several events, so order per key is tested
    records = consume(broker.bootstrap, topic, count=len(rows))
    assert not delivered(records, rows), "an event was published twice"
    assert len(records) == len(rows)


def test_the_environment_overrides_the_spec() -> None:
    spec = EventsSpec.model_validate(
        {"run": "capture,relay", "kafka": {"bootstrap": "127.0.0.1:9"}}
    )
    assert roles_to_run(spec, {}) == {"capture", "relay"}
    assert roles_to_run(spec, {RUN_ENV: "relay"}) == {"relay"}
    assert roles_to_run(spec, {RUN_ENV: " capture "}) == {"capture"}
    with pytest.raises(ValueError, match="unknown role 'publish'"):
        roles_to_run(spec, {RUN_ENV: "publish"})
    with pytest.raises(SpecError, match="run"):
        parse_spec("events: {run: [capture, publish]}")


def test_the_environment_chooses_the_components(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'legacy.sqlite'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER)")
    engine.dispose()
    text = spec_text(tmp_path, unique_topic("roles"), "127.0.0.1:9", "[capture, relay]")

    def kinds() -> list[str]:
        platform = build_platform(parse_spec(text))
        try:
            return sorted(c.kind for c in platform.components if c.kind in ("capture", "relay"))
        finally:
            for component in platform.components:
                asyncio.run(component.close())

    assert kinds() == ["capture", "relay"]
    monkeypatch.setenv(RUN_ENV, "relay")
    assert kinds() == ["relay"]
    monkeypatch.setenv(RUN_ENV, "capture")
    assert kinds() == ["capture"]
    monkeypatch.setenv(RUN_ENV, "relay,captures")
    with pytest.raises(ValueError, match="unknown role 'captures'"):
        kinds()


def worker_command(spec: Path, roles: str) -> list[str]:
    """``strangler events run`` of ``spec`` with ``roles``, by this interpreter."""
    command = [sys.executable, "-m", "strangler.cli", "events", "run"]
    return [*command, "-c", str(spec), "--roles", roles]


def test_a_relay_without_a_broker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="names 'relay', which publishes the outbox to Kafka"):
        parse_spec("events: {run: [relay]}")
    with pytest.raises(SpecError, match=re.escape("add events.kafka")):
        parse_spec("events: {run: 'capture,relay'}")
    parse_spec("events: {run: [capture]}")
    parse_spec("events: {}")  # the default roles: REST and SSE alone, no relay
    with pytest.raises(ValueError, match=re.escape("the spec has no events.kafka")):
        roles_to_run(EventsSpec(), {RUN_ENV: "relay"})
    assert roles_to_run(EventsSpec(), {RUN_ENV: "capture"}) == {"capture"}
    spec = tmp_path / "strangler.yaml"
    spec.write_text("events: {}\n", encoding="utf-8")
    done = subprocess.run(
        worker_command(spec, "relay"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "the spec has no events.kafka" in done.stderr


def test_a_relay_worker_without_the_server(tmp_path: Path, broker: Broker) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'legacy.sqlite'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER)")
    engine.dispose()
    topic = unique_topic("worker")
    spec = tmp_path / "strangler.yaml"
    spec.write_text(spec_text(tmp_path, topic, broker.bootstrap, "[capture, relay]"), "utf-8")
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    state.create()
    rows = events("items", topic, 50)
    with state.transaction() as connection:
        state.append(connection, rows)
    state.dispose()
    worker = subprocess.Popen(
        worker_command(spec, "relay"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        asyncio.run(until(lambda: waiting(tmp_path / "state.sqlite") == 0, "the worker publishes"))
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "events: running events.items.relay;" in out
    assert "capture" not in out
    assert not delivered(consume(broker.bootstrap, topic, count=len(rows)), rows)
    store = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:  # the stopped worker gave its lease up
        with store.engine.connect() as connection:
            held = connection.execute(
                sa.select(LEASES.c.expires_at).where(LEASES.c.name == "relay:items")
            ).scalar()
        assert held is None or held <= time.time()
    finally:
        store.dispose()
