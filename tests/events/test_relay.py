"""The relay publishes the outbox to a real broker: every event once, in order per key.

Events are appended to the outbox directly; the relay publishes them; a consumer
reads the topic by assignment and every count is exact. Helpers here are shared
with ``test_relay_failures.py``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
import sqlalchemy as sa

from strangler.events.envelope import CONTENT_TYPE, cloud_event, encode
from strangler.events.kafka import Message, Publisher
from strangler.events.relay import Relay
from strangler.events.store import OUTBOX, PUBLISHED, StateStore
from strangler.spec.events import KafkaSpec, RelaySpec
from tests.events.broker import Broker, consume, unique_topic

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres"


# -- helpers (also used by test_relay_failures) ---------------------------------


def events(
    stream: str, topic: str, count: int, *, keys: int = 7, start: int = 0
) -> list[dict[str, Any]]:
    """``count`` outbox rows of ``stream``, keys ``k0``..``k<keys-1>`` in turn."""
    rows = []
    for n in range(start, start + count):
        key = f"k{n % keys}"
        event = cloud_event(
            source=f"/strangler/test/{stream}",
            type="strangler.test.items.updated",
            subject=key,
            data={"n": n, "key": key},
        )
        rows.append(
            {
                "stream": stream,
                "event_id": event["id"],
                "topic": topic,
                "msg_key": key,
                "event": encode(event).decode(),
            }
        )
    return rows


def append(store: StateStore, rows: list[dict[str, Any]]) -> None:
    with store.transaction() as connection:
        store.append(connection, rows)


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.05)


def unsent(store: StateStore, stream: str) -> list[str]:
    """Ids of the stream's unsent events, in ``seq`` order."""
    return [r.event_id for r in store.pending(stream, 1_000_000)]


def delivered(records: list[Any], rows: list[dict[str, Any]]) -> Counter[str]:
    """Check what a consumer received against the rows appended; the duplicates.

    Every appended event arrived; nothing else arrived; each record carries its
    entity key, the CloudEvents content type and the event exactly as stored;
    a consumer that skips ids it has seen gets each key's events in order.
    """
    by_id = {r["event_id"]: r for r in rows}
    seen: Counter[str] = Counter()
    order: dict[str, list[int]] = {}
    for record in records:
        event = orjson.loads(record.value)
        assert event["id"] in by_id, f"unknown event {event['id']}"
        row = by_id[event["id"]]
        assert record.key == row["msg_key"].encode()
        assert (("content-type", CONTENT_TYPE.encode())) in record.headers
        assert event == orjson.loads(row["event"])
        if not seen[event["id"]]:
            order.setdefault(row["msg_key"], []).append(event["data"]["n"])
        seen[event["id"]] += 1
    missing = set(by_id) - set(seen)
    assert not missing, f"{len(missing)} events never arrived"
    for key, numbers in order.items():
        assert numbers == sorted(numbers), f"key {key} out of order"
    return Counter({i: c - 1 for i, c in seen.items() if c > 1})


