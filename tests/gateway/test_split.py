"""The split over real HTTP: weights within binomial bounds, sticky keys that never move
back as the weight grows, the side header, the modes, the state shared by replicas."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import GatewayRunner, route_spec

Z = 4.5
"""Bounds of the binomial tests: a correct split falls outside about once in 150,000 runs."""


def within_binomial(hits: int, n: int, p: float) -> bool:
    sd = math.sqrt(n * p * (1 - p))
    return abs(hits - n * p) <= Z * sd + 1


def side(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    answered = response.headers["x-strangler-side"]
    assert response.json()["side"] == answered  # the header names the side that answered
    return answered


def set_state(client: httpx.Client, **change: object) -> dict[str, object]:
    response = client.put("/admin/routes/echo", json=change)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize("weight", [0.1, 0.5, 0.9])
def test_the_split_follows_the_weight(
    gateway: GatewayRunner, services: dict[str, str], weight: float
) -> None:
    n = 1000
    with (
        gateway(route_spec(services, weight=weight, sticky="{header: X-Customer}")) as url,
        httpx.Client(base_url=url) as client,
    ):
        modern = sum(
            side(client.post("/api/echo", json={"i": i}, headers={"X-Customer": f"c-{i}"}))
            == "modern"
            for i in range(n)
        )
    assert within_binomial(modern, n, weight), (modern, n, weight)


def test_without_a_key_each_request_is_split_on_its_own(
    gateway: GatewayRunner, services: dict[str, str]
) -> None:
    n = 600
    with (
        gateway(route_spec(services, weight=0.5, sticky="{header: X-Customer}")) as url,
        httpx.Client(base_url=url) as client,
    ):
        sides = [side(client.post("/api/echo", json={"same": 1})) for _ in range(n)]
    assert within_binomial(sides.count("modern"), n, 0.5)


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_the_ends_of_the_weight_are_exact(
    gateway: GatewayRunner, services: dict[str, str], weight: float
) -> None:
    with gateway(route_spec(services, weight=weight)) as url, httpx.Client(base_url=url) as client:
        sides = {side(client.post("/api/echo", json={"i": i})) for i in range(200)}
    assert sides == ({"modern"} if weight == 1.0 else {"legacy"})


Ask = Callable[[httpx.Client, int], httpx.Response]

KEYS: dict[str, tuple[str, Ask]] = {
    "header": (
        "{header: X-Customer}",
        lambda c, k: c.post("/api/echo", json={"k": k}, headers={"X-Customer": f"cust-{k}"}),
    ),
    "cookie": (
        "{cookie: cust}",
        lambda c, k: c.post(
            "/api/echo", json={"k": k}, headers={"Cookie": f"theme=dark; cust=cust-{k}; x=1"}
        ),
    ),
    "body": (
        "{body: /order/customerId}",
        lambda c, k: c.post(
            "/api/echo", json={"order": {"customerId": f"cust-{k}", "noise": time.time_ns()}}
        ),
    ),
}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_a_key_on_modern_stays_there_as_the_weight_grows(
    gateway: GatewayRunner, services: dict[str, str], kind: str
) -> None:
    sticky, ask = KEYS[kind]
    keys = range(300)
    with (
        gateway(route_spec(services, weight=0.05, sticky=sticky)) as url,
        httpx.Client(base_url=url) as client,
    ):
        on_modern: set[int] = set()
        for weight in (0.05, 0.2, 0.5, 0.8, 1.0):
            set_state(client, weight=weight)
            now = {k for k in keys if side(ask(client, k)) == "modern"}
            again = {k for k in keys if side(ask(client, k)) == "modern"}
            assert now == again  # the same key, the same side
            assert on_modern <= now, f"moved back to legacy: {sorted(on_modern - now)}"
            assert within_binomial(len(now), len(keys), weight), (len(now), weight)
            on_modern = now
        assert on_modern == set(keys)
        set_state(client, weight=0.2)  # a rollback is the one way back
        assert within_binomial(sum(side(ask(client, k)) == "modern" for k in keys), len(keys), 0.2)


def test_the_modes(gateway: GatewayRunner, services: dict[str, str]) -> None:
    with (
        gateway(route_spec(services, mode="legacy", weight=1.0)) as url,
        httpx.Client(base_url=url) as client,
    ):
        assert {side(client.post("/api/echo", json={"i": i})) for i in range(20)} == {"legacy"}
        set_state(client, mode="modern", weight=0.0)
        assert {side(client.post("/api/echo", json={"i": i})) for i in range(20)} == {"modern"}
        set_state(client, mode="shadow")
        assert {side(client.post("/api/echo", json={"i": i})) for i in range(20)} == {"legacy"}
        state = set_state(client, mode="canary", weight=1.0)
        assert (state["mode"], state["weight"], state["version"]) == ("canary", 1.0, 4)
        assert {side(client.post("/api/echo", json={"i": i})) for i in range(20)} == {"modern"}
        listed = client.get("/admin/routes").json()["items"]
        assert [(r["route"], r["path"], r["mode"]) for r in listed] == [
            ("echo", "/api/echo", "canary")
        ]


def test_the_request_and_its_headers_reach_the_side_unchanged(
    gateway: GatewayRunner, services: dict[str, str]
) -> None:
    body = b'{"b": [1, 2.50, "\\u00e9"], "a": null}'
    with gateway(route_spec(services, mode="legacy")) as url:
        response = httpx.post(
            f"{url}/api/echo", content=body, headers={"content-type": "application/json"}
        )
    assert response.json() == {"side": "legacy", "got": {"b": [1, 2.5, "é"], "a": None}}
    assert response.headers["content-type"] == "application/json"


def test_a_second_replica_follows_the_shared_state(
    gateway: GatewayRunner, services: dict[str, str], postgres_state: str
) -> None:
    spec = route_spec(services, mode="legacy", state=postgres_state, refresh_s=0.1)
    with gateway(spec) as first, gateway(spec) as second:
        with httpx.Client(base_url=first) as a, httpx.Client(base_url=second) as b:
            assert side(b.post("/api/echo", json={})) == "legacy"
            version = set_state(a, mode="modern")["version"]
            deadline = time.monotonic() + 10
            while b.get("/admin/routes/echo").json()["version"] != version:
                assert time.monotonic() < deadline, "the second replica never read the change"
                time.sleep(0.02)
            assert {side(b.post("/api/echo", json={"i": i})) for i in range(20)} == {"modern"}
            seen = b.get("/admin/routes/echo").json()
            assert (seen["mode"], seen["weight"]) == ("modern", 0.0)
        # a replica started later takes the database's state, not the spec's
        with gateway(spec) as third, httpx.Client(base_url=third) as c:
            assert side(c.post("/api/echo", json={})) == "modern"


def test_bad_input_is_a_problem(gateway: GatewayRunner, services: dict[str, str]) -> None:
    spec = route_spec(services, weight=0.5, sticky="{body: /customerId}")
    with gateway(spec) as url, httpx.Client(base_url=url) as client:
        unreadable = client.post(
            "/api/echo", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert unreadable.status_code == 422
        assert unreadable.headers["content-type"] == "application/problem+json"
        assert unreadable.json()["type"] == "urn:strangler:problem:invalid-input"
        assert "x-strangler-side" not in unreadable.headers  # refused before any side
        assert 'side="none",type="invalid-input"' in client.get("/metrics").text
        for change, where in [
            ({"mode": "sideways"}, "mode"),
            ({"weight": 1.5}, "weight"),
            ({"weight": 0.5, "extra": 1}, "extra"),
        ]:
            refused = client.put("/admin/routes/echo", json=change)
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert any(where in e["path"] for e in refused.json()["errors"])
        unknown = client.put("/admin/routes/nope", json={"mode": "modern"})
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert client.get("/admin/routes/echo").json()["version"] == 1  # nothing changed
        assert client.get("/api/echo").status_code == 405


def test_a_failing_side_is_a_problem_that_names_it(
    gateway: GatewayRunner, tmp_path: object
) -> None:
    from tests.servers import unused_address

    dead = {"legacy": unused_address(), "modern": unused_address()}
    with gateway(route_spec(dead, mode="legacy")) as url:
        response = httpx.post(f"{url}/api/echo", json={})
        metrics = httpx.get(f"{url}/metrics").text
    assert response.status_code == 502
    assert response.headers["x-strangler-side"] == "legacy"
    assert response.json()["type"] == "urn:strangler:problem:upstream-error"
    assert (
        'strangler_gateway_errors_total{route="echo",side="legacy",type="upstream-error"}'
        in metrics
    )


def test_metrics_count_per_route_and_side(gateway: GatewayRunner, services: dict[str, str]) -> None:
    with (
        gateway(route_spec(services, weight=0.5, sticky="{header: X-C}")) as url,
        httpx.Client(base_url=url) as client,
    ):
        sides = [
            side(client.post("/api/echo", json={}, headers={"X-C": str(i)})) for i in range(100)
        ]
        metrics = client.get("/metrics").text
    for name in ("legacy", "modern"):
        line = f'strangler_gateway_requests_total{{route="echo",side="{name}"}}'
        counted = next(x for x in metrics.splitlines() if x.startswith(line))
        assert float(counted.split()[-1]) >= sides.count(name)
        assert (
            f'strangler_gateway_request_seconds_bucket{{le="0.005",route="echo",side="{name}"}}'
            in metrics
        )


def test_a_body_over_the_limit_is_refused_before_any_side(
    gateway: GatewayRunner, services: dict[str, str]
) -> None:
    spec = "limits: {max_body_bytes: 1000}\n" + route_spec(services, mode="legacy")
    with gateway(spec) as url, httpx.Client(base_url=url) as client:
        big = client.post("/api/echo", json={"text": "x" * 2000})
        assert big.status_code == 413, big.text
        assert big.headers["content-type"] == "application/problem+json"
        assert "x-strangler-side" not in big.headers
        assert side(client.post("/api/echo", json={"text": "x" * 100})) == "legacy"


def test_without_the_fast_lane_the_documented_route_answers(
    services: dict[str, str], tmp_path: Path
) -> None:
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    from strangler.platform import build_platform
    from strangler.spec import parse_spec
    from tests.servers import run_app

    spec = parse_spec(route_spec(services, weight=1.0), env={})
    platform = build_platform(spec, cache_dir=tmp_path)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with platform.running():
            yield

    app = FastAPI(lifespan=lifespan)
    app.include_router(platform.component("gateway").router())  # type: ignore[attr-defined]
    with run_app(app) as url:
        answer = httpx.post(f"{url}/api/echo", json={"i": 1})
    assert side(answer) == "modern"
    assert answer.json()["got"] == {"i": 1}
