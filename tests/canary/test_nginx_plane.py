"""nginx as the data plane: a real nginx (Debian's) in front of two real HTTP sides.

:class:`NginxPlane` renders each route state, checks it with ``nginx -t``, swaps
it in and reloads nginx; the split is counted from ``X-Strangler-Side`` over a
population of sticky keys while client threads keep sending requests, and not
one of those may fail across the reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from strangler.canary.access_log import AccessLogSource, LogTail
from strangler.canary.model import Measurement, SegmentCounts
from strangler.canary.nginx import NginxError, NginxPlane
from strangler.gateway.state import RouteState
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from strangler.spec.gateway import NginxPlaneSpec, RolloutSpec, RoutesSpec
from tests.canary.conftest import Faults, advice_service, audit, status, wait_for
from tests.gateway.conftest import echo_service
from tests.gateway.nginx import run_nginx
from tests.servers import free_port, run_app

ROUTE = "quote"
KEYS = [f"customer-{n}" for n in range(400)]


def routes_spec(services: dict[str, str], fairness: bool = False) -> RoutesSpec:
    rollout = (
        {"steps": [0.05, 0.25, 1.0], "fairness": {"segment": {"body": "/segment"}}}
        if fairness
        else {"steps": [0.05, 0.25, 1.0]}
    )
    return RoutesSpec.model_validate(
        {
            "items": {
                ROUTE: {
                    "path": "/api/quote",
                    "legacy": {"url": f"{services['legacy']}/legacy"},
                    "modern": {"url": f"{services['modern']}/modern"},
                    "mode": "legacy",
                    "sticky": {"header": "X-Customer"},
                    "rollout": rollout,
                }
            }
        }
    )


@dataclass
class Traffic:
    """Client threads sending requests until stopped, each on a fresh or a kept connection.

    A kept connection that nginx closed as idle (its old workers do at a reload,
    as any nginx does at ``keepalive_timeout``) while the next request was on its
    way is answered by nothing: by a close, or, when the request had already
    arrived unread, by a reset (the kernel's answer to closing a socket with unread
    data). The client sends that request again on a new connection, as browsers
    do, and the retry is counted. A request that gets an answer other than 200, or
    none on a fresh connection, is a failure, named with its connection's kind.
    Each answer's configuration version, sticky key and side are kept.
    """

    url: str
    path: str = "/api/quote"
    sent: int = 0
    retried: int = 0
    failures: list[str] = field(default_factory=list)
    answers: list[tuple[str, str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, keep_alive: bool, offset: int) -> None:
        limits = httpx.Limits(max_keepalive_connections=4 if keep_alive else 0)
        with httpx.Client(base_url=self.url, timeout=10, limits=limits) as client:
            n = offset
            while not self.stop.is_set():
                n += 1
                key = KEYS[n % len(KEYS)]
                failure, retried, answer = self._send(client, key, n, keep_alive)
                with self.lock:
                    self.sent += 1
                    self.retried += retried
                    if failure:
                        self.failures.append(failure)
                    elif answer is not None:
                        version = answer.headers.get("x-strangler-config", "")
                        self.answers.append((version, key, answer.headers["x-strangler-side"]))

    def _send(
        self, client: httpx.Client, key: str, n: int, keep_alive: bool
    ) -> tuple[str, int, httpx.Response | None]:
        body = {"customer": key, "n": n}
        kind = "kept" if keep_alive else "fresh"
        for attempt in range(2 if keep_alive else 1):
            try:
                answer = client.post(self.path, json=body, headers={"X-Customer": key})
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                closed = "without sending a response" in str(exc) or _reset(exc)
                if attempt == 0 and keep_alive and closed:
                    continue  # the idle connection was closed under the request: send again
                return f"{kind}: {exc!r}", attempt, None
            except httpx.HTTPError as exc:
                return f"{kind}: {exc!r}", attempt, None
            failure = "" if answer.status_code == 200 else f"HTTP {answer.status_code}"
            return failure, attempt, answer
        return "closed twice", 1, None

    def count(self, version: str) -> int:
        with self.lock:
            return sum(1 for seen, _, _ in self.answers if seen == version)


def _reset(exc: httpx.HTTPError) -> bool:
    """The connection was reset before any answer came (ECONNRESET)."""
    cause = exc.__cause__ or exc.__context__
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    return isinstance(cause, ConnectionResetError) or "[Errno 104]" in str(exc)


@contextlib.contextmanager
def sending(url: str, path: str = "/api/quote", pairs: int = 1) -> Iterator[Traffic]:
    """``pairs`` clients on fresh connections and as many on kept ones, until the block ends."""
    traffic = Traffic(url, path)
    threads = [
        threading.Thread(target=traffic.run, args=(n % 2 == 1, n * 101), daemon=True)
        for n in range(2 * pairs)
    ]
    for thread in threads:
        thread.start()
    try:
        yield traffic
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(30)


@dataclass
class Estate:
    services: dict[str, str]
    plane: NginxPlane
    url: str


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    prefix = tmp_path_factory.mktemp("nginx-plane")
    port = free_port()
    with run_app(echo_service("legacy")) as legacy, run_app(echo_service("modern")) as modern:
        services = {"legacy": legacy, "modern": modern}
        spec = NginxPlaneSpec(dir=str(prefix), listen=f"127.0.0.1:{port}")
        plane = NginxPlane(spec, routes_spec(services, fairness=True))
        asyncio.run(plane.apply({ROUTE: RouteState("legacy", 0.0)}))  # no nginx yet: written
        with run_nginx(plane.conf_path, plane.dir, port) as url:
            yield Estate(services, plane, url)


def split(url: str) -> dict[str, str]:
    """The side each sticky key is answered by (a fresh connection per request)."""
    sides: dict[str, str] = {}
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=url, timeout=10, limits=limits) as client:
        for key in KEYS:
            answer = client.post("/api/quote", json={}, headers={"X-Customer": key})
            assert answer.status_code == 200
            side = answer.headers["x-strangler-side"]
            assert answer.json()["side"] == side
            sides[key] = side
    return sides


def assert_share(sides: dict[str, str], weight: float) -> None:
    """The modern count is the weight's share of the keys, within five binomial deviations."""
    modern = Counter(sides.values())["modern"]
    expected = weight * len(sides)
    spread = 5 * math.sqrt(len(sides) * weight * (1 - weight)) + 1
    assert abs(modern - expected) <= spread, (modern, expected)


