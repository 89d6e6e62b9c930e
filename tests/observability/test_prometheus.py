"""Debian's Prometheus scrapes the running demo estate (with a Kafka-protocol broker, so
its outbox relays): every metric that the Grafana dashboard, the alert rules and the Argo
Rollouts AnalysisTemplates name is in Prometheus's answers, every dashboard query is
PromQL that Prometheus runs, and ``promtool check rules`` passes on the alert rules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from ruamel.yaml import YAML

from strangler.demo.estate import DEMO_SPEC, running_estate
from strangler.demo.features import load_features
from strangler.deploy.k8s import render_k8s
from strangler.rest.app import create_app
from strangler.spec import Spec, parse_spec
from tests.events.broker import Broker
from tests.prometheus import Prometheus, run_prometheus
from tests.servers import run_app

ROOT = Path(__file__).parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "strangler.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
METRIC = re.compile(r"\bstrangler_[a-z0-9_]+\b")
REORDER = {
    "customerId": "C-0001",
    "sku": "SKU-1001",
    "quantityOnHand": 3,
    "averageDailySales": "1.5",
    "leadTimeDays": 7,
}


def _dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def _alert_queries() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def _analysis_queries(tmp_path: Path) -> list[str]:
    files = render_k8s(DEMO_SPEC)
    queries = []
    for name, text in files.items():
        if name.startswith("components/argo-rollouts/") and name.endswith("-analysis.yaml"):
            for metric in yaml.safe_load(text)["spec"]["metrics"]:
                queries.append(metric["provider"]["prometheus"]["query"])
    assert len(queries) == 6  # error rate and p99 for each of the three roles
    return queries


def _with_kafka(estate_env: dict[str, str], bootstrap: str) -> Spec:
    """The demo spec with a broker: its streams' outboxes are relayed to Kafka."""
    yaml_rt = YAML(typ="rt")
    tree = yaml_rt.load(DEMO_SPEC.read_text())
    tree["events"]["kafka"] = {"bootstrap": bootstrap}
    from io import StringIO

    out = StringIO()
    yaml_rt.dump(tree, out)
    return parse_spec(
        out.getvalue(), filename=str(DEMO_SPEC), base_dir=DEMO_SPEC.parent, env=estate_env
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's REST API (legacy systems, events, models, gateway, canary) after some
    traffic, with ETL runs in the same process; its host:port."""
    broker = Broker().start()
    state = tmp_path_factory.mktemp("demo-state")
    try:
        with running_estate(state_dir=state) as estate:
            spec = _with_kafka(estate.env, broker.bootstrap)
            assert load_features(spec)  # ETL: every feature view once
            with run_app(create_app(spec, cache_dir=state / "cache")) as url:
                with httpx.Client(base_url=url, timeout=30) as http:
                    for _ in range(3):
                        ok = http.post("/soap/inventory/GetStock", json={"sku": "SKU-1001"})
                        assert ok.status_code == 200, ok.text
                        advice = http.post("/api/reorder-advice", json=REORDER)
                        assert advice.status_code == 200, advice.text
                    failed = http.post("/soap/inventory/GetStock", json={"sku": "NO-SUCH-SKU"})
                    assert failed.status_code >= 400
                    refused = http.post("/api/reorder-advice", json={"sku": 1})
                    assert refused.status_code == 422
                yield url.removeprefix("http://")
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def prometheus(demo: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with run_prometheus({"strangler-demo": [demo]}, tmp_path_factory.mktemp("prom")) as running:
        running.wait_scraped("strangler-demo")
        yield running


@pytest.mark.parametrize("source", ["dashboard", "alerts", "analysis"])
def test_every_metric_named_is_scraped(prometheus: Prometheus, source: str, tmp_path: Path) -> None:
    queries = {
        "dashboard": _dashboard_queries,
        "alerts": _alert_queries,
        "analysis": lambda: _analysis_queries(tmp_path),
    }[source]()
    names = sorted({name for query in queries for name in METRIC.findall(query)})
    assert len(names) >= 6
    for name in names:
        # the outbox depth comes with the relay's first cycle, a scrape later
        prometheus.wait_for(f'count({{__name__="{name}"}})', lambda n: n > 0, timeout=30)


def test_every_dashboard_query_runs(prometheus: Prometheus) -> None:
    for query in _dashboard_queries():
        concrete = query.replace("$__rate_interval", "1m").replace("$job", ".*")
        prometheus.query(concrete)  # refused PromQL raises
    answered = prometheus.value(
        'sum(strangler_operation_requests_total{system="inventory",operation="GetStock"})'
    )
    assert answered is not None and answered >= 4
    errors = prometheus.query('strangler_operation_errors_total{system="inventory"}')
    # the unknown SKU's fault is counted by its problem type (the registry is the whole
    # process's, so earlier tests' error types may be there too)
    assert {e["metric"]["type"] for e in errors} & {"legacy-fault", "not-found"}


def test_dashboard_is_grafana_json() -> None:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] == "strangler"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"] and all(t["expr"] for t in panel["targets"])


def test_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package (./run setup)"
    checked = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 15 rules found" in checked.stdout
