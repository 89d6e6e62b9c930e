"""Reading Server-Sent Events in tests: events (and pings) with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson


@dataclass
class SseReader:
    """An open SSE response; :meth:`until` collects events until a condition holds."""

    lines: Iterator[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    pings: int = 0

    def next_event(self, deadline: float) -> dict[str, Any]:
        fields: dict[str, str] = {}
        for line in self.lines:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no complete event in time; got {len(self.events)}")
            if line.startswith(":"):
                self.pings += 1
            elif not line:
                if "data" in fields:
                    event = {**fields, "cloudevent": orjson.loads(fields["data"])}
                    self.events.append(event)
                    return event
            else:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    def until(
        self, done: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 30.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while not done(self.events):
            self.next_event(deadline)
        return self.events


@contextmanager
def open_sse(url: str, headers: dict[str, str] | None = None) -> Iterator[SseReader]:
    with (
        httpx.Client(timeout=httpx.Timeout(10.0, read=10.0)) as client,
        client.stream("GET", url, headers=headers or {}) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SseReader(response.iter_lines())
