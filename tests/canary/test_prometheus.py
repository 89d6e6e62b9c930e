"""Rollout measurements from a real Prometheus scraping a real strangler gateway.

One Prometheus (Debian's) per module scrapes the app's ``/metrics`` every
second; the route's modern side is a real HTTP service the test switches to
answer 503. :class:`PrometheusSource` must count what the gateway answered,
and fail loudly when Prometheus is gone or refuses a query.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from strangler.canary.model import Measurement
from strangler.canary.prometheus import PrometheusError, PrometheusSource
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from strangler.spec.gateway import PrometheusSpec, RolloutSpec
from tests.canary.conftest import (
    Faults,
    advice_service,
    analyses,
    audit,
    status,
    traffic,
    wait_for,
)
from tests.gateway.conftest import echo_service
from tests.prometheus import Prometheus, run_prometheus
from tests.servers import Answer, body_service, free_port, run_app, run_config, unused_address


@dataclass
class Switch:
    """What the switchable modern side answers: a status (200 or an error)."""

    status: int = 200


def switchable_service(switch: Switch) -> Any:
    """An ASGI service answering ``{"side": "modern"}`` with ``switch.status``."""

    async def handle(body: bytes) -> Answer:
        return switch.status, b"application/json", b'{"side": "modern"}'

    return body_service(handle)


@dataclass
class Estate:
    """The gateway, its route, the modern side's switch and the Prometheus scraping it."""

    url: str
    route: str
    switch: Switch
    prometheus: Prometheus
    gateway_port: int  # scraped as job "gateway": where a test's own app may listen

    def send(self, count: int) -> list[int]:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            return [client.post("/api/prom", json={"n": n}).status_code for n in range(count)]

    def scraped(self, side: str, total: int) -> None:
        """Wait until Prometheus holds ``total`` answers of ``side`` for the route."""
        self.prometheus.wait_for(
            f'sum(strangler_gateway_requests_total{{route="{self.route}",side="{side}"}})',
            lambda value: value >= total,
        )


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    tmp = tmp_path_factory.mktemp("prometheus")
    switch = Switch()
    route = f"prom_{uuid.uuid4().hex[:8]}"  # the metrics registry is the process's: unique
    with run_app(echo_service("legacy")) as legacy, run_app(switchable_service(switch)) as modern:
        text = f"""
routes:
  state: "sqlite:///{tmp / "state.db"}"
  refresh_s: 0.1
  items:
    {route}:
      path: /api/prom
      legacy: {{url: "{legacy}/legacy"}}
      modern: {{url: "{modern}/modern"}}
      mode: modern
    {route}_shadow:
      path: /api/prom-shadow
      legacy: {{url: "{legacy}/legacy"}}
      modern: {{url: "{modern}/modern"}}
      mode: shadow
"""
        spec = parse_spec(text, filename="routes.yaml", base_dir=tmp, env={})
        with run_app(create_app(spec, cache_dir=tmp)) as url:
            later = free_port()
            jobs = {"strangler": [url.removeprefix("http://")], "gateway": [f"127.0.0.1:{later}"]}
            with run_prometheus(jobs, tmp / "prometheus") as prometheus:
                prometheus.wait_scraped("strangler")
                yield Estate(url, route, switch, prometheus, later)


def measure(
    source: PrometheusSource, route: str, since: dt.datetime, until: dt.datetime | None = None
) -> Measurement:
    return asyncio.run(source.measure(route, since, until or dt.datetime.now(dt.UTC)))


def rollout(**queries: str) -> RolloutSpec:
    return RolloutSpec.model_validate({"steps": [0.5, 1.0], "queries": queries})


def test_the_built_in_queries_count_the_modern_answers_and_errors(estate: Estate) -> None:
    source = PrometheusSource(PrometheusSpec(url=estate.prometheus.url), {estate.route: rollout()})
    since = dt.datetime.now(dt.UTC)
    before = estate.prometheus.value(
        f'sum(strangler_gateway_requests_total{{route="{estate.route}",side="modern"}})'
    )
    base = int(before or 0)
    estate.switch.status = 200
    assert estate.send(30) == [200] * 30
    estate.scraped("modern", base + 30)
    healthy = measure(source, estate.route, since)
    assert (healthy.requests, healthy.errors, healthy.error_rate) == (30, 0, 0.0)
    assert healthy.p99_s is not None and healthy.p99_s > 0
    assert (healthy.compared, healthy.disagreements) == (0, 0)

    estate.switch.status = 503
    try:
        assert estate.send(10) == [503] * 10
    finally:
        estate.switch.status = 200
    estate.scraped("modern", base + 40)
    broken = measure(source, estate.route, since)
    assert (broken.requests, broken.errors) == (40, 10)
    assert broken.error_rate == pytest.approx(0.25)


def test_the_shadow_calls_are_the_modern_answers_of_the_shadow_step(estate: Estate) -> None:
    route = f"{estate.route}_shadow"
    source = PrometheusSource(PrometheusSpec(url=estate.prometheus.url), {route: rollout()})
    since = dt.datetime.now(dt.UTC)
    with httpx.Client(base_url=estate.url, timeout=10) as client:
        for n in range(12):
            answer = client.post("/api/prom-shadow", json={"n": n})
            assert answer.headers["x-strangler-side"] == "legacy"
    estate.prometheus.wait_for(
        f'sum(strangler_gateway_shadow_calls_total{{route="{route}"}})', lambda v: v >= 12
    )
    found = measure(source, route, since)
    assert (found.requests, found.errors) == (12, 0)  # the shadow calls the modern side answered
    assert (found.compared, found.disagreements) == (12, 12)  # the echo names its side: differs


