"""The relay: publishes one stream's outbox to Kafka, in order, and marks it sent.

One cycle (:meth:`Relay.publish_once`):

1. take the lease ``relay:<stream>``, or renew it when a third of its time
   has passed; a relay that does not hold it publishes nothing (it stands by,
   and takes over once the holder has not renewed for ``lease_s``);
2. read up to ``batch_size`` unsent events in ``seq`` order;
3. send them all, each under its entity key (one entity's events go to one
   partition, in order), and wait until every one is acknowledged, renewing
   the lease while waiting;
4. in one transaction: renew the lease if it is still ours (fencing: a
   conditional update), then mark the batch sent.

If any send fails, or the broker does not answer in time, nothing is marked:
the next cycle sends the batch again from its first event (the producer
keeps a key's order on retries, see :mod:`.kafka`). An event is therefore
published at least once; it is published twice only when a batch was
acknowledged in part (or in whole, by a relay killed before it marked it), and
a repeat always carries the same CloudEvents ``id``. Now and then the holder
removes published events older than ``retention_s``.

The component never stops on a failure: it backs off (up to a third of the
lease, so it keeps its lease) and reports ``degraded`` with the number of
events waiting and the last error until a batch goes through again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from strangler.errors import BrokerError
from strangler.events.kafka import Message, Publisher
from strangler.events.leases import Lease, LeaseLost
from strangler.events.metrics import OUTBOX_PENDING, PUBLISHED, RELAY_FAILURES
from strangler.events.store import StateStore, now
from strangler.platform.component import Health
from strangler.spec.events import KafkaSpec, RelaySpec

__all__ = ["Relay", "RelayStats"]

log = logging.getLogger(__name__)

_PURGE_EVERY_S = 300.0
_MEASURE_EVERY_S = 1.0


@dataclass
class RelayStats:
    """What a relay has done since it started (this process only)."""

    published: int = 0
    batches: int = 0
    failures: int = 0
    fenced: int = 0
    purged: int = 0
    last_error: str | None = None
    failing_since: float | None = None


class Relay:
    """Component ``events.<stream>.relay``: the outbox of one stream to Kafka."""

    kind = "relay"

    def __init__(
        self,
        stream: str,
        store: StateStore,
        kafka: KafkaSpec,
        relay: RelaySpec,
        *,
        holder: str = "",
    ) -> None:
        self.stream = stream
        self.store = store
        self.spec = relay
        self.publisher = Publisher(kafka)
        self.lease = Lease(store, f"relay:{stream}", ttl_s=relay.lease_s, holder=holder)
        self.stats = RelayStats()
        self.holding = False
        self._next_purge = 0.0
        self._next_measure = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    @property
    def name(self) -> str:
        return f"events.{self.stream}.relay"

    # -- the component --------------------------------------------------------

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def close(self) -> None:
        task, self._task = self._task, None
        self._stop.set()
        if task is not None:
            # the cycle in its thread finishes; the loop waits for it
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self._shut)

    async def health(self) -> Health:
        detail: dict[str, Any] = {
            "kind": self.kind,
            "stream": self.stream,
            "role": "active" if self.holding else "standby",
            "published": self.stats.published,
        }
        try:
            detail["pending"] = await asyncio.to_thread(self.pending_count)
        except Exception as exc:
            return Health("degraded", {**detail, "error": f"state database: {type(exc).__name__}"})
        if self.stats.failing_since is not None:
            detail["error"] = self.stats.last_error
            detail["failing_s"] = round(time.monotonic() - self.stats.failing_since, 1)
            return Health("degraded", detail)
        return Health("ok", detail)

    def wake(self) -> None:
        """Events were appended in this process: the next cycle starts at once rather
        than after ``interval_s`` (called on the event loop)."""
        self._wake.set()

    # -- cycles ---------------------------------------------------------------

    async def publish_once(self) -> int:
        """One cycle (see the module's docstring): the number of events published.

        ``BrokerError`` if the broker failed the batch (nothing was marked sent).
        """
        return await asyncio.to_thread(self.cycle)

    def cycle(self) -> int:
        """:meth:`publish_once`, blocking."""
        self.holding = self.lease.ensure()
        if not self.holding:
            return 0
        if time.monotonic() >= self._next_purge:
            self.purge()
        rows = self.store.pending(self.stream, self.spec.batch_size)
        if not rows:
            self._succeeded()
            return 0
        messages = [Message(r.topic, r.msg_key, r.event.encode()) for r in rows]
        try:
            self.publisher.publish(messages, tick=self.lease.acquire, tick_s=self._tick_s)
        except BrokerError as exc:
            self._failed(exc)
            raise
        try:
            with self.lease.fenced() as connection:
                self.store.mark_sent(connection, self.stream, [r.seq for r in rows])
        except LeaseLost:
            self.stats.fenced += 1
            log.warning(
                "%s: lease lost while publishing %d events; another relay sends them",
                self.name,
                len(rows),
            )
            self.holding = False
            return 0
        self.stats.published += len(rows)
        PUBLISHED.labels(self.stream).inc(len(rows))
        self.stats.batches += 1
        self._succeeded()
        return len(rows)

    def purge(self) -> int:
        """Remove this stream's events published more than ``retention_s`` ago."""
        self._next_purge = time.monotonic() + min(_PURGE_EVERY_S, self.spec.retention_s or 0.0)
        if self.spec.retention_s is None:
            self._next_purge = float("inf")
            return 0
        removed = self.store.purge(self.stream, now() - timedelta(seconds=self.spec.retention_s))
        self.stats.purged += removed
        return removed

    def pending_count(self) -> int:
        """Events of this stream waiting to be published."""
        return self.store.pending_count(self.stream)

    # -- inside ---------------------------------------------------------------

    @property
    def _tick_s(self) -> float:
        return max(0.05, self.spec.lease_s / 3)

    def _succeeded(self) -> None:
        if self.stats.failing_since is not None:
            log.info("%s: the broker answers again", self.name)
        self.stats.failing_since = None
        self.stats.last_error = None

    def _failed(self, exc: BrokerError) -> None:
        self.stats.failures += 1
        RELAY_FAILURES.labels(self.stream).inc()
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        if self.stats.failing_since is None:
            self.stats.failing_since = time.monotonic()
            log.warning("%s: publishing failed, events wait in the outbox: %s", self.name, exc)

    async def _run(self) -> None:
        backoff = self.spec.interval_s
        while not self._stop.is_set():
            self._wake.clear()
            try:
                sent = await asyncio.to_thread(self.cycle)
                await asyncio.to_thread(self._measure)
                backoff = self.spec.interval_s
                if sent >= self.spec.batch_size or self._wake.is_set():
                    continue  # more may be waiting, or was appended meanwhile: no pause
                await self._pause(self.spec.interval_s, wakes=True)
            except Exception as exc:  # the loop never dies; health says what is wrong
                if not isinstance(exc, BrokerError):
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                    self.stats.failing_since = self.stats.failing_since or time.monotonic()
                    log.exception("%s: cycle failed", self.name)
                delay = backoff
                backoff = min(backoff * 2, max(self.spec.interval_s, self._tick_s))
                await self._pause(delay, wakes=False)  # a failure backs off in full

    async def _pause(self, delay: float, *, wakes: bool) -> None:
        """Wait ``delay`` seconds, or less when stopped (or woken, with ``wakes``)."""
        events = (self._stop, self._wake) if wakes else (self._stop,)
        waits = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def _measure(self) -> None:
        """The outbox's depth, for ``strangler_outbox_pending`` (by the active relay, at
        most once a second)."""
        if self.holding and time.monotonic() >= self._next_measure:
            self._next_measure = time.monotonic() + _MEASURE_EVERY_S
            OUTBOX_PENDING.labels(self.stream).set(self.pending_count())

    def _shut(self) -> None:
        self.publisher.close()
        if self.holding:
            try:
                self.lease.release()
            except Exception:  # the lease then expires by itself
                log.warning("%s: could not release the lease", self.name, exc_info=True)
            self.holding = False
