"""The prediction log: every by-entity prediction, for audit, retraining and comparisons.

One row per prediction in ``strangler_predictions``: the request id, the model
and version, the entity, the feature values the model was given, its
prediction (JSON) and when it was made. The table lives in any database
SQLAlchemy reaches (the spec's ``models.log``; by default the feature store's).

Writing never holds up an answer: :meth:`PredictionLog.record` only queues the
row, and a writer thread inserts what has queued in one statement per batch
(up to ``max_batch`` rows), woken once per batch rather than once per row. A
batch that fails to insert (the database is down) is kept and tried again, so
a restart of the database loses nothing; while ``max_pending`` rows wait, new
ones are dropped and counted.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from strangler.etl.store import make_engine
from strangler.etl.tables import UtcDateTime

__all__ = ["PREDICTIONS", "LogStatus", "PredictionLog"]

log = logging.getLogger("strangler.inference")

_METADATA = sa.MetaData()
PREDICTIONS: Final = sa.Table(
    "strangler_predictions",
    _METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("entity", sa.JSON(), nullable=True),
    sa.Column("features", sa.JSON(), nullable=False),
    sa.Column("prediction", sa.JSON(), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index("ix_strangler_predictions_model_at", "model", "at"),
    sa.Index("ix_strangler_predictions_request_id", "request_id"),
)
"""The log table: one row per prediction."""

_RETRY_S: Final = 1.0


@dataclass(frozen=True)
class LogStatus:
    """How the log is doing: rows written, waiting, dropped, and the last failure."""

    written: int
    pending: int
    dropped: int
    error: str | None


class PredictionLog:
    """Queues prediction rows and writes them in batches from a thread of its own."""

    def __init__(
        self,
        url: str,
        *,
        max_batch: int = 500,
        max_delay_s: float = 0.05,
        max_pending: int = 100_000,
    ) -> None:
        self.url = url
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.max_pending = max_pending
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._engine: sa.Engine | None = None
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._closing = threading.Event()
        self._queued = 0
        self._done = 0
        self.written = 0
        self.dropped = 0
        self.error: str | None = None

    def open(self) -> None:
        """Create the table if it is missing and start the writer (blocking: run in a thread)."""
        engine = make_engine(self.url)
        try:
            _METADATA.create_all(engine, checkfirst=True)
        except Exception:
            engine.dispose()
            raise
        self._engine = engine
        self._closing.clear()
        self._thread = threading.Thread(target=self._write, name="prediction-log", daemon=True)
        self._thread.start()

    def record(self, row: Mapping[str, Any]) -> None:
        """Queue one prediction (``request_id``, ``model``, ``version``, ``entity``,
        ``features``, ``prediction``; ``at`` defaults to now). Never blocks."""
        item = dict(row)
        item.setdefault("at", dt.datetime.now(dt.UTC))
        with self._idle:
            if self._queued - self._done >= self.max_pending:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.error(
                        "prediction log: %d rows dropped (more than %d waiting)",
                        self.dropped,
                        self.max_pending,
                    )
                return
            self._queued += 1
        self._queue.put(item)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every row queued so far is written (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            target = self._queued
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._idle.wait(left):
                    return self._done >= target
        return True

    def status(self) -> LogStatus:
        with self._idle:
            pending = self._queued - self._done
        return LogStatus(self.written, pending, self.dropped, self.error)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (waiting at most ``timeout_s``), then stop; idempotent."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._closing.set()
            self._queue.put(None)
            thread.join(timeout_s)
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def _write(self) -> None:
        waiting: deque[dict[str, Any]] = deque()
        stopping = False
        while not (stopping and not waiting):
            if not waiting and not stopping:
                item = self._queue.get()
                if item is None:
                    stopping = True
                    continue
                waiting.append(item)
            stopping = self._drain(waiting) or stopping
            batch = [waiting.popleft() for _ in range(min(self.max_batch, len(waiting)))]
            if not self._insert(batch):
                waiting.extendleft(reversed(batch))
                if stopping:
                    break  # the database is gone and we are asked to stop: give up
                time.sleep(_RETRY_S)
                continue
            self._finished(len(batch))
        if waiting:
            log.error("prediction log: %d rows not written at close", len(waiting))
            self._finished(len(waiting))

    def _drain(self, waiting: deque[dict[str, Any]]) -> bool:
        """Take what else is queued; when the batch is still short, sleep ``max_delay_s``
        once (``close`` wakes it) and take again: one wake-up per batch, not per row."""
        if self._take(waiting):
            return True
        if len(waiting) < self.max_batch and not self._closing.is_set():
            self._closing.wait(self.max_delay_s)
            return self._take(waiting)
        return False

    def _take(self, waiting: deque[dict[str, Any]]) -> bool:
        """Move the queued rows to ``waiting`` (up to ``max_batch``); True on the stop mark."""
        while len(waiting) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is None:
                return True
            waiting.append(item)
        return False

    def _insert(self, batch: list[dict[str, Any]]) -> bool:
        engine = self._engine
        if engine is None or not batch:
            return engine is not None
        try:
            with engine.begin() as connection:
                connection.execute(PREDICTIONS.insert(), batch)
        except Exception as exc:  # the database refused or is down: keep the rows, try again
            self.error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("prediction log: %d rows not written yet: %s", len(batch), self.error)
            return False
        self.error = None
        self.written += len(batch)
        return True

    def _finished(self, n: int) -> None:
        with self._idle:
            self._done += n
            self._idle.notify_all()
