"""Measurements from nginx's access log, when nginx carries a route's traffic.

:class:`~strangler.canary.nginx.NginxPlane` has nginx log each route request
as one JSON object a line into ``DIR/logs/strangler-access.log``::

    {"ts":1733329200.123,"route":"quote","side":"modern","status":200,
     "request_time":0.004,"upstream_time":"0.004"}

:class:`AccessLogSource` reads the new lines at each analysis, from the offset
it reached. A log renamed away and reopened by nginx (``nginx -s reopen``) is
read on for :data:`GRACE_S` seconds while the new one under its name is
followed; a log truncated in place is read from its start. The modern side's
answers of the last :attr:`AccessLogSource.keep_s` seconds are kept in memory,
and a measurement counts those of its window: ``requests``; ``errors``, the
answers of status 500 or more (nginx's own 502 and 504 when the side cannot be
reached included; nginx cannot tell a 4xx problem of the side from the
caller's mistake, so 4xx are not errors); and the exact p99 of
``request_time`` (nginx's resolution: a millisecond).

Limits. nginx compares nothing, so comparisons (the shadow step, where nginx
sends everything to the legacy side) come from ``comparisons``, the source of
the strangler gateway that does compare, when given; else there are none.
A fairness segment is read from the request body, which nginx logs only for
routes with a fairness gate and only up to 64 KiB (``client_body_buffer_size``):
a larger body, or one that is not JSON, counts under segment ``none``; at most
:data:`~strangler.canary.samples.MAX_SEGMENTS` distinct segments are kept per
route (more count as ``other``). The log then holds those request bodies: keep
``DIR`` as private as the requests. A log larger than :data:`START_LIMIT` when
first opened is read from its last :data:`START_LIMIT` bytes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from strangler.canary.model import Measurement, MetricsSource, SegmentCounts
from strangler.canary.nginx import ACCESS_LOG
from strangler.canary.samples import MAX_SEGMENTS, segment_reader
from strangler.spec.gateway import NginxPlaneSpec, RolloutSpec

__all__ = ["GRACE_S", "START_LIMIT", "AccessLogSource", "LogTail"]

START_LIMIT = 64 * 1024 * 1024
"""Bytes of an existing log read when it is first opened (its end)."""


class LogTail:
    """New whole lines of a log file at each :meth:`lines`, across rotation and truncation.

    A file renamed away is still read for :data:`GRACE_S` seconds after its
    name holds a new one: each nginx worker reopens its log in its own time.
    """

    def __init__(self, path: Path, start_limit: int = START_LIMIT) -> None:
        self.path = path
        self.start_limit = start_limit
        self._current: _Open | None = None
        self._rotated: list[tuple[float, _Open]] = []

    def lines(self) -> list[bytes]:
        found: list[bytes] = []
        now = time.monotonic()
        for until, old in list(self._rotated):
            old.drain(found)
            if now > until:
                old.file.close()
                self._rotated.remove((until, old))
        if self._current is None:
            self._current = _Open.at(self.path, self.start_limit)
            if self._current is None:
                return found
        current = self._current
        current.drain(found)
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return found  # renamed away, not reopened yet: nginx still writes the old one
        if stat.st_ino != current.inode:
            self._rotated.append((now + GRACE_S, current))
            self._current = _Open.at(self.path, None)
            if self._current is not None:
                self._current.drain(found)
        elif stat.st_size < current.file.tell():  # truncated in place
            current.file.seek(0)
            current.partial = b""
            current.drain(found)
        return found

    def close(self) -> None:
        for _, old in self._rotated:
            old.file.close()
        self._rotated.clear()
        if self._current is not None:
            self._current.file.close()
            self._current = None


GRACE_S = 30.0


class _Open:
    """One opened log file, its inode, and the start of a line not yet whole."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.inode = os.fstat(file.fileno()).st_ino
        self.partial = b""

    @classmethod
    def at(cls, path: Path, start_limit: int | None) -> _Open | None:
        try:
            opened = cls(path.open("rb"))
        except FileNotFoundError:
            return None
        size = os.fstat(opened.file.fileno()).st_size
        if start_limit is not None and size > start_limit:
            opened.file.seek(size - start_limit)
            opened.file.readline()  # the rest of a line cut in two
        return opened

    def drain(self, found: list[bytes]) -> None:
        chunk = self.file.read()
        if not chunk:
            return
        data = self.partial + chunk
        *whole, self.partial = data.split(b"\n")
        found.extend(line for line in whole if line)


@dataclass(frozen=True, slots=True)
class _Answer:
    ts: float
    error: bool
    seconds: float
    segment: str