def apply(plane: NginxPlane, mode: str, weight: float) -> None:
    asyncio.run(plane.apply({ROUTE: RouteState(mode, weight)}))  # type: ignore[arg-type]


def test_each_step_moves_nginxs_split_and_no_request_fails(estate: Estate) -> None:
    reloads = estate.plane.reloads
    with sending(estate.url) as traffic:
        apply(estate.plane, "legacy", 0.0)  # what nginx already carries: no reload
        assert estate.plane.reloads == reloads
        assert set(split(estate.url).values()) == {"legacy"}
        modern_before: set[str] = set()
        for weight in (0.05, 0.25):
            apply(estate.plane, "canary", weight)
            sides = split(estate.url)
            assert_share(sides, weight)
            modern = {key for key, side in sides.items() if side == "modern"}
            assert modern_before <= modern  # a key on the modern side stays there
            modern_before = modern
        apply(estate.plane, "modern", 1.0)
        assert set(split(estate.url).values()) == {"modern"}
        apply(estate.plane, "legacy", 0.0)  # the rollback
        assert set(split(estate.url).values()) == {"legacy"}
        assert estate.plane.reloads == reloads + 4
    assert traffic.sent > 0
    assert traffic.failures == []
    print(f"{traffic.sent} requests across the reloads, {traffic.retried} sent again")


def test_a_configuration_nginx_refuses_leaves_the_running_one(estate: Estate) -> None:
    apply(estate.plane, "canary", 0.25)
    live = estate.plane.version
    bad_spec = estate.plane.spec.model_copy(
        update={"modern_url": f"http://no-such-host-{uuid.uuid4().hex[:6]}.invalid/modern"}
    )
    bad = NginxPlane(bad_spec, estate.plane.routes)
    with pytest.raises(NginxError, match="host not found"):
        apply(bad, "canary", 0.5)
    answer = httpx.get(f"{estate.url}/_strangler/nginx")
    assert answer.text.strip() == live == answer.headers["x-strangler-config"]
    assert_share(split(estate.url), 0.25)


