"""The relay when things break: the broker frozen, the broker replaced, the relay killed.

Each case counts exactly: every appended event arrives, and an event arrives
twice only where the case allows it (a batch in flight when the failure hit),
always with the same CloudEvents id.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from strangler.events.relay import Relay
from strangler.events.store import LEASES, StateStore
from tests.events.broker import Broker, consume, unique_topic
from tests.events.test_relay import append, delivered, events, relay_for, run, unsent, wait_for
from tests.events.test_relay import sqlite_state as sqlite_state  # the fixture

ROOT = Path(__file__).resolve().parents[2]
FAST = {"request_timeout_s": 1.0}  # a frozen broker is noticed within seconds


def test_broker_frozen_mid_stream_then_back(sqlite_state: StateStore, own_broker: Broker) -> None:
    topic = unique_topic("frozen")
    before, during = events("items", topic, 300), events("items", topic, 300, start=300)

    async def scenario() -> dict[str, Any]:
        relay = relay_for(sqlite_state, "items", own_broker.bootstrap, kafka=FAST, batch_size=50)
        await relay.start()
        try:
            await asyncio.to_thread(append, sqlite_state, before)
            await asyncio.to_thread(wait_for, lambda: not unsent(sqlite_state, "items"), "before")
            own_broker.pause()
            try:
                await asyncio.to_thread(append, sqlite_state, during)
                while (health := await relay.health()).status != "degraded":
                    await asyncio.sleep(0.05)
                # nothing is marked sent while the broker cannot acknowledge
                assert len(await asyncio.to_thread(unsent, sqlite_state, "items")) == 300
            finally:
                own_broker.resume()
            await asyncio.to_thread(wait_for, lambda: not unsent(sqlite_state, "items"), "after")
            while (await relay.health()).status != "ok":
                await asyncio.sleep(0.05)
            return health.detail
        finally:
            await relay.close()

    degraded = run(scenario())
    assert degraded["pending"] == 300 and "BrokerUnavailable" in degraded["error"]
    records = consume(own_broker.bootstrap, topic, count=600)
    duplicates = delivered(records, before + during)
    # a batch sent into the frozen broker may be stored when it wakes, then sent again
    assert set(duplicates) <= {r["event_id"] for r in during}
    assert len(records) == 600 + sum(duplicates.values())


def test_broker_replaced_by_a_fresh_one(sqlite_state: StateStore, own_broker: Broker) -> None:
    """Events appended while no broker listens all arrive at the new one, in order."""
    topic = unique_topic("fresh")
    before = events("items", topic, 200)
    down = events("items", topic, 200, start=200)
    after = events("items", topic, 100, start=400)

    async def scenario() -> None:
        relay = relay_for(sqlite_state, "items", own_broker.bootstrap, kafka=FAST, batch_size=50)
        await relay.start()
        try:
            await asyncio.to_thread(append, sqlite_state, before)
            await asyncio.to_thread(wait_for, lambda: not unsent(sqlite_state, "items"), "before")
            own_broker.stop()
            await asyncio.to_thread(append, sqlite_state, down)
            while (health := await relay.health()).status != "degraded":
                await asyncio.sleep(0.05)
            assert health.detail["pending"] == 200
            own_broker.start()  # the same port, no data
            await asyncio.to_thread(wait_for, lambda: not unsent(sqlite_state, "items"), "down")
            await asyncio.to_thread(append, sqlite_state, after)
            await asyncio.to_thread(wait_for, lambda: not unsent(sqlite_state, "items"), "after")
        finally:
            await relay.close()

    run(scenario())
    records = consume(own_broker.bootstrap, topic, count=300)
    # the fresh broker holds exactly what was sent once it was back: nothing lost
    assert delivered(records, down + after) == Counter()
    assert len(records) == 300


CHILD = """
import sys, time
from strangler.events.relay import Relay
from strangler.events.store import LEASES, StateStore
from strangler.spec.events import KafkaSpec, RelaySpec

url, bootstrap = sys.argv[1], sys.argv[2]
relay = Relay("items", StateStore(url), KafkaSpec(bootstrap=bootstrap),
              RelaySpec(batch_size=200, lease_s=2.0), holder="child")
marked = relay.store.mark_sent
batches = 0

def mark_sent(connection, stream, seqs):
    # The third batch is published (the broker acknowledged it) and not yet marked
    # sent: say so and stay there, to be killed in the middle of its batch.
    global batches
    batches += 1
    if batches == 3:
        print("in flight", flush=True)
        time.sleep(600)
    return marked(connection, stream, seqs)

relay.store.mark_sent = mark_sent
while True:
    relay.cycle()
"""


def test_relay_killed_mid_batch_and_another_takes_over(
    sqlite_state: StateStore, broker: Broker
) -> None:
    """kill -9 while publishing: a standby relay takes over after the lease; only the
    batch in flight arrives twice.

    The child is killed when its third batch is out and not yet marked sent (it says
    so and waits there): the worst moment, reached whatever the machine's speed.
    """
    topic = unique_topic("killed")
    rows = events("items", topic, 6000)
    append(sqlite_state, rows)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, sqlite_state.url, broker.bootstrap],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )

    def child_holds_the_lease() -> bool:
        with sqlite_state.engine.connect() as connection:
            holder = connection.execute(
                sa.select(LEASES.c.holder).where(LEASES.c.name == "relay:items")
            ).scalar()
        return holder == "child"

    wait_for(child_holds_the_lease, "the child relay holds the lease")

    async def scenario() -> tuple[list[str], Relay]:
        standby = relay_for(sqlite_state, "items", broker.bootstrap, holder="standby",
                            lease_s=2.0, batch_size=200)  # fmt: skip
        await standby.start()
        try:
            assert child.stdout is not None
            said = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 60)
            assert said == "in flight\n", said
            os.kill(child.pid, signal.SIGKILL)
            await asyncio.to_thread(child.wait, 10)
            left = await asyncio.to_thread(unsent, sqlite_state, "items")
            assert standby.stats.published == 0  # it stood by while the child held the lease
            await asyncio.to_thread(wait_for, lambda: not unsent(sqlite_state, "items"), "rest")
            return left, standby
        finally:
            await standby.close()

    try:
        left, standby = run(scenario())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert len(left) == 6000 - 2 * 200 and standby.stats.published == len(left)
    records = consume(broker.bootstrap, topic, count=len(rows))
    duplicates = delivered(records, rows)
    in_flight = set(left[:200])  # the child's third batch, sent and not marked
    assert set(duplicates) == in_flight and set(duplicates.values()) == {1}
    assert len(records) == len(rows) + len(duplicates)
    print(f"duplicates after kill -9: {len(duplicates)} of a batch of 200")
