"""``strangler serve`` with only ``models:`` in the spec: the model server as its own
process, as a user starts it; and the same section mounted beside adapters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.inference import onnx_models
from tests.servers import free_port, run_app

STRANGLER = [sys.executable, "-m", "strangler.cli"]
WEIGHTS = np.arange(8, dtype=np.float32).reshape(4, 2)
BODY = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]}]}


def test_serve_with_only_models_in_the_spec(tmp_path: Path) -> None:
    onnx_models.linear(tmp_path / "models" / "scores" / "1" / "model.onnx", WEIGHTS)
    port = free_port()
    spec = tmp_path / "strangler.yaml"
    spec.write_text(
        f"server: {{port: {port}}}\n"
        "models:\n"
        "  repository: models\n"  # relative to the spec file
        "  reload_s: 0.2\n"
        "  serve:\n"
        "    scores: {batching: {max_batch: 16, max_delay_ms: 1}, threads: {intra_op: 1}}\n"
    )
    process = subprocess.Popen(
        [*STRANGLER, "serve", "--config", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path.parent,  # not the spec's folder
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "strangler serve did not get ready"
            time.sleep(0.1)
        answer = httpx.post(f"{base}/v2/models/scores/infer", json=BODY)
        assert answer.status_code == 200, answer.text
        assert answer.json()["outputs"][0]["data"] == [12.0, 16.0]
        assert httpx.get(f"{base}/v2/models/scores").json()["parameters"]["max_batch"] == 16
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["components"]["models"]["models"] == {"scores": ["1"]}
        metrics = httpx.get(f"{base}/metrics").text
        assert 'strangler_model_requests_total{model="scores",version="1"} 1.0' in metrics
        assert "strangler_model_batch_size_bucket" in metrics

        # a new version appears in the folder: found by polling
        staging = tmp_path / "staging"
        onnx_models.linear(staging / "model.onnx", WEIGHTS, bias=1.0)
        os.rename(staging, tmp_path / "models" / "scores" / "2")
        while httpx.get(f"{base}/v2/models/scores").json()["versions"] != ["1", "2"]:
            assert time.monotonic() < deadline + 30, "version 2 did not go live"
            time.sleep(0.05)
        assert httpx.post(f"{base}/v2/models/scores/infer", json=BODY).json()["outputs"][0][
            "data"
        ] == [13.0, 17.0]
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode in (0, -signal.SIGINT, 130), output
    assert "Traceback" not in output


def test_models_mount_into_the_same_app_as_the_adapters(tmp_path: Path) -> None:
    onnx_models.linear(tmp_path / "models" / "scores" / "1" / "model.onnx", WEIGHTS)
    (tmp_path / "erp.sqlite").touch()
    text = (
        "systems:\n"
        "  erp: {kind: database, url: 'sqlite:///erp.sqlite', tables: {}}\n"
        "models: {repository: models, reload_s: 0}\n"
    )
    spec = parse_spec(text, filename="s.yaml", base_dir=tmp_path, env={})
    with run_app(create_app(spec, cache_dir=tmp_path)) as url:
        ready = httpx.get(f"{url}/readyz").json()["components"]
        assert {"erp", "models"} <= set(ready)
        answer = httpx.post(f"{url}/v2/models/scores/infer", json=BODY)
        assert answer.json()["outputs"][0]["data"] == [12.0, 16.0]
        paths = httpx.get(f"{url}/openapi.json").json()["paths"]
        assert "/v2/models/{name}/infer" in paths
