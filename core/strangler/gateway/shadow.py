"""Shadow calls: the other side asked after the answer, compared, disagreements kept.

The request path answers from its side, then hands the rest to
:meth:`ShadowRunner.submit`, which returns at once: the job waits in a bounded
queue for one of the runner's background tasks, which calls the other side
(within the route's ``timeout_s``), compares the two answers with the
protocol-aware diff and records a disagreement when they differ on paths that
are neither ignored by the spec nor known to be noise.

Nothing here slows an answer or touches a user call; what cannot be done
cheaply is dropped and counted in ``strangler_gateway_shadow_shed_total`` by
reason:

``queue_full``  the queue of jobs waiting for a task is full;
``busy``        the route already has ``max_inflight`` shadow jobs queued or running
                (a slow other side fills this first);
``slow``        the other side did not answer within ``timeout_s`` (the call is abandoned);
``unsafe``      the other side is a legacy operation with side effects: calling it for
                a request the modern side already served would do them twice;
``closed``      the runner is closing.

A legacy operation is never called twice for one request unless it is safe
(``Operation.safe``): the noise estimate (:mod:`strangler.gateway.noise`) asks
the legacy side again only then. Finished shadow calls are counted in
``strangler_gateway_shadow_calls_total`` by outcome (``agreed``, ``disagreed``,
``failed`` when the other side raised, ``unreadable`` when an answer cannot be
compared). Given a :class:`Comparisons` recorder (the canary's samples), each
agreed or disagreed call is also told to it with the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from prometheus_client import Counter

from strangler.errors import SpecError, SpecProblem
from strangler.gateway.diff import Difference, diff
from strangler.gateway.disagreements import Disagreement, DisagreementStore, count_disagreement
from strangler.gateway.noise import NoiseEstimate
from strangler.gateway.paths import PathPatterns
from strangler.platform.operations import Operation
from strangler.spec.gateway import ShadowSpec

__all__ = [
    "SHADOW_CALLS",
    "SHADOW_SHED",
    "Comparisons",
    "Recorder",
    "ShadowRoute",
    "ShadowRunner",
    "Side",
]

log = logging.getLogger("strangler.gateway.shadow")

Side = Literal["legacy", "modern"]
Call = Callable[[], Awaitable[Any]]

SHADOW_CALLS = Counter(
    "strangler_gateway_shadow_calls",
    "Shadow calls finished, by route and outcome (agreed, disagreed, failed, unreadable).",
    ["route", "outcome"],
)
SHADOW_SHED = Counter(
    "strangler_gateway_shadow_shed",
    "Shadow calls dropped, by route and reason (queue_full, busy, slow, unsafe, closed).",
    ["route", "reason"],
)


class Recorder(Protocol):
    """Where disagreements go (:class:`~strangler.gateway.disagreements.DisagreementStore`)."""

    async def record(self, disagreement: Disagreement) -> None: ...

    async def close(self) -> None: ...


class Comparisons(Protocol):
    """Where each finished comparison is counted (the canary's sample recorder)."""

    def compared(self, route: str, payload: Any, agreed: bool) -> None: ...


@dataclass
class ShadowRoute:
    """What the runner needs of one route: its shadow settings and its legacy side's safety.

    ``legacy_safe`` is the legacy operation's ``Operation.safe``: without it the
    legacy side is never asked twice (no noise estimate) and never asked as the
    shadow of a modern answer.
    """

    name: str
    spec: ShadowSpec = field(default_factory=ShadowSpec)
    legacy_safe: bool = False
    rng: random.Random | None = None
    noise: NoiseEstimate = field(init=False)
    ignore: PathPatterns = field(init=False)
    inflight: int = field(default=0, init=False)
    counts: Tally[str] = field(default_factory=Tally, init=False)

    @classmethod
    def for_operation(
        cls, name: str, spec: ShadowSpec, operation: Operation[Any], **options: Any
    ) -> ShadowRoute:
        """The route whose legacy side is ``operation`` (its ``safe`` flag decides)."""
        return cls(name, spec, legacy_safe=operation.safe, **options)

    def __post_init__(self) -> None:
        self.noise = NoiseEstimate(self.spec.noise_sample, rng=self.rng)
        try:
            self.ignore = PathPatterns(self.spec.ignore)
        except ValueError as exc:
            where = f"routes.items.{self.name}.shadow.ignore"
            raise SpecError([SpecProblem("<spec>", None, where, str(exc))]) from None
        self._rng = self.rng or random.Random()

    def sampled(self) -> bool:
        return self.spec.sample >= 1.0 or self._rng.random() < self.spec.sample


@dataclass(frozen=True)
class _Job:
    route: ShadowRoute
    request: Any
    primary_side: Side
    primary_answer: Any
    call_other: Call
    call_legacy: Call | None


class ShadowRunner:
    """Runs shadow jobs in background tasks of the running event loop.

    ``routes``: the shadowed routes by name (a route not there is not
    shadowed: :meth:`submit` returns ``False``). ``recorder``: where
    disagreements go (none: only counted); ``comparisons``: where each
    comparison is counted besides. ``queue_size`` bounds the jobs
    waiting, ``tasks`` how many run at once over all routes. The tasks start on
    the first :meth:`submit` (or :meth:`start`) inside a running loop;
    :meth:`close` stops them.
    """

    def __init__(
        self,
        routes: Mapping[str, ShadowRoute] | None = None,
        recorder: Recorder | None = None,
        *,
        comparisons: Comparisons | None = None,
        queue_size: int = 1024,
        tasks: int = 64,
    ) -> None:
        self.routes: dict[str, ShadowRoute] = dict(routes or {})
        self.recorder = recorder
        self.comparisons = comparisons
        if isinstance(recorder, DisagreementStore):
            recorder.noise = self.noise_paths
        self._queue_size = queue_size
        self._task_count = tasks
        self._queue: asyncio.Queue[_Job] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    def add_route(self, route: ShadowRoute) -> None:
        """Shadow one more route (or replace its settings)."""
        self.routes[route.name] = route

    def noise_paths(self, route_name: str) -> tuple[str, ...]:
        """The paths of a route found to vary between two legacy answers (not counted)."""
        route = self.routes.get(route_name)
        return route.noise.paths if route is not None else ()

    async def start(self) -> None:
        """Start the background tasks (also done by the first :meth:`submit`)."""
        self._ensure_started()

    def submit(
        self,
        route_name: str,
        request_payload: Any,
        primary_side: Side,
        primary_answer: Any,
        call_other: Call,
        *,
        call_legacy: Call | None = None,
    ) -> bool:
        """Queue the shadow work for one answered request; never waits.

        ``request_payload`` is the public request (kept with a disagreement),
        ``primary_answer`` the public answer the client got from
        ``primary_side``, ``call_other()`` asks the other side and returns its
        answer mapped to the public shape. ``call_legacy()``, when the legacy side
        answered, asks it again for the noise estimate (used only if the route's
        legacy operation is safe). ``False``: not shadowed (not a shadowed
        route, not sampled, or shed and counted).
        """
        route = self.routes.get(route_name)
        if route is None or not route.sampled():
            return False
        if self._closed:
            return self._shed(route, "closed")
        if primary_side == "modern" and not route.legacy_safe:
            return self._shed(route, "unsafe")
        if route.inflight >= route.spec.max_inflight:
            return self._shed(route, "busy")
        queue = self._ensure_started()
        job = _Job(route, request_payload, primary_side, primary_answer, call_other, call_legacy)
        try:
            queue.put_nowait(job)
        except asyncio.QueueFull:
            return self._shed(route, "queue_full")
        route.inflight += 1
        return True

    async def drain(self) -> None:
        """Wait until every queued job has finished (tests and shutdown)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Stop taking jobs, drop the queued ones (counted as ``closed``), stop the tasks."""
        self._closed = True
        if self._queue is not None:
            while not self._queue.empty():
                job = self._queue.get_nowait()
                job.route.inflight -= 1
                self._shed(job.route, "closed")
                self._queue.task_done()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.recorder is not None:
            await self.recorder.close()

    def _ensure_started(self) -> asyncio.Queue[_Job]:
        if self._queue is None:
            self._queue = asyncio.Queue(self._queue_size)
            self._tasks = [
                asyncio.get_running_loop().create_task(self._work(), name=f"shadow-{i}")
                for i in range(self._task_count)
            ]
        return self._queue

    def _shed(self, route: ShadowRoute, reason: str) -> bool:
        route.counts["shed_" + reason] += 1
        SHADOW_SHED.labels(route.name, reason).inc()
        return False

    def _outcome(self, route: ShadowRoute, outcome: str) -> None:
        route.counts[outcome] += 1
        SHADOW_CALLS.labels(route.name, outcome).inc()

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            try:
                await self._run(job)
            except Exception:  # a job's failure must not end the task
                log.exception("shadow job of route %s failed", job.route.name)
            finally:
                job.route.inflight -= 1
                self._queue.task_done()

    async def _run(self, job: _Job) -> None:
        route = job.route
        timeout = route.spec.timeout_s
        try:
            async with asyncio.timeout(timeout):
                other = await job.call_other()
        except TimeoutError:
            self._shed(route, "slow")
            return
        except Exception as exc:
            other = {"error": type(exc).__name__, "message": str(exc)}
            await self._keep(job, other, [Difference("/", None, other)])
            self._outcome(route, "failed")  # counted once kept: a count means it is there
            return
        if job.primary_side == "legacy":
            legacy, modern, again = job.primary_answer, other, job.call_legacy
        else:
            legacy, modern, again = other, job.primary_answer, job.call_other
        if again is not None and route.legacy_safe and route.noise.due():
            await self._estimate_noise(route, legacy, again)
        try:
            differences = diff(legacy, modern, ignore=route.ignore, tolerance=route.spec.tolerance)
        except ValueError as exc:
            self._outcome(route, "unreadable")
            log.warning("shadow answers of route %s cannot be compared: %s", route.name, exc)
            return
        kept = [d for d in differences if not route.noise.covers(d.path)]
        if self.comparisons is not None:
            self.comparisons.compared(route.name, job.request, not kept)
        if not kept:
            self._outcome(route, "agreed")
            return
        await self._keep(job, other, kept)
        self._outcome(route, "disagreed")

    async def _estimate_noise(self, route: ShadowRoute, legacy: Any, again: Call) -> None:
        try:
            async with asyncio.timeout(route.spec.timeout_s):
                second = await again()
            learnt = route.noise.learn(diff(legacy, second, tolerance=route.spec.tolerance))
        except (TimeoutError, ValueError) as exc:
            log.info("noise estimate of route %s skipped: %s", route.name, exc)
            return
        if learnt:
            log.info("route %s: paths that vary between legacy answers: %s", route.name, learnt)

    async def _keep(self, job: _Job, other: Any, differences: list[Difference]) -> None:
        legacy, modern = (
            (job.primary_answer, other)
            if job.primary_side == "legacy"
            else (other, job.primary_answer)
        )
        disagreement = Disagreement.of(
            job.route.name, job.request, legacy, modern, differences, answered_by=job.primary_side
        )
        count_disagreement(job.route.name, [d.path for d in differences])
        if self.recorder is not None:
            try:
                await self.recorder.record(disagreement)
            except Exception:  # the store's failure loses this one row, never the task
                log.exception("a disagreement of route %s could not be kept", job.route.name)
