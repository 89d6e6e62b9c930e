"""Capture and relay in separate processes, as replicas by role run them.

Two platforms built from one spec share the state database: one runs only the
``capture`` role, the other only ``relay``. Rows inserted into a real SQLite
table reach a real broker once each, in order per key; the capturing platform
alone publishes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from strangler.errors import SpecError
from strangler.events.part import RUN_ENV, roles_to_run
from strangler.events.store import OUTBOX, StateStore
from strangler.platform.build import build_platform
from strangler.spec import parse_spec
from strangler.spec.events import EventsSpec
from tests.events.broker import Broker, consume, unique_topic
from tests.events.test_relay import delivered

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
            assert all(r["sent_at"] is None for r in outbox(state)), "capture published"
            async with relaying.running():
                for _ in range(ROWS // 2 // 5):
                    await asyncio.to_thread(write, 5)
                    await asyncio.sleep(0.02)
                await until(captured_up_to(ROWS), "every change in the outbox")
                await until(
                    lambda: all(r["sent_at"] is not None for r in outbox(state)),
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
    spec = EventsSpec.model_validate({"run": "capture,relay"})
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
