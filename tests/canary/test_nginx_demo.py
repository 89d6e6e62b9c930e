"""The demo's migration with Debian's nginx as the data plane.

The demo estate as it ships (the rules engine over SOAP, the ``reorder`` model
in-process), its route on the short schedule, keyed by a header nginx can read
(``X-Customer-Id``) and given ``routes.nginx``: nginx sends each request to
strangler's side endpoints (``/_strangler/sides/reorder-advice/legacy|modern``),
the controller renders every step into nginx and reloads it, and measures the
modern side from nginx's access log. A healthy model is promoted step by step
(nginx's split counted per sticky key at each step); a model broken on purpose
is rolled back in nginx. Client threads keep asking nginx throughout: no request
fails across the reloads (a problem answer of the broken model is the model's).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from strangler.canary.nginx import NginxPlane
from strangler.demo.estate import DEMO_SPEC, Estate
from strangler.demo.rollout import set_fault
from strangler.demo.traffic import ReorderTraffic, SkuFacts
from strangler.errors import SpecError
from strangler.gateway.table import server_url
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from strangler.spec.gateway import RoutesSpec
from tests.canary.demo_estate import ROUTE, loaded_estate, short_spec_text, wait_for
from tests.gateway.nginx import run_nginx
from tests.servers import free_port, run_config

pytestmark = pytest.mark.timeout(300)

KEYS = [f"C-{n:04d}" for n in range(200)]
HEADER = "X-Customer-Id"


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Estate, list[SkuFacts]]]:
    with loaded_estate(Path(tmp_path_factory.mktemp("nginx-demo"))) as loaded:
        yield loaded


def ask(key: str, sku: str) -> dict[str, Any]:
    return {
        "customerId": key,
        "sku": sku,
        "quantityOnHand": 3,
        "averageDailySales": "4.3929",
        "leadTimeDays": 7,
    }


@dataclass
class Clients:
    """Threads asking nginx on fresh connections until stopped: every answer's side and
    configuration version; a failure is no answer, or one strangler did not give."""

    url: str
    sku: str
    answers: Counter[str] = field(default_factory=Counter)
    versions: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, offset: int) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=self.url, timeout=30, limits=limits) as client:
            n = offset
            while not self.stop.is_set():
                n += 7
                key = KEYS[n % len(KEYS)]
                try:
                    answer = client.post(
                        "/api/reorder-advice", json=ask(key, self.sku), headers={HEADER: key}
                    )
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.failures.append(repr(exc))
                    continue
                side = answer.headers.get("x-strangler-side", "-")
                problem = answer.headers.get("content-type", "").startswith("application/problem")
                with self.lock:
                    self.versions.add(answer.headers.get("x-strangler-config", ""))
                    self.answers[f"{answer.status_code} {side}"] += 1
                    if answer.status_code != 200 and not (problem and side == "modern"):
                        self.failures.append(f"HTTP {answer.status_code} {side}: {answer.text}")
                self.stop.wait(0.02)


@dataclass
class Served:
    app: str
    nginx: str
    client: httpx.Client
    clients: Clients
    sku: str

    def rollout(self) -> dict[str, Any]:
        found: dict[str, Any] = self.client.get(f"/admin/canary/{ROUTE}").json()
        return found

    def act(self, action: str) -> dict[str, Any]:
        done = self.client.post(f"/admin/canary/{ROUTE}/{action}", json={"reason": "a test"})
        assert done.status_code == 200, done.text
        found: dict[str, Any] = done.json()
        return found

    def split(self) -> dict[str, str]:
        """The side nginx sends each sticky key to (fresh connections)."""
        sides: dict[str, str] = {}
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=self.nginx, timeout=30, limits=limits) as client:
            for key in KEYS:
                answer = client.post(
                    "/api/reorder-advice", json=ask(key, self.sku), headers={HEADER: key}
                )
                assert answer.status_code == 200, answer.text
                sides[key] = answer.headers["x-strangler-side"]
        return sides


@contextlib.contextmanager
def replica(estate: Estate, folder: Path, state: Path) -> Iterator[tuple[str, str]]:
    """One demo app over the gateway state ``state`` with its own nginx in front (prefix
    in ``folder``): their URLs."""
    app_port, nginx_port = free_port(), free_port()
    prefix = folder / "nginx"
    app_url = f"http://127.0.0.1:{app_port}"
    nginx = f"{{dir: {prefix}, listen: '127.0.0.1:{nginx_port}', strangler_url: '{app_url}'}}"
    seed = "  state: ${DEMO_GATEWAY_STATE:-}"
    text = short_spec_text(
        **{"sticky: {body: /customerId}": f"sticky: {{header: {HEADER}}}"},
        **{seed: f"  nginx: {nginx}\n{seed}"},
    )
    env = {**estate.env, "DEMO_GATEWAY_STATE": f"sqlite:///{state}"}
    spec = parse_spec(text, filename=str(DEMO_SPEC), base_dir=DEMO_SPEC.parent, env=env)
    config = uvicorn.Config(
        create_app(spec, cache_dir=folder), host="127.0.0.1", port=app_port, log_level="warning"
    )
    conf = prefix / "nginx" / "nginx.conf"
    with run_config(config) as url:
        wait_for("the controller's first nginx configuration", conf.exists, timeout_s=30)
        assert f"{url}/_strangler/sides/{ROUTE}/" not in conf.read_text()  # the routes' part:
        sides = (prefix / "nginx" / "strangler-http.conf").read_text()
        assert f"server 127.0.0.1:{app_port};" in sides
        assert f"/_strangler/sides/{ROUTE}/modern" in sides  # strangler answers each side
        with run_nginx(conf, prefix, nginx_port) as nginx_url:
            try:
                yield url, nginx_url
            finally:
                set_fault(url, "reorder")  # healthy again


@contextlib.contextmanager
def served(estate: Estate, skus: list[SkuFacts], folder: Path) -> Iterator[Served]:
    """The demo app with nginx in front (its own state and nginx prefix in ``folder``),
    the demo's traffic and the test's clients asking nginx."""
    with (
        replica(estate, folder, folder / "gateway-state.sqlite") as (url, nginx_url),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        clients = Clients(nginx_url, skus[0].sku)
        threads = [threading.Thread(target=clients.run, args=(n,), daemon=True) for n in range(2)]
        with ReorderTraffic(nginx_url, skus, rate=40, seed=3, warm_url=url):
            for thread in threads:
                thread.start()
            try:
                yield Served(url, nginx_url, client, clients, skus[0].sku)
            finally:
                clients.stop.set()
                for thread in threads:
                    thread.join(30)


def assert_share(sides: dict[str, str], weight: float) -> None:
    """The modern keys are the weight's share, within five binomial deviations."""
    modern = Counter(sides.values())["modern"]
    spread = 5 * math.sqrt(len(sides) * weight * (1 - weight)) + 1
    assert abs(modern - weight * len(sides)) <= spread, (modern, weight)


