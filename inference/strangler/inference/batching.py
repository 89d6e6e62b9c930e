"""Dynamic batching: concurrent requests to one model version coalesced into one run.

Requests queue on the event loop; whenever one of the version's ``instances``
is free, it takes the queued requests (up to ``max_batch`` rows; a request
larger than that runs alone), and a worker thread stacks their inputs, runs the
session once, splits the outputs back by rows and hands each request its part.
The event loop only queues and wakes: stacking, the run and the split happen
off it.

An idle model runs a lone request at once: waiting could only add latency when
nothing else is coming. Under concurrent load (the previous run held several
requests) a batch may wait up to ``max_delay_ms`` after its oldest request
arrived for as many rows as the previous run held; that keeps batches large
while clients are between two requests. A model that is not batchable (or with
batching disabled) runs one request per run, ``instances`` at a time.

When a batch fails to run and held several requests, each is run again alone,
so only the request that caused the failure gets the error.

A version whose runs are shorter than handing them to a thread and back costs
(:data:`INLINE_S`, from the run times measured so far, scaled up when a batch
holds more rows than usual) runs on the event loop instead: for a model that
answers in microseconds, the thread hop would be most of the work. Requests
that arrive in the same turn of the loop still share one run. A version starts
in threads, and goes back to them as soon as its runs grow longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any

import numpy as np
import numpy.typing as npt

from strangler.errors import ModelError, ModelOverloaded
from strangler.inference.metrics import VersionMetrics
from strangler.spec.inference import BatchingSpec

__all__ = ["INLINE_S", "Batcher", "Outputs"]

log = logging.getLogger("strangler.inference")

Array = npt.NDArray[Any]
Outputs = dict[str, Array]
Run = Callable[[Sequence[str], Mapping[str, Array]], Sequence[Array]]

INLINE_S = 100e-6
"""A run expected to take less than this runs on the event loop (about what
handing it to a worker thread and waking the loop again costs)."""


class _Request:
    __slots__ = ("future", "inputs", "queued", "rows")

    def __init__(
        self, inputs: Mapping[str, Array], rows: int, future: asyncio.Future[Outputs]
    ) -> None:
        self.inputs = inputs
        self.rows = rows
        self.future = future
        self.queued = perf_counter()


class Batcher:
    """Queues requests to one model version and runs them, batched when it can."""

    def __init__(
        self,
        run: Run,
        inputs: Sequence[str],
        outputs: Sequence[str],
        *,
        model: str,
        version: str,
        batchable: bool,
        settings: BatchingSpec,
        instances: int,
        metrics: VersionMetrics,
    ) -> None:
        self._run = run
        self._inputs = tuple(inputs)
        self._outputs = list(outputs)
        self.model, self.version = model, version
        self.max_rows = settings.max_batch if batchable and settings.enabled else 0
        self._delay = settings.max_delay_ms / 1000.0
        self._max_queue = settings.max_queue
        self._instances = instances
        self._free = instances
        self._metrics = metrics
        self._queue: deque[_Request] = deque()
        self._queued_rows = 0
        self._last_batch = 1
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self._drained: asyncio.Event | None = None
        self._run_s: float | None = None  # a run's seconds and rows, as measured (averages)
        self._run_rows = 1.0
        self._soon = False

    @property
    def batching(self) -> bool:
        """Whether requests are coalesced (the model is batchable and batching is on)."""
        return self.max_rows > 0

    @property
    def idle(self) -> bool:
        return not self._queue and self._free == self._instances

    async def infer(self, inputs: Mapping[str, Array], rows: int) -> Outputs:
        """Run ``inputs`` (already checked against the signature) in the next batch."""
        if len(self._queue) >= self._max_queue:
            self._metrics.overloaded.inc()
            raise ModelOverloaded(
                f"{len(self._queue)} requests already wait for model {self.model!r}",
                model=self.model,
                version=self.version,
            )
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[Outputs] = loop.create_future()
        self._queue.append(_Request(inputs, rows, future))
        self._queued_rows += rows
        if self._free:
            if self._inline(self._queued_rows):
                if not self._soon:  # at the end of this turn: with whatever else arrived
                    self._soon = True
                    loop.call_soon(self._dispatch)
            else:
                self._dispatch()
        return await future

    def _dispatch(self) -> None:
        """Start runs while an instance is free and requests wait (on the event loop)."""
        self._soon = False
        queue = self._queue
        while self._free and queue:
            if self.max_rows and self._delay and self._last_batch > 1 and not self._inline(1):
                wanted = min(self._last_batch, self.max_rows)
                due = queue[0].queued + self._delay
                if self._queued_rows < wanted and perf_counter() < due:
                    if self._timer is None:
                        assert self._loop is not None
                        self._timer = self._loop.call_later(due - perf_counter(), self._timer_fired)
                    return
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            batch = [queue.popleft()]
            rows = batch[0].rows
            if self.max_rows:
                while queue and rows + queue[0].rows <= self.max_rows:
                    request = queue.popleft()
                    rows += request.rows
                    batch.append(request)
            self._queued_rows -= rows
            self._free -= 1
            if self._inline(rows):
                self._settle(batch, self._timed(batch))
                continue
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self._instances, thread_name_prefix=f"model-{self.model}"
                )
            self._executor.submit(self._work, batch)
        if self._closing and self.idle:
            self._stop()

    def _inline(self, rows: int) -> bool:
        """Whether a run of ``rows`` is expected to be quicker than a thread hop."""
        run_s = self._run_s  # scaled up for more rows than usual, never down
        return run_s is not None and run_s * max(1.0, rows / self._run_rows) < INLINE_S

    def _timer_fired(self) -> None:
        self._timer = None
        self._dispatch()

    # -- in a worker thread ------------------------------------------------

    def _work(self, batch: list[_Request]) -> None:
        results = self._timed(batch)
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._finish, batch, results)

    def _timed(self, batch: list[_Request]) -> list[Outputs | BaseException]:
        """Run a batch (in a worker thread, or inline), and record how long it waited and ran."""
        started = perf_counter()
        metrics = self._metrics
        for request in batch:
            metrics.queue.observe(started - request.queued)
        metrics.batch.observe(len(batch))
        results = self._results(batch)
        took = perf_counter() - started
        metrics.run.observe(took)
        rows = sum(r.rows for r in batch)
        known = self._run_s
        if known is None:
            self._run_s, self._run_rows = took, float(rows)
        else:
            self._run_s = 0.8 * known + 0.2 * took
            self._run_rows = 0.8 * self._run_rows + 0.2 * rows
        return results

    def _results(self, batch: list[_Request]) -> list[Outputs | BaseException]:
        try:
            if len(batch) == 1:
                return [self._run_one(batch[0].inputs)]
            return self._split(batch, self._run_stacked(batch))
        except Exception as exc:
            if len(batch) == 1:
                return [self._failure(exc)]
            log.info("a batch of %d for %s failed; running each alone", len(batch), self.model)
            results: list[Outputs | BaseException] = []
            for request in batch:
                try:
                    results.append(self._run_one(request.inputs))
                except Exception as alone:
                    results.append(self._failure(alone))
            return results

    def _run_one(self, inputs: Mapping[str, Array]) -> Outputs:
        return dict(zip(self._outputs, self._run(self._outputs, inputs), strict=True))

    def _run_stacked(self, batch: list[_Request]) -> Sequence[Array]:
        feed = {name: np.concatenate([r.inputs[name] for r in batch]) for name in self._inputs}
        return self._run(self._outputs, feed)

    def _split(
        self, batch: list[_Request], outputs: Sequence[Array]
    ) -> list[Outputs | BaseException]:
        total = sum(r.rows for r in batch)
        for name, value in zip(self._outputs, outputs, strict=True):
            if value.ndim == 0 or value.shape[0] != total:
                raise ModelError(
                    f"output {name!r} has shape {list(value.shape)} for {total} rows in",
                    model=self.model,
                    version=self.version,
                )
        results: list[Outputs | BaseException] = []
        start = 0
        for request in batch:
            end = start + request.rows
            results.append(
                {name: value[start:end] for name, value in zip(self._outputs, outputs, strict=True)}
            )
            start = end
        return results

    def _failure(self, exc: Exception) -> BaseException:
        self._metrics.failed.inc()
        if isinstance(exc, ModelError):
            return exc
        error = ModelError(
            f"model {self.model!r} version {self.version} failed to run: {exc}",
            model=self.model,
            version=self.version,
        )
        error.__cause__ = exc
        return error

    # -- back on the event loop ---------------------------------------------

    def _finish(self, batch: list[_Request], results: list[Outputs | BaseException]) -> None:
        self._settle(batch, results)
        self._dispatch()

    def _settle(self, batch: list[_Request], results: list[Outputs | BaseException]) -> None:
        self._free += 1
        self._last_batch = sum(r.rows for r in batch)
        for request, result in zip(batch, results, strict=True):
            future = request.future
            if future.done():  # the caller went away
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _stop(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)
        if self._drained is not None:
            self._drained.set()

    def retire(self) -> None:
        """Stop the worker threads once the requests already queued are answered (a
        version swapped out). A request that still comes is answered all the same."""
        self._closing = True
        if self.idle:
            self._stop()

    async def close(self) -> None:
        """Answer what is queued, then stop the worker threads."""
        self._closing = True
        if not self.idle:
            self._drained = asyncio.Event()
            await self._drained.wait()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True)
