"""Fixtures of the canary tests: a legacy and a modern HTTP service whose faults a test
switches, the gateway app served over loopback, traffic in the background, fresh
PostgreSQL databases, and polling with a deadline."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.servers import Answer, body_service, postgres_database, run_app

SEGMENTS = ("retail", "trade")
RELAXED_P99_MS = 10000


@dataclass
class Faults:
    """What a service does wrong now: a share of 503s, a delay, a share of other answers;
    ``segments`` limits the faults to requests of those segments (``None``: all)."""

    errors: float = 0.0
    delay_s: float = 0.0
    disagree: float = 0.0
    segments: set[str] | None = None
    answered: int = 0
    _counter: Any = field(default_factory=itertools.count)

    def reset(self) -> None:
        self.errors, self.delay_s, self.disagree, self.segments = 0.0, 0.0, 0.0, None

    def hits(self, share: float, n: int) -> bool:
        """Whether request ``n`` is one of the ``share``: spread evenly, not in runs."""
        return int((n + 1) * share) > int(n * share)


def advice_service(side: str, faults: Faults) -> Any:
    """An ASGI service answering ``{"customer", "reorder"}`` for ``{"customer", "segment"}``:
    the same advice on both sides unless ``faults`` say otherwise."""

    async def handle(body: bytes) -> Answer:
        asked = orjson.loads(body) if body else {}
        n = next(faults._counter)
        faulty = faults.segments is None or asked.get("segment") in faults.segments
        status = 200
        answer: dict[str, Any] = {
            "customer": asked.get("customer"),
            "reorder": hash(str(asked.get("customer"))) % 2 == 0,
        }
        if faulty and faults.delay_s:
            await asyncio.sleep(faults.delay_s)
        if faulty and faults.hits(faults.errors, n):
            status, answer = 503, {"error": f"{side} failed on purpose"}
        elif faulty and faults.hits(faults.disagree, n):
            answer["reorder"] = not answer["reorder"]
        faults.answered += 1
        return status, b"application/json", orjson.dumps(answer)

    return body_service(handle)


@dataclass
class Estate:
    """The two services of a route and their fault switches."""

    legacy: str
    modern: str
    legacy_faults: Faults
    modern_faults: Faults


@pytest.fixture
def estate() -> Iterator[Estate]:
    legacy, modern = Faults(), Faults()
    with (
        run_app(advice_service("legacy", legacy)) as legacy_url,
        run_app(advice_service("modern", modern)) as modern_url,
    ):
        yield Estate(legacy_url, modern_url, legacy, modern)


@pytest.fixture
def route() -> str:
    """A route name of the test's own (the process's metrics are labelled by route)."""
    return f"advice_{uuid.uuid4().hex[:8]}"


def rollout_spec(
    estate: Estate,
    route: str,
    *,
    steps: str = "[shadow, 0.5, 1.0]",
    state: str = "",
    rollout: str = "",
    mode: str = "legacy",
    legacy_safe: bool = False,
) -> str:
    """A spec of one route ``/api/advice`` over the estate, with a short rollout
    (``legacy_safe``: legacy may be asked again, to compare the canary's answers). The
    p99 threshold is far off unless ``rollout`` sets thresholds: a machine busy with
    other work is not what these tests measure."""
    if "thresholds" not in rollout:
        rollout = f"thresholds: {{p99_ms: {RELAXED_P99_MS}}}\n        {rollout}"
    return f"""
routes:
  state: "{state}"
  refresh_s: 0.1
  items:
    {route}:
      path: /api/advice
      legacy: {{url: "{estate.legacy}/advice", safe: {str(legacy_safe).lower()}}}
      modern: {{url: "{estate.modern}/advice"}}
      mode: {mode}
      rollout:
        steps: {steps}
        bake_s: 0.3
        min_samples: 20
        window_s: 5
        interval_s: 0.2
        {rollout}
"""


Serve = Callable[..., Any]


@pytest.fixture
def serve(tmp_path: Path) -> Serve:
    """Serve the app of a spec text over loopback (``cache``: its cache folder's name)."""

    @contextmanager
    def serving(text: str, cache: str = "cache") -> Iterator[str]:
        folder = tmp_path / cache
        folder.mkdir(exist_ok=True)
        spec = parse_spec(text, filename="routes.yaml", base_dir=tmp_path, env={})
        with run_app(create_app(spec, cache_dir=folder)) as url:
            yield url

    return serving


@dataclass
class Traffic:
    """Requests sent in the background, and the sides that answered them."""

    sides: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    sent: int = 0

    def count(self, response: httpx.Response) -> None:
        side = response.headers.get("x-strangler-side", "none")
        self.sides[side] = self.sides.get(side, 0) + 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        self.sent += 1


@contextmanager
def traffic(
    *urls: str, threads: int = 2, segments: tuple[str, ...] = SEGMENTS, pace_s: float = 0.003
) -> Iterator[Traffic]:
    """Send requests to ``/api/advice`` of each URL in turn until the block ends."""
    seen = Traffic()
    stop = threading.Event()
    lock = threading.Lock()

    def send(worker: int) -> None:
        clients = [httpx.Client(base_url=url, timeout=30) for url in urls]
        try:
            for n in itertools.count(worker, threads):
                if stop.is_set():
                    return
                body = {"customer": f"C{n % 997}", "segment": segments[n % len(segments)]}
                try:
                    response = clients[n % len(clients)].post("/api/advice", json=body)
                except httpx.HTTPError:
                    continue  # a server stopping under the load: not this test's concern
                with lock:
                    seen.count(response)
                stop.wait(pace_s)  # a steady, modest load on a shared machine
        finally:
            for client in clients:
                client.close()

    workers = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield seen
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    """Poll ``condition`` until it is true; its value. Fails naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s} s")
        time.sleep(0.05)
    return value


def status(url: str, route: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{url}/admin/canary/{route}", timeout=30).json()
    return answer


def audit(url: str, route: str) -> list[dict[str, Any]]:
    """The route's audit rows, oldest first."""
    rows = httpx.get(f"{url}/admin/canary/{route}/audit", params={"limit": 1000}, timeout=30)
    return list(reversed(rows.json()["items"]))


def analyses(url: str, route: str) -> list[dict[str, Any]]:
    rows = httpx.get(f"{url}/admin/canary/{route}/analyses", params={"limit": 5000}, timeout=30)
    items: list[dict[str, Any]] = rows.json()["items"]
    return items


def metric(url: str, name: str, **labels: str) -> float:
    """A sample of the app's /metrics (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the test's state; dropped afterwards."""
    with postgres_database("strangler_canary") as url:
        yield url
