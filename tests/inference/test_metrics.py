"""Per model and version, Prometheus metrics at the app's ``/metrics``: requests, errors by
kind, latency, queue time, run time and batch size; promtool accepts the exposition,
and a real Prometheus scrapes it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from strangler.inference import ModelServer
from strangler.rest.app import build_app
from strangler.spec.inference import ModelsSpec
from tests.inference import onnx_models
from tests.servers import free_port, run_app

PROMETHEUS = shutil.which("prometheus")  # Debian's prometheus: ./run setup installs it
PROMTOOL = shutil.which("promtool")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("metrics")
    onnx_models.lookup(root / "metered" / "3" / "model.onnx")
    with run_app(build_app([ModelServer(ModelsSpec(repository=str(root), reload_s=0))])) as base:
        yield base


def samples(url: str, model: str) -> dict[tuple[str, str], float]:
    """(sample name, kind label or "") -> value, for ``model``'s version 3."""
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("model") == model and labels.get("version") == "3" and "le" not in labels:
                found[(sample.name, labels.get("kind", ""))] = sample.value
    return found


def post(url: str, index: object, datatype: str = "INT64") -> int:
    body = {"inputs": [{"name": "index", "shape": [1], "datatype": datatype, "data": [index]}]}
    return httpx.post(f"{url}/v2/models/metered/infer", json=body).status_code


def test_requests_errors_and_timings_per_model_version(url: str) -> None:
    assert [post(url, 1), post(url, 2), post(url, 4)] == [200, 200, 200]
    assert post(url, 1.5, "FP32") == 400  # bad input
    assert post(url, 50) == 500  # the run fails
    found = samples(url, "metered")
    assert found[("strangler_model_requests_total", "")] == 5
    assert found[("strangler_model_errors_total", "bad_input")] == 1
    assert found[("strangler_model_errors_total", "failed")] == 1
    assert found[("strangler_model_errors_total", "overloaded")] == 0
    assert found[("strangler_model_request_seconds_count", "")] == 3  # answered ones
    assert 0 < found[("strangler_model_request_seconds_sum", "")] < 10
    assert found[("strangler_model_queue_seconds_count", "")] == 4  # every one that was run
    assert found[("strangler_model_run_seconds_count", "")] == 4
    assert found[("strangler_model_batch_size_count", "")] == 4
    assert found[("strangler_model_batch_size_sum", "")] == 4


def test_promtool_accepts_the_exposition(url: str) -> None:
    post(url, 1)
    text = httpx.get(f"{url}/metrics").text
    assert "strangler_model_run_seconds_bucket" in text
    assert PROMTOOL is not None, "install Debian's prometheus (./run setup)"
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_prometheus_scrapes_the_models_metrics(url: str, tmp_path: Path) -> None:
    assert post(url, 0) == 200
    target = url.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: strangler\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    assert PROMETHEUS is not None, "install Debian's prometheus (./run setup)"
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    query = 'sum by (version) (strangler_model_requests_total{model="metered"})'
    try:
        deadline = time.monotonic() + 60
        result: list[dict[str, object]] = []
        while not result:
            assert process.poll() is None, "prometheus exited"
            assert time.monotonic() < deadline, "prometheus never scraped the metrics"
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}
                ).json()
                result = answer["data"]["result"]
            except (httpx.TransportError, ValueError, KeyError):
                pass
            if not result:
                time.sleep(0.25)
        [series] = result
        assert series["metric"] == {"version": "3"}
        value = series["value"]
        assert isinstance(value, list) and float(value[1]) >= 1
    finally:
        process.terminate()
        process.wait(30)
