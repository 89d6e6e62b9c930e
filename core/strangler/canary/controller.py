"""The canary controller: every replica measures, one acts per route, the database remembers.

:class:`Controller` is a component the gateway builds when a route has a
``rollout:``. On every replica it

* flushes the :class:`~strangler.canary.samples.SampleRecorder`'s counts to
  the samples table every ``flush_s`` (so every replica's traffic is measured),
  for the rollouts running or paused (a promoted or rolled back one is done);
* every ``interval_s`` per route takes or renews the route's lease
  (:meth:`~strangler.canary.store.RolloutStore.lease`); only the holder goes on:
  it keeps the route's live state on its step, measures the step's window with
  the route's :class:`~strangler.canary.model.MetricsSource`, keeps the
  :class:`~strangler.canary.analysis.Analysis`, and on ``fail`` rolls back, on
  ``pass`` promotes (when the rollout is ``auto``).

A change is written with its audit row only if the rollout row is still the
one it was decided on (its ``version``), then put into the live state
(:meth:`~strangler.gateway.state.LiveState.put`: every replica's gateway
follows within its ``refresh_s``) and handed to each
:class:`~strangler.canary.model.DataPlane`; every replica also hands its live
state to its own data planes at each tick (each host's nginx follows). A
restarted controller, or another replica once the lease runs out, carries on
from the stored step and its clock. The admin API (:mod:`strangler.canary.admin`)
calls :meth:`act` on any replica: pause, resume, promote and rollback are the
same guarded changes.

A step's state: ``shadow`` is mode ``shadow``; a share below 1 is mode
``canary`` with that weight; ``1.0`` is mode ``modern``. Promoting the last
step finishes the rollout (``promoted``: mode ``modern``); a rollback sends
everything to ``legacy`` (``rolled_back``); ``resume`` after a rollback starts
again from the first step. While a rollout runs, the controller keeps the
route's mode and weight on the step; a value set by hand after its last change
pauses the rollout instead (the hand-set split stays until ``resume``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from strangler.canary.analysis import Analysis, analyse, step_label, step_weight
from strangler.canary.metrics import ANALYSES, PROMOTIONS, ROLLBACKS, STATUS, STEP, WEIGHT
from strangler.canary.samples import SampleRecorder, SampleStore
from strangler.canary.store import STATUSES, Rollout, RolloutStore, Status
from strangler.errors import Conflict, NotFound
from strangler.platform.component import Health

if TYPE_CHECKING:
    import sqlalchemy as sa

    from strangler.canary.model import DataPlane, MetricsSource
    from strangler.gateway.state import LiveState, RouteState
    from strangler.spec.gateway import Mode, RolloutSpec, RoutesSpec

__all__ = ["ACTIONS", "Action", "Controller"]

log = logging.getLogger("strangler.canary")

Action = Literal["pause", "resume", "promote", "rollback"]
ACTIONS: tuple[Action, ...] = ("pause", "resume", "promote", "rollback")
SAMPLES_KEPT_S = 3600.0
"""Samples are kept this long beyond the longest analysis window."""


@runtime_checkable
class Closing(Protocol):
    """A source that holds something open until closed."""

    async def close(self) -> None: ...


class Controller:
    """The ``canary`` component (see the module)."""

    kind = "canary"

    def __init__(
        self,
        spec: RoutesSpec,
        live: LiveState,
        engine: sa.Engine,
        recorder: SampleRecorder,
        sources: Mapping[str, MetricsSource],
        planes: Sequence[DataPlane] = (),
        *,
        holder: str | None = None,
        flush_s: float = 1.0,
    ) -> None:
        self.rollouts: dict[str, RolloutSpec] = {
            name: route.rollout for name, route in spec.items.items() if route.rollout is not None
        }
        self.paths = {name: spec.items[name].path for name in self.rollouts}
        self.live = live
        self.recorder = recorder
        self.sources = dict(sources)
        self.planes = list(planes)
        self.store = RolloutStore(engine)
        self.samples = SampleStore(engine)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.flush_s = flush_s
        self.rows: dict[str, Rollout] = {}
        self.error: str | None = None
        self._held: set[str] = set()
        self._due: dict[str, float] = {}
        self._pruned: float | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._plane_errors: dict[str, str] = {}
        self._changing = asyncio.Lock()  # a status read here never sees half a change

    @property
    def name(self) -> str:
        return "canary"

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.samples.create)
        await asyncio.to_thread(self.store.create)
        for route, rollout in self.rollouts.items():
            label = step_label(rollout.steps[0])
            await asyncio.to_thread(
                self.store.ensure, route, label, self.holder, "the rollout begins"
            )
        await self._read()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._flush_loop(), name="canary-samples"),
            loop.create_task(self._control_loop(), name="canary-controller"),
        ]

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.flush()
        for route in list(self._held):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.store.release, route, self.holder)
        self._held.clear()
        for plane in self.planes:
            with contextlib.suppress(Exception):
                await plane.close()
        sources = {id(source): source for source in self.sources.values()}
        for source in sources.values():
            if isinstance(source, Closing):  # one that holds something open (a log file)
                with contextlib.suppress(Exception):
                    await source.close()

    async def health(self) -> Health:
        detail: dict[str, Any] = {
            "kind": self.kind,
            "holder": self.holder,
            "routes": {
                name: {
                    "status": row.status,
                    "step": row.step,
                    "acting": name in self._held,
                }
                for name, row in self.rows.items()
            },
        }
        if self._plane_errors:
            detail["data_planes"] = dict(self._plane_errors)
        if self.error is not None:
            return Health("degraded", {**detail, "error": self.error})
        return Health("ok", detail)

    # -- samples ----------------------------------------------------------------

    async def flush(self) -> None:
        """Write the recorder's counts to the samples table now."""
        rows = self.recorder.take()
        if rows:
            await asyncio.to_thread(self.samples.write, self.holder, rows)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            try:
                await self.flush()
            except Exception as exc:  # lost counts are a gap in the charts, never a crash
                log.warning("canary samples not written: %s", _first_line(exc))

    # -- the control loop -----------------------------------------------------------

    async def _control_loop(self) -> None:
        pause = min([r.interval_s for r in self.rollouts.values()] + [1.0])
        while True:
            try:
                await self.tick()
                self.error = None
            except Exception as exc:  # the database away: try again on the next tick
                self.error = f"{type(exc).__name__}: {_first_line(exc)}"
                log.warning("canary controller tick failed: %s", self.error)
            await asyncio.sleep(pause)

    async def tick(self) -> None:
        """Read every rollout; for each route due, act on it if this replica holds its lease.

        Every replica (the lease holder or not) also hands its live state to its
        data planes, so each host's nginx follows the state database (nothing
        happens where the state is the one already applied).
        """
        await self._read()
        if self.planes:
            await self._apply(self.live.routes)
        now = time.monotonic()
        for route, rollout in self.rollouts.items():
            if self._due.get(route, 0.0) <= now:
                self._due[route] = now + rollout.interval_s
                await self._control(route, rollout)
        if self._pruned is None or now - self._pruned > 300:
            self._pruned = now
            longest = max(r.window_s for r in self.rollouts.values())
            cutoff = _now() - dt.timedelta(seconds=longest + SAMPLES_KEPT_S)
            await asyncio.to_thread(self.samples.prune, cutoff)

    async def _read(self) -> None:
        rows = await asyncio.to_thread(self.store.all)
        self.rows = {name: rows[name] for name in self.rollouts if name in rows}
        for name, row in self.rows.items():
            self._gauges(name, row)
        self.recorder.routes = frozenset(  # a finished rollout needs no more samples
            name for name, row in self.rows.items() if row.status in ("running", "paused")
        )

    async def _control(self, route: str, rollout: RolloutSpec) -> None:
        row = self.rows.get(route)
        if row is None:
            return
        if row.status != "running":
            if route in self._held:
                self._held.discard(route)
                await asyncio.to_thread(self.store.release, route, self.holder)
            return
        ttl = max(3 * rollout.interval_s, 2.0)
        if not await asyncio.to_thread(self.store.lease, route, self.holder, ttl):
            self._held.discard(route)
            return
        first = route not in self._held  # newly acting: make sure the data planes carry the step
        if first:
            self._held.add(route)
            log.info("canary: %s acts on route %s (step %d)", self.holder, route, row.step)
        if not await self._follows(route, row, first):
            return
        analysis = await self.analyse(route, row)
        await asyncio.to_thread(self.store.add_analysis, route, analysis)
        ANALYSES.labels(route, analysis.verdict).inc()
        figures = analysis.as_json()
        if analysis.verdict == "fail":
            reason = "; ".join(analysis.reasons)
            await self._change(row, "rollback", reason, self.holder, figures)
        elif analysis.verdict == "pass" and rollout.auto:
            reason = f"step {step_label(rollout.steps[row.step])} passed its analysis"
            await self._change(row, "promote", reason, self.holder, figures)

    async def analyse(self, route: str, row: Rollout) -> Analysis:
        """The analysis of ``route``'s current step over its window, now."""
        rollout = self.rollouts[route]
        now = _now()
        since = max(row.step_started_at, now - dt.timedelta(seconds=rollout.window_s))
        on_step_s = (now - row.step_started_at).total_seconds()
        source = self.sources[route]
        try:
            measured = await source.measure(route, since, now)
        except Exception as exc:  # no measurement: no verdict either way
            current = rollout.steps[row.step]
            return Analysis(
                now, row.step, step_weight(current), 0, None, None, None, "wait",
                (f"no measurement: {type(exc).__name__}: {_first_line(exc)}",),
            )  # fmt: skip
        return analyse(rollout, row.step, measured, on_step_s, now)

    # -- changes --------------------------------------------------------------------

    async def act(
        self, route: str, action: Action, *, reason: str | None = None, actor: str = "admin-api"
    ) -> dict[str, Any]:
        """Pause, resume, promote or roll back ``route`` now; its new status.

        ``NotFound`` for a route without a rollout, ``Conflict`` for an action
        its present status does not allow.
        """
        self._rollout(route)
        for _ in range(5):
            row = await asyncio.to_thread(self.store.get, route)
            changed = await self._change(row, action, reason or f"{action} asked", actor, {})
            if changed is not None:
                return await self.status(route)
        raise Conflict(f"the rollout of route {route!r} keeps changing; ask again")

    async def _change(
        self, row: Rollout, action: Action, reason: str, actor: str, figures: dict[str, Any]
    ) -> Rollout | None:
        """Make ``action`` on ``row``; ``None`` when the row moved on meanwhile."""
        route = row.route
        steps = self.rollouts[route].steps
        last = len(steps) - 1
        label = step_label(steps[min(row.step, last)])
        step, status, new_step = row.step, row.status, False
        if action == "pause":
            if row.status != "running":
                raise Conflict(f"the rollout of route {route!r} is {row.status}, not running")
            status, before, after = "paused", "running", "paused"
        elif action == "resume":
            if row.status == "paused":
                status, new_step, before, after = "running", True, "paused", "running"
            elif row.status == "rolled_back":
                step, status, new_step = 0, "running", True
                before, after = "rolled_back", step_label(steps[0])
            else:
                raise Conflict(f"the rollout of route {route!r} is {row.status}: nothing to resume")
        elif action == "promote":
            if row.status not in ("running", "paused"):
                raise Conflict(
                    f"the rollout of route {route!r} is {row.status}: nothing to promote"
                )
            new_step, before = True, label
            if row.step >= last:
                status, after = "promoted", "promoted"
            else:
                step, after = row.step + 1, step_label(steps[row.step + 1])
        else:
            if row.status == "rolled_back":
                raise Conflict(f"the rollout of route {route!r} is already rolled back")
            before = "promoted" if row.status == "promoted" else label
            status, after = "rolled_back", "legacy"
        async with self._changing:
            return await self._write(
                row, action, step, status, new_step, (before, after), reason, actor, figures
            )

    async def _write(
        self,
        row: Rollout,
        action: Action,
        step: int,
        status: Status,
        new_step: bool,
        states: tuple[str, str],
        reason: str,
        actor: str,
        figures: dict[str, Any],
    ) -> Rollout | None:
        """Write one change decided in :meth:`_change`, then make the split follow it."""
        route, (before, after) = row.route, states
        changed = await asyncio.to_thread(
            self.store.change, row, step=step, status=status, action=action,
            from_state=before, to_state=after, reason=reason, actor=actor,
            figures=figures, new_step=new_step,
        )  # fmt: skip
        if changed is None:
            return None
        log.info("canary: route %s %s: %s -> %s (%s, by %s)", route, action, before, after,
                 reason, actor)  # fmt: skip
        if action == "promote":
            PROMOTIONS.labels(route).inc()
        elif action == "rollback":
            ROLLBACKS.labels(route).inc()
        self.rows[route] = changed
        self._gauges(route, changed)
        if action != "pause":  # a pause leaves the split as it is
            await self._keep_state(route, changed, planes=True)
        return changed

    def wanted(self, route: str, row: Rollout) -> tuple[Mode, float]:
        """The mode and weight ``row`` puts the route in."""
        if row.status == "promoted":
            return "modern", 1.0
        if row.status == "rolled_back":
            return "legacy", 0.0
        steps = self.rollouts[route].steps
        step = steps[min(row.step, len(steps) - 1)]
        if step == "shadow":
            return "shadow", 0.0
        weight = float(step)
        return ("modern", 1.0) if weight >= 1.0 else ("canary", weight)

    async def _follows(self, route: str, row: Rollout, first: bool) -> bool:
        """Whether the route still follows the rollout (its state put back if it drifted).

        A state changed (not the spec's seed) after the rollout's last change and
        not the step's was set by hand (``PUT /admin/routes/{route}``): the rollout is paused, and
        the hand-set state stays until someone resumes it. A state older than
        the last change is one that change did not get to write: it is put now.
        """
        mode, weight = self.wanted(route, row)
        current = self.live.routes.get(route)
        if (
            current is not None
            and (current.mode, current.weight) != (mode, weight)
            and current.version > 1  # not the spec's seed
            and current.updated_at is not None
            and _utc(current.updated_at) > row.updated_at
        ):
            reason = (
                f"the route was set to mode {current.mode}, modern {current.weight:g} by hand; "
                "the rollout waits until resumed"
            )
            figures = {"mode": current.mode, "weight": current.weight}
            await self._change(row, "pause", reason, self.holder, figures)
            return False
        await self._keep_state(route, row, planes=first)
        return True

    async def _keep_state(self, route: str, row: Rollout, *, planes: bool) -> None:
        """Put the route's live state where ``row`` says; tell the data planes if asked or moved."""
        mode, weight = self.wanted(route, row)
        current = self.live.routes.get(route)
        moved = current is None or current.mode != mode or current.weight != weight
        if moved:
            await self.live.put(route, mode, weight)
        if moved or planes:
            await self._apply(self.live.routes)

    async def _apply(self, states: Mapping[str, RouteState]) -> None:
        for plane in self.planes:
            try:
                await plane.apply(states)
            except Exception as exc:  # the database holds the step; the next tick retries
                said = _first_line(exc)
                if self._plane_errors.get(plane.name) != said:  # said once, not every tick
                    log.error("canary: data plane %s not updated: %s", plane.name, said)
                self._plane_errors[plane.name] = said
            else:
                self._plane_errors.pop(plane.name, None)

    # -- reading ----------------------------------------------------------------------

    def _rollout(self, route: str) -> RolloutSpec:
        rollout = self.rollouts.get(route)
        if rollout is None:
            known = ", ".join(sorted(self.rollouts)) or "none"
            raise NotFound(f"route {route!r} has no rollout (routes with one: {known})")
        return rollout

    async def status(self, route: str) -> dict[str, Any]:
        """The route's rollout as the admin API shows it (read from the database)."""
        rollout = self._rollout(route)
        async with self._changing:
            row = await asyncio.to_thread(self.store.get, route)
            state = self.live.routes.get(route)
        last = await asyncio.to_thread(self.store.last_analysis, route)
        mode, weight = (state.mode, state.weight) if state else self.wanted(route, row)
        return {
            "route": route,
            "path": self.paths[route],
            "status": row.status,
            "step": row.step,
            "steps": list(rollout.steps),
            "labels": [step_label(s) for s in rollout.steps],
            "mode": mode,
            "weight": weight,
            "step_started_at": row.step_started_at.isoformat(),
            "reason": row.reason,
            "version": row.version,
            "auto": rollout.auto,
            "bake_s": rollout.bake_s,
            "min_samples": rollout.min_samples,
            "window_s": rollout.window_s,
            "interval_s": rollout.interval_s,
            "thresholds": rollout.thresholds.model_dump(),
            "fairness": rollout.fairness.model_dump() if rollout.fairness else None,
            "last": last,
            "holder": row.holder if row.lease_until and row.lease_until > _now() else None,
        }

    async def statuses(self) -> list[dict[str, Any]]:
        return [await self.status(route) for route in sorted(self.rollouts)]

    async def analyses(
        self, route: str, since: dt.datetime | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        self._rollout(route)
        return await asyncio.to_thread(self.store.analyses, route, since, limit)

    async def audit(self, route: str, limit: int = 100) -> list[dict[str, Any]]:
        self._rollout(route)
        return await asyncio.to_thread(self.store.audit, route, limit)

    def _gauges(self, route: str, row: Rollout) -> None:
        _, weight = self.wanted(route, row)
        STEP.labels(route).set(row.step)
        WEIGHT.labels(route).set(weight)
        for status in STATUSES:
            STATUS.labels(route, status).set(1 if status == row.status else 0)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite gives the stored UTC time back without its zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