def test_a_side_nginx_cannot_call_is_named(tmp_path: Path, estate: Estate) -> None:
    routes = routes_spec(estate.services).model_dump()
    routes["items"][ROUTE]["legacy"] = {"operation": "inventory.GetReorderAdvice"}
    spec = NginxPlaneSpec(dir=str(tmp_path))
    with pytest.raises(Exception, match="legacy side"):
        NginxPlane(spec, RoutesSpec.model_validate(routes))
    given = spec.model_copy(update={"legacy_url": "http://127.0.0.1:9/sides/{route}{path}"})
    plane = NginxPlane(given, RoutesSpec.model_validate(routes))
    assert plane.upstreams[f"{ROUTE}.legacy"] == f"http://127.0.0.1:9/sides/{ROUTE}/api/quote"


def test_the_command_reload_is_live_too(estate: Estate) -> None:
    by_command = NginxPlane(
        estate.plane.spec.model_copy(update={"reload": "command"}), estate.plane.routes
    )
    apply(by_command, "canary", 0.05)
    assert_share(split(estate.url), 0.05)
    assert httpx.get(f"{estate.url}/_strangler/nginx").text.strip() == by_command.version


def send(url: str, bodies: Sequence[Mapping[str, object]]) -> list[int]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return [
            client.post("/api/quote", json=body, headers={"X-Customer": f"c{n}"}).status_code
            for n, body in enumerate(bodies)
        ]