def paused_on(demo: Served, step: int) -> dict[str, Any]:
    """Once the rollout reaches ``step``, paused there (or on the step it reached)."""

    def reached() -> dict[str, Any] | None:
        rollout = demo.rollout()
        assert rollout["status"] == "running", rollout  # a healthy model is never rolled back
        return rollout if rollout["step"] >= step else None

    wait_for(f"step {step}", reached, timeout_s=90)
    return demo.act("pause")


def test_a_healthy_model_is_promoted_in_nginx(
    estate: tuple[Estate, list[SkuFacts]], tmp_path: Path
) -> None:
    with served(*estate, tmp_path) as demo:
        assert demo.rollout()["mode"] == "shadow"
        sides = demo.split()
        if demo.rollout()["step"] == 0:  # still shadow: nginx sends all to legacy
            assert set(sides.values()) == {"legacy"}
        modern_before: set[str] = set()
        for step in (1, 2):
            rollout = paused_on(demo, step)
            assert rollout["mode"] == "canary", rollout
            sides = demo.split()
            assert_share(sides, rollout["weight"])
            modern = {key for key, side in sides.items() if side == "modern"}
            assert modern_before <= modern  # a key on the model stays there as the share grows
            modern_before = modern
            demo.act("resume")

        def promoted() -> dict[str, Any] | None:
            rollout = demo.rollout()
            assert rollout["status"] in ("running", "promoted"), rollout
            return (
                rollout if (rollout["status"], rollout["mode"]) == ("promoted", "modern") else None
            )

        wait_for("the promotion", promoted, timeout_s=90)
        assert set(demo.split().values()) == {"modern"}
        with demo.clients.lock:
            failures, answers = list(demo.clients.failures), Counter(demo.clients.answers)
            versions = set(demo.clients.versions)
        assert failures == [], failures[:5]
        assert answers["200 legacy"] > 0 and answers["200 modern"] > 0, answers
        assert len(versions) >= 4, versions  # shadow, two canary steps, all modern: reloads


def test_a_broken_model_is_rolled_back_in_nginx(
    estate: tuple[Estate, list[SkuFacts]], tmp_path: Path
) -> None:
    with served(*estate, tmp_path) as demo:

        def canary() -> dict[str, Any] | None:
            rollout = demo.rollout()
            return rollout if rollout["step"] >= 1 and rollout["mode"] == "canary" else None

        wait_for("the canary on 10% of the customers", canary, timeout_s=90)
        broken = demo.client.put(
            "/admin/models/reorder/faults", json={"error_rate": 0.5, "delay_ms": 0}
        )
        assert broken.status_code == 200, broken.text

        def rolled_back() -> dict[str, Any] | None:
            rollout = demo.rollout()
            assert rollout["status"] in ("running", "rolled_back"), rollout
            return (
                rollout
                if (rollout["status"], rollout["mode"]) == ("rolled_back", "legacy")
                else None
            )

        back = wait_for("the rollback", rolled_back, timeout_s=90)
        assert "error rate" in back["reason"], back
        assert set(demo.split().values()) == {"legacy"}  # nginx sends everyone to the rules
        with demo.clients.lock:
            failures, answers = list(demo.clients.failures), Counter(demo.clients.answers)
        assert failures == [], failures[:5]
        assert answers["200 modern"] > 0, answers