def relay_for(
    store: StateStore,
    stream: str,
    bootstrap: str,
    *,
    holder: str = "",
    kafka: dict[str, Any] | None = None,
    **relay: Any,
) -> Relay:
    settings: dict[str, Any] = {"interval_s": 0.05, "lease_s": 3.0, **relay}
    return Relay(
        stream,
        store,
        KafkaSpec(bootstrap=bootstrap, **(kafka or {})),
        RelaySpec(**settings),
        holder=holder,
    )


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """A fresh state database: SQLite in ``tmp_path``, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        store = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
        store.create()
        yield store
        store.dispose()
        return
    name = f"strangler_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    store = StateStore(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        store.create()
        yield store
    finally:
        store.dispose()
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_state(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    store.create()
    yield store
    store.dispose()


# -- tests ------------------------------------------------------------------------


def test_every_event_published_once_in_order_per_key(state: StateStore, broker: Broker) -> None:
    topic = unique_topic("relay")
    rows = events("items", topic, 1234)
    append(state, rows)
    relay = relay_for(state, "items", broker.bootstrap, batch_size=100)
    try:
        counts = []
        while sent := relay.cycle():
            counts.append(sent)
        assert counts == [100] * 12 + [34]
        assert relay.cycle() == 0
        assert unsent(state, "items") == []
    finally:
        relay._shut()
    duplicates = delivered(consume(broker.bootstrap, topic, count=len(rows)), rows)
    assert duplicates == Counter()


def test_the_component_publishes_what_is_appended_while_it_runs(
    state: StateStore, broker: Broker
) -> None:
    topic = unique_topic("relay")
    rows = events("items", topic, 600)

    async def scenario() -> dict[str, Any]:
        relay = relay_for(state, "items", broker.bootstrap, batch_size=50)
        await relay.start()
        try:
            for start in range(0, len(rows), 100):
                await asyncio.to_thread(append, state, rows[start : start + 100])
            await asyncio.to_thread(wait_for, lambda: not unsent(state, "items"), "all published")
            health = await relay.health()
            assert health.status == "ok"
            return health.detail
        finally:
            await relay.close()

    detail = run(scenario())
    assert detail["pending"] == 0 and detail["published"] == 600 and detail["role"] == "active"
    assert delivered(consume(broker.bootstrap, topic, count=600), rows) == Counter()


def test_two_relays_racing_for_one_stream(state: StateStore, broker: Broker) -> None:
    """Only the lease holder publishes; when it stops, the other takes over."""
    topic = unique_topic("race")
    first, second = events("items", topic, 500), events("items", topic, 300, start=500)

    async def scenario() -> tuple[int, int, int, int]:
        a = relay_for(state, "items", broker.bootstrap, holder="a", batch_size=40)
        b = relay_for(state, "items", broker.bootstrap, holder="b", batch_size=40)
        await asyncio.gather(a.start(), b.start())
        try:
            for start in range(0, len(first), 50):
                await asyncio.to_thread(append, state, first[start : start + 50])
            await asyncio.to_thread(wait_for, lambda: not unsent(state, "items"), "first part")
            published = (a.stats.published, b.stats.published)
            holder, other = (a, b) if a.stats.published else (b, a)
            await holder.close()  # a clean stop gives the lease up
            await asyncio.to_thread(append, state, second)
            await asyncio.to_thread(wait_for, lambda: not unsent(state, "items"), "second part")
            return (*published, other.stats.published, holder.stats.published)
        finally:
            await asyncio.gather(a.close(), b.close())

    a_first, b_first, taker, stopped = run(scenario())
    assert sorted([a_first, b_first]) == [0, 500]  # one relay published everything
    assert taker == 300 and stopped == 500
    assert delivered(consume(broker.bootstrap, topic, count=800), first + second) == Counter()


def test_a_standby_relay_publishes_nothing(sqlite_state: StateStore, broker: Broker) -> None:
    topic = unique_topic("standby")
    append(sqlite_state, events("items", topic, 10))
    holder = relay_for(sqlite_state, "items", broker.bootstrap, holder="a", lease_s=30)
    standby = relay_for(sqlite_state, "items", broker.bootstrap, holder="b", lease_s=30)
    try:
        assert holder.lease.acquire()
        assert standby.cycle() == 0 and not standby.holding
        assert len(unsent(sqlite_state, "items")) == 10
        health = run(standby.health())
        assert health.status == "ok" and health.detail["role"] == "standby"
        assert health.detail["pending"] == 10
        assert holder.cycle() == 10
    finally:
        holder._shut()
        standby._shut()


def test_a_relay_that_lost_its_lease_marks_nothing(
    sqlite_state: StateStore, broker: Broker
) -> None:
    """Fencing: the lease taken over while a batch was in flight; the new holder resends."""
    topic = unique_topic("fence")
    rows = events("items", topic, 20)
    append(sqlite_state, rows)
    old = relay_for(sqlite_state, "items", broker.bootstrap, holder="old", lease_s=30)
    new = relay_for(sqlite_state, "items", broker.bootstrap, holder="new", lease_s=30)

    publish = old.publisher.publish

    def steal(messages: Any, **options: Any) -> Any:  # the lease passes to "new" meanwhile
        with sqlite_state.transaction() as connection:
            connection.execute(sa.text("UPDATE strangler_leases SET holder = 'new'"))
        return publish(messages, **options)

    try:
        assert old.lease.acquire()
        old.publisher.publish = steal  # type: ignore[method-assign]
        assert old.cycle() == 0
        assert old.stats.fenced == 1 and not old.holding
        assert len(unsent(sqlite_state, "items")) == 20
        assert new.cycle() == 20
    finally:
        old._shut()
        new._shut()
    duplicates = delivered(consume(broker.bootstrap, topic, count=40), rows)
    assert duplicates == Counter({r["event_id"]: 1 for r in rows})


def test_published_events_older_than_retention_are_removed(
    sqlite_state: StateStore, broker: Broker
) -> None:
    topic = unique_topic("purge")
    rows = events("items", topic, 30)
    rows_other = events("other", topic, 5)
    append(sqlite_state, rows + rows_other)
    relay = relay_for(sqlite_state, "items", broker.bootstrap, retention_s=3600)
    try:
        assert relay.cycle() == 30
        with sqlite_state.transaction() as connection:  # ten were published two hours ago
            tenth = connection.execute(
                sa.select(OUTBOX.c.seq).where(OUTBOX.c.event_id == rows[9]["event_id"])
            ).scalar_one()
            connection.execute(  # the retention's checkpoint, taken then
                PUBLISHED.update()
                .where(PUBLISHED.c.stream == "items")
                .values(mark_seq=tenth, mark_at=sa.func.datetime("now", "-2 hours"))
            )
        assert relay.purge() == 10
        assert relay.purge() == 0  # the checkpoint is now
        with sqlite_state.engine.connect() as connection:
            left = connection.execute(sa.select(OUTBOX.c.stream, OUTBOX.c.event_id)).all()
        assert len(left) == 25  # 20 recent, and the other stream's unsent 5 untouched
        assert sorted(e for s, e in left if s == "items") == sorted(
            r["event_id"] for r in rows[10:]
        )
        assert unsent(sqlite_state, "other") == [r["event_id"] for r in rows_other]
    finally:
        relay._shut()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"acks": "all", "compression": "gzip", "linger_ms": 20, "batch_bytes": 32768},
            {"acks": -1, "compression_type": "gzip", "enable_idempotence": True,
             "max_in_flight_requests_per_connection": 5, "linger_ms": 20, "batch_size": 32768},
        ),
        (
            {"acks": 1, "compression": "gzip", "client_id": "relay-test"},
            {"acks": 1, "compression_type": "gzip", "enable_idempotence": False,
             "max_in_flight_requests_per_connection": 1, "client_id": "relay-test"},
        ),
        (
            {"acks": 0, "compression": "none", "idempotence": False},
            {"acks": 0, "compression_type": None, "enable_idempotence": False},
        ),
    ],
)  # fmt: skip
def test_producer_settings_from_the_spec_reach_the_producer(
    broker: Broker, settings: dict[str, Any], expected: dict[str, Any]
) -> None:
    publisher = Publisher(KafkaSpec(bootstrap=broker.bootstrap, **settings))
    topic = unique_topic("settings")
    try:
        producer = publisher.open()
        assert {k: producer.config[k] for k in expected} == expected
        assert producer.config["request_timeout_ms"] == 30_000
        assert (producer._transaction_manager is not None) == expected["enable_idempotence"]
        value = b'{"data": "' + b"abc" * 300 + b'"}'
        metadata = publisher.publish([Message(topic, f"k{n}", value) for n in range(200)])
        assert len(metadata) == 200 and min(m.offset for m in metadata) >= 0
        rate = producer.metrics()["producer-metrics"]["compression-rate-avg"]
        if expected["compression_type"] == "gzip":
            assert rate < 0.2  # the batches on the wire were compressed
        else:
            assert rate == pytest.approx(1.0)
    finally:
        publisher.close()
    received = consume(broker.bootstrap, topic, count=200)
    if expected["acks"] == 0:
        # acks 0 waits for nothing, so it may lose (docs/events.md says so): the test
        # broker answers such produce requests anyway, and kafka-python drops the
        # connection with what was still in its buffers. Never more, never twice.
        assert 0 < len(received) <= 200
        assert len({r.key for r in received}) == len(received)
    else:
        assert len(received) == 200


def test_the_part_builds_one_relay_per_stream_with_a_broker(tmp_path: Path) -> None:
    from strangler.platform import build_platform
    from strangler.spec import parse_spec

    source = tmp_path / "src.sqlite"
    engine = sa.create_engine(f"sqlite:///{source}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER)")
    engine.dispose()
    streams = {"a": {"from": "src.items"}, "b": {"from": "src.items", "topic": "b.items"}}
    spec: dict[str, Any] = {
        "systems": {"src": {"kind": "database", "url": f"sqlite:///{source}"}},
        "events": {"state": f"sqlite:///{tmp_path / 'state.sqlite'}", "streams": streams},
    }
    without = build_platform(parse_spec(orjson.dumps(spec).decode()))
    assert not [c for c in without if c.kind == "relay"]
    spec["events"]["kafka"] = {"bootstrap": "127.0.0.1:9"}
    relays = [
        c for c in build_platform(parse_spec(orjson.dumps(spec).decode())) if c.kind == "relay"
    ]
    assert sorted(r.name for r in relays) == ["events.a.relay", "events.b.relay"]