def measured(
    source: AccessLogSource, since: dt.datetime, accept: Callable[[Measurement], bool]
) -> Measurement:
    """Measure until ``accept`` takes it (nginx logs a request just after answering it)."""
    deadline = time.monotonic() + 10
    while True:
        until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        found = asyncio.run(source.measure(ROUTE, since, until))
        if accept(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_the_access_log_gives_the_modern_answers_errors_and_segments(estate: Estate) -> None:
    source = AccessLogSource(estate.plane.spec, rollouts(estate.plane))
    apply(estate.plane, "modern", 1.0)
    since = dt.datetime.now(dt.UTC)
    bodies: list[Mapping[str, object]] = [
        *[{"segment": "a"}] * 40,
        *[{"segment": "b"}] * 30,
        *[{"segment": "b", "status": 503}] * 10,
        *[{"no": "segment"}] * 5,
    ]
    assert sorted(set(send(estate.url, bodies))) == [200, 503]
    found = measured(source, since, lambda m: m.requests >= 85)
    assert (found.requests, found.errors) == (85, 10)
    assert found.p99_s is not None and found.p99_s >= 0
    assert found.segments == {
        "a": SegmentCounts(40, 0),
        "b": SegmentCounts(40, 10),
        "none": SegmentCounts(5, 0),
    }
    assert (found.compared, found.disagreements) == (0, 0)
    hours_ago = since - dt.timedelta(hours=2)
    before = asyncio.run(source.measure(ROUTE, hours_ago, hours_ago + dt.timedelta(hours=1)))
    assert before == Measurement()


def test_the_access_log_is_followed_across_rotation(estate: Estate) -> None:
    apply(estate.plane, "modern", 1.0)
    source = AccessLogSource(estate.plane.spec, rollouts(estate.plane))
    since = dt.datetime.now(dt.UTC)
    assert send(estate.url, [{}] * 10) == [200] * 10
    assert measured(source, since, lambda m: m.requests >= 10).requests == 10
    log = estate.plane.access_log
    log.rename(log.with_suffix(".1"))  # as logrotate does, then asks nginx to reopen
    assert send(estate.url, [{}] * 7) == [200] * 7  # still into the renamed file
    pid = int(estate.plane.pid_path.read_text())
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not log.exists():
        assert time.monotonic() < deadline, "nginx did not reopen its log"
        time.sleep(0.02)
    assert send(estate.url, [{}] * 5) == [200] * 5
    assert measured(source, since, lambda m: m.requests >= 22).requests == 22
    log.write_bytes(b"")  # truncated in place
    assert send(estate.url, [{}] * 3) == [200] * 3
    assert measured(source, since, lambda m: m.requests >= 25).requests == 25


def rollouts(plane: NginxPlane) -> dict[str, RolloutSpec]:
    return {name: r.rollout for name, r in plane.routes.items.items() if r.rollout is not None}


def controlled_spec(tmp: Path, route: str, legacy: str, modern: str, listen: str) -> str:
    """A route carried by nginx, its rollout measured from nginx's access log."""
    return f"""
routes:
  state: "sqlite:///{tmp / "state.db"}"
  refresh_s: 0.1
  nginx: {{dir: "{tmp / "nginx"}", listen: "{listen}"}}
  items:
    {route}:
      path: /api/advice
      legacy: {{url: "{legacy}/advice"}}
      modern: {{url: "{modern}/advice"}}
      mode: legacy
      sticky: {{header: X-Customer}}
      rollout:
        steps: [0.1, 0.5, 1.0]
        bake_s: 2
        min_samples: 20
        window_s: 5
        interval_s: 0.3
        thresholds: {{p99_ms: 250}}
"""


def test_the_controller_moves_nginxs_split_and_rolls_it_back_without_a_failed_request(
    tmp_path: Path,
) -> None:
    route = f"nginx_{uuid.uuid4().hex[:8]}"
    faults = Faults()
    port = free_port()
    with (
        run_app(advice_service("legacy", Faults())) as legacy,
        run_app(advice_service("modern", faults)) as modern,
    ):
        text = controlled_spec(tmp_path, route, legacy, modern, f"127.0.0.1:{port}")
        spec = parse_spec(text, filename="routes.yaml", base_dir=tmp_path, env={})
        routes: RoutesSpec = spec.section("routes")
        assert routes.nginx is not None
        plane = NginxPlane(routes.nginx, routes)  # what nginx starts on: all legacy

        def version(mode: str, weight: float) -> str:
            state = RouteState(mode, weight)  # type: ignore[arg-type]
            return plane.render({route: state})[0]

        asyncio.run(plane.apply({route: RouteState("legacy", 0.0)}))
        with (
            run_nginx(plane.conf_path, plane.dir, port) as nginx,
            sending(nginx, "/api/advice", pairs=2) as traffic,
            run_app(create_app(spec, cache_dir=tmp_path)) as url,
        ):
            wait_for(lambda: status(url, route)["step"] >= 1, "the 50% step", 60)
            faults.delay_s = 0.4  # slow, never failing: every request must still be answered
            final = wait_for(
                lambda: (s := status(url, route))["status"] == "rolled_back" and s,
                "the rollback on nginx's p99",
                60,
            )
            rolled_back = version("legacy", 0.0)
            wait_for(lambda: traffic.count(rolled_back) > 200, "answers after the rollback")
            rows = audit(url, route)
    assert traffic.failures == []
    assert (final["mode"], final["weight"]) == ("legacy", 0.0)
    assert [(r["action"], r["from"], r["to"]) for r in rows] == [
        ("start", "", "10%"),
        ("promote", "10%", "50%"),
        ("rollback", "50%", "legacy"),
    ]
    assert "p99" in rows[-1]["reason"]
    by_version: dict[str, dict[str, set[str]]] = {}
    for seen, key, side in traffic.answers:
        by_version.setdefault(seen, {}).setdefault(key, set()).add(side)
    for mode, weight in (("canary", 0.1), ("canary", 0.5), ("legacy", 0.0)):
        keys = by_version[version(mode, weight)]
        assert all(len(sides) == 1 for sides in keys.values())  # each key sticks to a side
        assert_share({key: next(iter(sides)) for key, sides in keys.items()}, weight)
    print(f"{traffic.sent} requests, {traffic.retried} sent again, versions {len(by_version)}")


def test_a_log_line_is_read_once_whole_and_a_large_log_from_its_end(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    tail = LogTail(path, start_limit=64)
    assert tail.lines() == []  # no log yet: nothing, no error
    with path.open("ab") as log:
        log.write(b'{"a":1}\n{"b":')
        log.flush()
        assert tail.lines() == [b'{"a":1}']
        log.write(b"2}\n")
        log.flush()
        assert tail.lines() == [b'{"b":2}']
        assert tail.lines() == []
    tail.close()
    path.write_bytes(b"".join(b'{"n":%d}\n' % n for n in range(100)))
    late = LogTail(path, start_limit=64)  # only the last 64 bytes, from a whole line
    lines = late.lines()
    assert lines[-1] == b'{"n":99}' and 0 < len(lines) <= 8
    assert all(line.startswith(b'{"n":') for line in lines)
    late.close()


def test_a_stale_pid_file_is_not_signalled(tmp_path: Path, estate: Estate) -> None:
    spec = NginxPlaneSpec(dir=str(tmp_path), listen=f"127.0.0.1:{free_port()}")
    plane = NginxPlane(spec, estate.plane.routes)
    plane.pid_path.write_text(str(os.getpid()))  # a number some other process has now
    apply(plane, "canary", 0.25)  # a SIGHUP would end this very process
    assert plane.reloads == 0 and plane.version is not None
    assert f'"{plane.version}"' in (plane.dir / "nginx" / "strangler-locations.conf").read_text()