def test_a_rollouts_own_queries_are_filled_in_and_used(estate: Estate) -> None:
    route = estate.route
    own = rollout(
        samples='sum(increase(strangler_gateway_requests_total{route="{route}"}[{window}])) * 0'
        " + 500",
        error_rate="vector(0.1)",
        p99_ms="vector(42)",
        disagreement_rate="vector(0)",
    )
    source = PrometheusSource(PrometheusSpec(url=estate.prometheus.url), {route: own})
    found = measure(source, route, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30))
    assert (found.requests, found.errors, found.compared, found.disagreements) == (500, 50, 500, 0)
    assert found.p99_s == pytest.approx(0.042)


def test_a_query_prometheus_refuses_is_an_error_naming_it(estate: Estate) -> None:
    source = PrometheusSource(
        PrometheusSpec(url=estate.prometheus.url),
        {estate.route: rollout(error_rate="sum(rate(strangler_gateway_errors_total[{window}])")},
    )
    until = dt.datetime.now(dt.UTC)
    with pytest.raises(PrometheusError, match="refused") as caught:
        measure(source, estate.route, until - dt.timedelta(seconds=9.5), until)
    assert caught.value.query.startswith("sum(rate(strangler_gateway_errors_total[10s])")


def test_a_query_of_many_series_is_an_error(estate: Estate) -> None:
    source = PrometheusSource(
        PrometheusSpec(url=estate.prometheus.url),
        {estate.route: rollout(p99_ms="up or vector(1)")},
    )
    with pytest.raises(PrometheusError, match="series where one number is needed"):
        measure(source, estate.route, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10))


def test_a_prometheus_that_is_not_there_is_an_error(tmp_path: Path) -> None:
    source = PrometheusSource(PrometheusSpec(url=unused_address(), timeout_s=2), {})
    with pytest.raises(PrometheusError, match="cannot be asked"):
        measure(source, "anything", dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10))


def rollout_app(tmp: Path, route: str, prometheus_url: str, modern: str, legacy: str) -> Any:
    """The gateway app of one route whose rollout is measured by the Prometheus at the URL."""
    modern_side = 'route="{route}",side="modern"'  # the rollout's own PromQL fills {route} in
    text = f"""
routes:
  state: "sqlite:///{tmp / "state.db"}"
  refresh_s: 0.1
  prometheus: {{url: "{prometheus_url}", timeout_s: 2}}
  items:
    {route}:
      path: /api/advice
      legacy: {{url: "{legacy}/advice"}}
      modern: {{url: "{modern}/advice"}}
      mode: legacy
      rollout:
        steps: [0.5, 1.0]
        bake_s: 600         # a healthy step is held: only a crossed threshold moves it
        min_samples: 20
        window_s: 10
        interval_s: 0.5
        thresholds: {{error_rate: 0.05, p99_ms: 2000}}
        queries:
          error_rate: >-
            sum(rate(strangler_gateway_errors_total{{{modern_side}}}[{{window}}]))
            / sum(rate(strangler_gateway_requests_total{{{modern_side}}}[{{window}}]))
"""
    spec = parse_spec(text, filename="routes.yaml", base_dir=tmp, env={})
    return create_app(spec, cache_dir=tmp)


def test_a_rollout_measured_by_prometheus_rolls_back_when_the_errors_show_there(
    tmp_path: Path, estate: Estate
) -> None:
    route = f"promroll_{uuid.uuid4().hex[:8]}"
    faults = Faults()
    prom = estate.prometheus  # it scrapes the port the app is given, before it listens there
    with (
        run_app(advice_service("legacy", Faults())) as legacy,
        run_app(advice_service("modern", faults)) as modern,
    ):
        app = rollout_app(tmp_path, route, prom.url, modern, legacy)
        port = estate.gateway_port
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        with run_config(config) as url, traffic(url, threads=2) as seen:
            prom.wait_scraped("gateway")
            healthy = wait_for(
                lambda: [a for a in analyses(url, route) if a["samples"] >= 20],
                "an analysis of 20 modern answers from Prometheus",
            )
            assert healthy[-1]["verdict"] == "wait" and healthy[-1]["error_rate"] == 0.0
            assert status(url, route)["status"] == "running"
            faults.errors = 1.0
            final = wait_for(
                lambda: (s := status(url, route))["status"] == "rolled_back" and s,
                "rollback on the errors Prometheus saw",
                60,
            )
            errors = prom.value(
                f'sum(strangler_gateway_errors_total{{route="{route}",side="modern"}})'
            )
            rollback = audit(url, route)[-1]
        assert (final["mode"], final["weight"]) == ("legacy", 0.0)
        assert rollback["action"] == "rollback" and "error rate" in rollback["reason"]
        assert rollback["figures"]["error_rate"] > 0.05
        assert errors is not None and errors > 0
        assert seen.statuses.get(503, 0) > 0


def test_a_rollout_whose_prometheus_is_away_never_passes(tmp_path: Path) -> None:
    route = f"promaway_{uuid.uuid4().hex[:8]}"
    with (
        run_app(advice_service("legacy", Faults())) as legacy,
        run_app(advice_service("modern", Faults())) as modern,
    ):
        app = rollout_app(tmp_path, route, unused_address(), modern, legacy)
        with run_app(app) as url, traffic(url) as seen:
            rows = wait_for(
                lambda: len(found := analyses(url, route)) >= 3 and found, "three analyses"
            )
            wait_for(lambda: seen.sides.get("modern", 0) >= 20, "modern answers")
            rows = analyses(url, route)
            now = status(url, route)
        assert {row["verdict"] for row in rows} == {"wait"}
        assert all("PrometheusError" in row["reasons"][0] for row in rows)
        assert "cannot be asked" in rows[-1]["reasons"][0]
        assert (now["status"], now["step"]) == ("running", 0)
