"""Model versions from a real MLflow model registry (MLflow's own client on a SQLite store,
and an ``mlflow server`` over HTTP): a version registered there goes live like one dropped
into the folder, under load."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from strangler.errors import SpecError
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.inference import onnx_models
from tests.servers import free_port, run_app

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlflow.tracking import MlflowClient  # after telemetry is switched off

WEIGHTS = np.arange(8, dtype=np.float32).reshape(4, 2)
ROW = [1.0, 1.0, 1.0, 1.0]


class Registry:
    """A local MLflow registry: MLflow's client on a SQLite database, or an ``mlflow
    server`` over HTTP (its artifacts proxied) when ``uri`` is an ``http://`` URL."""

    def __init__(self, uri: str, folder: Path) -> None:
        self.folder = folder
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        location = None if uri.startswith("http") else (folder / "artifacts").as_uri()
        self.experiment = self.client.create_experiment(
            f"models-{secrets.token_hex(4)}", artifact_location=location
        )

    def register(self, name: str, bias: float) -> str:
        """Log a linear model (``y = x @ W + bias``) as a run's artifact; register it."""
        files = self.folder / "staging" / f"{name}-{bias}"
        onnx_models.linear(files / "model.onnx", WEIGHTS, bias=bias)
        (files / "metadata.yaml").write_text("inputs: {x: [a, b, c, d]}\n")
        run = self.client.create_run(self.experiment)
        self.client.log_artifacts(run.info.run_id, str(files), "model")
        self.client.set_terminated(run.info.run_id)
        if not self.client.search_registered_models(f"name = '{name}'"):
            self.client.create_registered_model(name)
        version = self.client.create_model_version(
            name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id
        )
        return str(version.version)


@contextlib.contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """``mlflow server`` on a free port (SQLite store, artifacts served by it); its URL."""
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
        "--artifacts-destination", str(folder / "served-artifacts"),
    ]  # fmt: skip
    log = (folder / "mlflow-server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (folder / "mlflow-server.log").read_text()[-2000:]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        log.close()


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture(params=["database", "server"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    folder = tmp_path / "mlflow"
    folder.mkdir()
    if request.param == "database":
        return Registry(f"sqlite:///{folder / 'mlflow.db'}", folder)
    return Registry(request.getfixturevalue("server_url"), folder)


def _spec(tmp_path: Path, registry: Registry, serve: str) -> Any:
    (tmp_path / "models").mkdir(exist_ok=True)
    text = (
        "version: 1\n"
        "models:\n"
        "  repository: models\n"
        "  reload_s: 0.2\n"
        f"  log: sqlite:///{tmp_path / 'log.sqlite'}\n"
        f"  mlflow: {{tracking_uri: '{registry.uri}'}}\n"
        f"  serve: {serve}\n"
    )
    return parse_spec(text, filename="test.yaml", base_dir=tmp_path, env={})


def _infer(client: httpx.Client, path: str) -> httpx.Response:
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": ROW}]}
    return client.post(f"/v2/models/{path}/infer", json=body)


def _poll(check: Any, what: str, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_version_registered_in_mlflow_goes_live_under_load(
    registry: Registry, tmp_path: Path
) -> None:
    registry.register("reorder-gbm", bias=0.0)
    spec = _spec(tmp_path, registry, "{reorder: {source: 'models:/reorder-gbm'}}")
    with (
        run_app(create_app(spec, cache_dir=tmp_path / "cache")) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        _poll(lambda: client.get("/v2/models/reorder/ready").status_code == 200, "version 1")
        first = _infer(client, "reorder")
        assert first.status_code == 200, first.text
        assert first.json()["model_version"] == "1"
        assert first.json()["outputs"][0]["data"] == [12.0, 16.0]  # sum of W's columns

        stop = threading.Event()

        def load() -> list[tuple[int, str | None]]:
            seen = []
            while not stop.is_set():
                answer = _infer(client, "reorder")
                body = answer.json() if answer.status_code == 200 else {}
                seen.append((answer.status_code, body.get("model_version")))
            return seen

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            workers = [pool.submit(load) for _ in range(4)]
            assert registry.register("reorder-gbm", bias=100.0) == "2"
            _poll(
                lambda: _infer(client, "reorder").json()["model_version"] == "2",
                "version 2 to be served",
            )
            stop.set()
            answers = [a for w in workers for a in w.result()]
        assert answers and all(status == 200 for status, _ in answers), answers[:5]
        assert {v for _, v in answers} <= {"1", "2"}
        second = _infer(client, "reorder/versions/2")
        assert second.json()["outputs"][0]["data"] == [112.0, 116.0]
        assert _infer(client, "reorder/versions/1").json()["outputs"][0]["data"] == [12.0, 16.0]
        versions = client.get("/v2/models/reorder").json()["versions"]
        assert sorted(versions) == ["1", "2"]

        # deleted in the registry: retired at the next reload
        registry.client.delete_model_version("reorder-gbm", "1")
        _poll(
            lambda: client.get("/v2/models/reorder/versions/1/ready").status_code == 404,
            "version 1 to be retired",
        )
        assert _infer(client, "reorder").json()["model_version"] == "2"


def test_a_pinned_version_stays_pinned(registry: Registry, tmp_path: Path) -> None:
    registry.register("churn", bias=0.0)
    registry.register("churn", bias=5.0)
    spec = _spec(tmp_path, registry, "{churn: {source: 'models:/churn/1'}}")
    with (
        run_app(create_app(spec, cache_dir=tmp_path / "cache")) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        _poll(lambda: client.get("/v2/models/churn/ready").status_code == 200, "version 1")
        assert client.get("/v2/models/churn").json()["versions"] == ["1"]
        assert _infer(client, "churn").json()["outputs"][0]["data"] == [12.0, 16.0]
        # by entity too: a model that names no feature view takes its features inline
        features = dict(zip("abcd", ROW, strict=True))
        answer = client.post("/predict/churn", json={"features": features})
        assert answer.status_code == 200, answer.text
        assert answer.json()["prediction"] == {"y": [12.0, 16.0]}
        assert answer.json()["version"] == "1"
        refused = client.post("/predict/churn", json={"entity": {"sku": "SKU-1001"}})
        assert refused.status_code == 422 and "no feature table" in refused.text
    # the download was kept in the cache: a restart reads no artifact again
    assert (tmp_path / "cache" / "mlflow-models" / "churn" / "1" / "model.onnx").is_file()


def test_a_source_that_is_no_model_uri_is_a_spec_error(registry: Registry, tmp_path: Path) -> None:
    spec = _spec(tmp_path, registry, "{churn: {source: 'runs:/abc/model'}}")
    with pytest.raises(SpecError) as caught:
        create_app(spec, cache_dir=tmp_path / "cache")
    assert "models.serve.churn.source" in str(caught.value)
    assert "models:/<name>" in str(caught.value)