class AccessLogSource:
    """A :class:`~strangler.canary.model.MetricsSource` over nginx's access log (see the module)."""

    def __init__(
        self,
        spec: NginxPlaneSpec,
        rollouts: Mapping[str, RolloutSpec],
        *,
        comparisons: MetricsSource | None = None,
        base_dir: Path | None = None,
        path: Path | None = None,
    ) -> None:
        directory = Path(spec.dir)
        if not directory.is_absolute() and base_dir is not None:
            directory = base_dir / directory
        self.path = path or directory / ACCESS_LOG
        self.rollouts = rollouts
        self.comparisons = comparisons
        # an analysis looks at most window_s back: a minute more covers a slow look
        self.keep_s = max((r.window_s for r in rollouts.values()), default=60.0) + 60.0
        self.readers: dict[str, Callable[[Any], str]] = {
            name: segment_reader(r.fairness.segment, f"routes.items.{name}.rollout.fairness")
            for name, r in rollouts.items()
            if r.fairness is not None
        }
        self._tail = LogTail(self.path)
        self._answers: dict[str, deque[_Answer]] = {name: deque() for name in rollouts}
        self._segments: dict[str, set[str]] = {name: set() for name in rollouts}
        self._lock = threading.Lock()
        self.unreadable = 0

    async def measure(self, route: str, since: dt.datetime, until: dt.datetime) -> Measurement:
        """The modern side of ``route`` between ``since`` and ``until``, as nginx logged it."""
        answers = await asyncio.to_thread(self._window, route, since.timestamp(), until.timestamp())
        requests = len(answers)
        errors = sum(a.error for a in answers)
        compared = disagreements = 0
        shadow_segments: Mapping[str, SegmentCounts] = {}
        if self.comparisons is not None:
            shadow = await self.comparisons.measure(route, since, until)
            compared, disagreements = shadow.compared, shadow.disagreements
            shadow_segments = shadow.segments
        segments: dict[str, SegmentCounts] = {}
        if route in self.readers:
            for name in {a.segment for a in answers} | set(shadow_segments):
                mine = [a for a in answers if a.segment == name]
                other = shadow_segments.get(name, SegmentCounts())
                segments[name] = SegmentCounts(
                    len(mine), sum(a.error for a in mine), other.compared, other.disagreements
                )
        return Measurement(
            requests=requests,
            errors=errors,
            p99_s=_p99([a.seconds for a in answers]),
            compared=compared,
            disagreements=disagreements,
            segments=dict(sorted(segments.items())),
        )

    async def close(self) -> None:
        self._tail.close()

    def _window(self, route: str, since: float, until: float) -> list[_Answer]:
        with self._lock:
            self._read()
            return [a for a in self._answers.get(route, ()) if since <= a.ts < until]

    def _read(self) -> None:
        for entry in self._entries():
            route = entry.get("route")
            if not isinstance(route, str) or entry.get("side") != "modern":
                continue
            answers = self._answers.get(route)
            if answers is None:
                continue
            try:
                ts, status = float(entry["ts"]), int(entry["status"])
                seconds = float(entry["request_time"])
            except (KeyError, TypeError, ValueError):
                self.unreadable += 1
                continue
            answers.append(_Answer(ts, status >= 500, seconds, self._segment(route, entry)))
        horizon = time.time() - self.keep_s
        for answers in self._answers.values():
            while answers and answers[0].ts < horizon:
                answers.popleft()

    def _entries(self) -> Iterator[dict[str, Any]]:
        for line in self._tail.lines():
            entry = _parse(line)
            if entry is None:
                self.unreadable += 1
            else:
                yield entry

    def _segment(self, route: str, entry: Mapping[str, Any]) -> str:
        reader = self.readers.get(route)
        if reader is None:
            return ""
        body = entry.get("body")
        try:
            document = orjson.loads(body) if isinstance(body, str) and body else None
        except orjson.JSONDecodeError:
            document = None
        value = "none" if document is None else reader(document)
        known = self._segments[route]
        if value not in known:
            if len(known) >= MAX_SEGMENTS:
                return "other"
            known.add(value)
        return value


def _parse(line: bytes) -> dict[str, Any] | None:
    """One log line's object; bytes that are not UTF-8 (in a logged body) are replaced."""
    for data in (line, line.decode("utf-8", "replace")):
        try:
            entry = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        return entry if isinstance(entry, dict) else None
    return None


def _p99(seconds: list[float]) -> float | None:
    """The nearest-rank 0.99 quantile (``None`` without answers)."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