def test_every_replicas_nginx_follows_the_rollout(
    estate: tuple[Estate, list[SkuFacts]], tmp_path: Path
) -> None:
    state = tmp_path / "gateway-state.sqlite"  # one state database, two hosts' worth
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        replica(estate[0], tmp_path / "a", state) as (a, nginx_a),
        replica(estate[0], tmp_path / "b", state) as (b, nginx_b),
        ReorderTraffic(nginx_a, estate[1], rate=20, seed=4, warm_url=a),
        ReorderTraffic(nginx_b, estate[1], rate=20, seed=5, warm_url=b),
        httpx.Client(base_url=a, timeout=30) as client,
    ):
        demo = Served(a, nginx_a, client, Clients(nginx_a, estate[1][0].sku), estate[1][0].sku)
        rollout = paused_on(demo, 2)
        assert rollout["mode"] == "canary", rollout

        other = Served(b, nginx_b, client, demo.clients, demo.sku)

        def agree() -> dict[str, str] | None:  # the replica not acting follows on its refresh
            sides = demo.split()
            return sides if "modern" in sides.values() and sides == other.split() else None

        sides = wait_for("both hosts' nginx on the step", agree, timeout_s=30)
        assert_share(sides, rollout["weight"])  # the same keys on the model on either host


def test_nginx_sends_operation_and_model_sides_to_strangler(tmp_path: Path) -> None:
    text = """
server: {host: 0.0.0.0, port: 8123}
routes:
  nginx: {dir: plane, listen: "127.0.0.1:9999"}
  items:
    advice:
      path: /api/advice
      legacy: inventory.GetReorderAdvice
      modern: {model: reorder}
    quote:
      path: /api/quote
      legacy: {url: "http://legacy.example:8080/quote"}
      modern: {url: "http://modern.example:8080/quote"}
      response: {modern: {callable: "strangler.demo.reorder_route:advice"}}
"""
    spec = parse_spec(text, filename="strangler.yaml", base_dir=tmp_path, env={})
    routes: RoutesSpec = spec.section("routes")
    assert routes.nginx is not None and routes.nginx.dir == str(tmp_path / "plane")
    plane = NginxPlane(routes.nginx, routes, strangler_url=server_url(spec))
    assert plane.dir == tmp_path / "plane"
    assert plane.upstreams == {
        "advice.legacy": "http://127.0.0.1:8123/_strangler/sides/advice/legacy",
        "advice.modern": "http://127.0.0.1:8123/_strangler/sides/advice/modern",
        "quote.modern": "http://127.0.0.1:8123/_strangler/sides/quote/modern",  # mapped
    }  # quote.legacy: nginx calls the service itself
    given = routes.nginx.model_copy(update={"strangler_url": "http://gw.internal:80"})
    assert NginxPlane(given, routes, strangler_url="http://ignored:1").upstreams[
        "advice.legacy"
    ] == ("http://gw.internal:80/_strangler/sides/advice/legacy")
    with pytest.raises(SpecError, match="strangler_url"):
        NginxPlane(routes.nginx, routes)


def test_strangler_demo_nginx_carries_the_route_and_stops_it() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "250"}
    process = subprocess.Popen(
        [sys.executable, "-m", "strangler.cli", "demo", "--nginx", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(process.stdout or ()), daemon=True
    )  # the output, read as it comes (the demo logs while it runs)
    reader.start()
    try:

        def printed() -> str | None:
            assert process.poll() is None, "".join(lines)
            said = re.search(r"nginx carries the route's split: (http://\S+)/api/reorder-advice",
                             "".join(lines))  # fmt: skip
            return said.group(1) if said else None

        nginx_url = wait_for("the nginx line", printed, timeout_s=90)

        def side() -> str | None:  # the demo traffic's answers come through nginx too
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.post(
                    f"{nginx_url}/api/reorder-advice", json=ask("C-0001", "SKU-1001"), timeout=10
                )
                if answer.status_code == 200:
                    return answer.headers["x-strangler-side"]
            return None

        assert wait_for("an answer through nginx", side, timeout_s=60) in ("legacy", "modern")
        log = httpx.get(f"{nginx_url}/_strangler/nginx", timeout=10)
        assert log.status_code == 200 and log.headers["x-strangler-config"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
        reader.join(10)
    with pytest.raises(httpx.TransportError):  # nginx stopped with the demo
        httpx.get(f"{nginx_url}/_strangler/nginx", timeout=5)
