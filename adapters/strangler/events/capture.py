"""Polling change capture of a database table: the component ``events.<stream>.capture``.

Each cycle (:meth:`Capture.poll_once`):

1. takes the lease ``capture:<stream>``, or renews it when a third of its
   time has passed (one replica captures a stream at a time; the others wait
   and retry; every write below is fenced by the lease all the same);
2. reads the rows whose watermark is at least the highest watermark seen less
   the lookback, in pages of ``batch_size`` ordered by (watermark, key), so
   rows sharing a watermark are never skipped at a page boundary and a
   transaction that committed late with an older watermark is still seen;
3. per page, in one state transaction: emits ``created`` for keys the
   snapshot lacks and ``updated`` for keys whose hash differs (re-read rows
   emit nothing), updates the snapshot and the offset;
4. every ``deletes_every_s``, runs the full pass (:meth:`Capture.full_pass`):
   every row in key order (rows changed beyond the lookback emit ``updated``,
   rows never seen ``created``), then the snapshot's keys are looked up in
   the table, page by page, and keys gone emit ``deleted`` (data: the key
   fields only) and leave the snapshot.

What holds and what does not is written down in ``docs/events.md``
("Change capture").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strangler.adapters.db.query import split
from strangler.adapters.db.values import parse_text, to_json
from strangler.errors import StranglerError
from strangler.events.capture_source import SourceReader, Watermark
from strangler.events.capture_state import CaptureState, Emitted
from strangler.events.leases import Lease, LeaseLost
from strangler.events.metrics import CAPTURE_FAILURES, CAPTURE_OK, CAPTURE_READ, CAPTURED
from strangler.events.streams import Action, Stream
from strangler.platform.component import Health, Status

if TYPE_CHECKING:
    from strangler.events.part import EventHub

__all__ = ["Capture", "Cycle"]

log = logging.getLogger("strangler.events.capture")

MAX_BACKOFF_S = 30.0


@dataclass
class Cycle:
    """What one :meth:`Capture.poll_once` did."""

    held: bool
    emitted: Emitted = field(default_factory=Emitted)
    read: int = 0
    full_pass: bool = False


class Capture:
    """Polls one table stream into the outbox (see the module's description)."""

    kind = "capture"

    def __init__(
        self, hub: EventHub, stream: Stream, *, lease_s: float | None = None, holder: str = ""
    ) -> None:
        if stream.table is None or stream.spec.poll is None:
            raise ValueError(f"stream {stream.name} is not a polled table")
        self.hub = hub
        self.stream = stream
        self.poll = stream.spec.poll
        self.name = f"events.{stream.name}.capture"
        self.table = stream.adapter.tables[stream.table]
        self.watermark = Watermark.of(
            self.table, self.poll, f"events.streams.{stream.name}.poll.watermark"
        )
        self.reader = SourceReader(stream.adapter, self.table, self.watermark, self.poll.batch_size)
        ttl = lease_s if lease_s is not None else hub.spec.relay.lease_s
        self.lease = Lease(hub.store, f"capture:{stream.name}", ttl_s=ttl, holder=holder)
        self.state = CaptureState(hub.store, stream.name, self.lease)
        self._task: asyncio.Task[None] | None = None
        self._error: str | None = None
        self._error_where: str | None = None
        self._held = False
        self._cycles = 0
        self._last_ok: float | None = None

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        """Start the background loop (the hub, started before, made the tables)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def close(self) -> None:
        """Stop the loop and give the lease up, so another replica takes over at once."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._held:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.lease.release)
            self._held = False

    async def health(self) -> Health:
        detail: dict[str, Any] = {
            "kind": self.kind,
            "stream": self.stream.name,
            "table": f"{self.stream.system}.{self.table.name}",
            "lease": "held" if self._held else "waiting",
            "cycles": self._cycles,
        }
        if self._error is not None:
            detail["error"] = self._error
            status: Status = "down" if self._error_where == "state" else "degraded"
            return Health(status, {**detail, "failing": self._error_where})
        return Health("ok", detail)

    async def _loop(self) -> None:
        delay = self.poll.interval_s
        while True:
            try:
                await self.poll_once()
                delay = self.poll.interval_s
            except asyncio.CancelledError:
                raise
            except Exception:  # recorded by poll_once; never end the loop
                delay = min(max(delay * 2, self.poll.interval_s), MAX_BACKOFF_S)
            await asyncio.sleep(delay)

    # -- one cycle ----------------------------------------------------------

    async def poll_once(self, *, full: bool | None = None) -> Cycle:
        """One cycle: new and changed rows, then the full pass when due (``full``: force
        it, or never with False). Raises what failed, after recording it for health."""
        name = self.stream.name
        try:
            cycle = await self._cycle(full)
        except StranglerError as exc:
            self._failed("source", exc.message)
            CAPTURE_FAILURES.labels(name).inc()
            raise
        except Exception as exc:
            self._failed("state", f"{type(exc).__name__}: {exc}")
            CAPTURE_FAILURES.labels(name).inc()
            raise
        self._error = self._error_where = None
        self._cycles += 1
        self._last_ok = time.time()
        CAPTURE_OK.labels(name).set(self._last_ok)
        CAPTURE_READ.labels(name).inc(cycle.read)
        emitted = cycle.emitted
        for action, count in (
            ("created", emitted.created),
            ("updated", emitted.updated),
            ("deleted", emitted.deleted),
        ):
            CAPTURED.labels(name, action).inc(count)
        return cycle

    def _failed(self, where: str, message: str) -> None:
        if self._error != message:
            log.warning("capture %s: %s failing: %s", self.stream.name, where, message)
        self._error, self._error_where = message, where

    async def _cycle(self, full: bool | None) -> Cycle:
        self._held = await asyncio.to_thread(self.lease.ensure)
        if not self._held:
            return Cycle(held=False)
        cycle = Cycle(held=True)
        try:
            position = await asyncio.to_thread(self.state.position)
            position.setdefault("full_at", time.time())  # the first cycle reads everything
            high = self.watermark.load(position.get("high"))
            low = None if high is None else self.watermark.low(high)
            after: tuple[Any, ...] | None = None
            while True:
                page = await self.reader.changes(low, after)
                cycle.read += len(page.rows)
                for row in page.rows:
                    high = self.watermark.later(high, row.watermark)
                position = {**position, "high": self.watermark.dump(high)}
                emitted = await asyncio.to_thread(
                    self.state.commit, page.rows, self._event, position
                )
                cycle.emitted.add(emitted)
                if emitted.total:
                    self.hub.appended(self.stream.name)
                if not page.more:
                    break
                after = page.after
            due = self._full_due(position) if full is None else full
            if due:
                cycle.emitted.add(await self._full_pass())
                cycle.full_pass = True
                position = {**position, "full_at": time.time()}
                await asyncio.to_thread(self.state.save, position)
        except LeaseLost:
            self._held = False
            cycle.held = False
        return cycle

    def _full_due(self, position: dict[str, Any]) -> bool:
        every = self.poll.deletes_every_s
        if every is None:
            return False
        return time.time() - float(position["full_at"]) >= every

    async def full_pass(self) -> Cycle:
        """Only the full pass: rows changed beyond the lookback, rows deleted."""
        self._held = await asyncio.to_thread(self.lease.ensure)
        if not self._held:
            return Cycle(held=False)
        cycle = Cycle(held=True, full_pass=True)
        try:
            cycle.emitted = await self._full_pass()
        except LeaseLost:
            self._held = cycle.held = False
        return cycle

    async def _full_pass(self) -> Emitted:
        emitted = Emitted()
        after: tuple[Any, ...] | None = None
        while True:  # every row, in key order
            page = await self.reader.rows_by_key(after)
            done = await asyncio.to_thread(self.state.commit, page.rows, self._event, None)
            emitted.add(done)
            if done.total:
                self.hub.appended(self.stream.name)
            if not page.more:
                break
            after = page.after
        last: str | None = None
        while True:  # every snapshot key, looked up in the table
            keys = await asyncio.to_thread(self.state.snapshot_keys, last, self.poll.batch_size)
            if not keys:
                break
            present = await self.reader.present(keys)
            gone = [k for k in keys if k not in present]
            if gone:
                emitted.add(await asyncio.to_thread(self.state.delete, gone, self._event))
                self.hub.appended(self.stream.name)
            last = keys[-1]
        return emitted

    # -- events -------------------------------------------------------------

    def _event(self, action: Action, key: str, data: Any, watermark: Any) -> dict[str, Any]:
        if action == "deleted":
            data = self.key_fields(key)
        moment = self.watermark.instant(watermark)
        return self.hub.event_row(self.stream, action, key, data, time=moment)

    def key_fields(self, key: str) -> dict[str, Any]:
        """A deleted row's data: its key fields as answered, from the entity key."""
        parts = split(key)
        data: dict[str, Any] = {}
        for column, part in zip(self.table.key_columns, parts, strict=False):
            try:
                data[column.name] = to_json(column, parse_text(column, part))
            except ValueError:
                data[column.name] = part
        return data
