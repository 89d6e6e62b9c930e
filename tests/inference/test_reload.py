"""Hot reload while clients hammer the model: a new version folder goes live (found by
polling, or on the admin call) without one failed request; changed files are read
again; a broken version is reported and the one before keeps serving."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from strangler.inference import ModelServer
from strangler.rest.app import build_app
from strangler.spec.inference import ModelsSpec
from tests.inference import onnx_models
from tests.servers import run_app

WEIGHTS = np.eye(4, 1, dtype=np.float32)  # y = x[0] + bias: the bias tells versions apart
X = [[1.0, 2.0, 3.0, 4.0]]
BODY = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": X[0]}]}


def version_folder(folder: Path, bias: float) -> Path:
    onnx_models.linear(folder / "model.onnx", WEIGHTS, bias=bias)
    return folder


def drop_in(staging: Path, target: Path, bias: float) -> None:
    """Write a version elsewhere, then move it into the repository in one rename."""
    version_folder(staging, bias)
    os.rename(staging, target)


@contextmanager
def serving(root: Path, **spec: Any) -> Iterator[str]:
    models = ModelsSpec.model_validate({"repository": str(root), **spec})
    with run_app(build_app([ModelServer(models)])) as url:
        yield url


@dataclass
class Load:
    """Clients posting to one model without pause; what each answer said."""

    url: str
    path: str
    answers: list[tuple[int, str | None, float | None]] = field(default_factory=list)
    stop: bool = False

    async def run(self, clients: int = 8) -> None:
        async with aiohttp.ClientSession(self.url) as session:
            await asyncio.gather(*(self._client(session) for _ in range(clients)))

    async def _client(self, session: aiohttp.ClientSession) -> None:
        while not self.stop:
            try:
                async with session.post(self.path, json=BODY) as response:
                    body = await response.json(content_type=None)
                    if response.status == 200:
                        value = body["outputs"][0]["data"][0]
                        self.answers.append((200, body["model_version"], value))
                    else:
                        self.answers.append((response.status, None, None))
            except aiohttp.ClientError:
                self.answers.append((0, None, None))

    async def until(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.01)

    def after_first(self, version: str) -> list[tuple[int, str | None, float | None]]:
        versions = [v for _, v, _ in self.answers]
        return self.answers[versions.index(version) :] if version in versions else []


def under_load(url: str, path: str, change: Callable[[Load], Awaitable[None]]) -> Load:
    """Run ``change`` while clients hammer ``path``; every answer, in order."""

    async def main() -> Load:
        load = Load(url, path)
        task = asyncio.create_task(load.run())
        try:
            await load.until(lambda: len(load.answers) >= 50)
            await change(load)
        finally:
            load.stop = True
            await task
        return load

    return asyncio.run(main())


def assert_no_failure(load: Load, biases: dict[str, float]) -> None:
    failed = [a for a in load.answers if a[0] != 200]
    assert failed == [], f"{len(failed)} of {len(load.answers)} requests failed: {failed[:3]}"
    for _, version, value in load.answers:
        assert version is not None and value == X[0][0] + biases[version]


def test_a_version_dropped_in_goes_live_under_load_without_a_failed_request(
    tmp_path: Path,
) -> None:
    root = tmp_path / "models"
    version_folder(root / "hot" / "1", bias=10.0)
    serve = {"hot": {"versions": {"latest": 1}}}
    with serving(root, reload_s=0.05, serve=serve) as url:

        async def change(load: Load) -> None:
            await asyncio.to_thread(drop_in, tmp_path / "staging", root / "hot" / "2", 20.0)
            await load.until(lambda: len(load.after_first("2")) >= 200)

        load = under_load(url, "/v2/models/hot/infer", change)
        assert_no_failure(load, {"1": 10.0, "2": 20.0})
        assert {v for _, v, _ in load.answers[:50]} == {"1"}
        assert {v for _, v, _ in load.answers[-100:]} == {"2"}
        assert httpx.get(f"{url}/v2/models/hot").json()["versions"] == ["2"]  # 1 retired
        assert httpx.get(f"{url}/v2/models/hot/versions/1").status_code == 404
        metrics = httpx.get(f"{url}/metrics").text
        assert 'strangler_model_requests_total{model="hot",version="2"}' in metrics
        assert 'model="hot",version="1"' not in metrics  # a retired version's series go


def test_the_admin_call_loads_a_new_version_under_load(tmp_path: Path) -> None:
    root = tmp_path / "models"
    version_folder(root / "admin" / "1", bias=1.0)
    with serving(root, reload_s=0) as url:

        async def change(load: Load) -> None:
            await asyncio.to_thread(drop_in, tmp_path / "staging", root / "admin" / "2", 2.0)
            async with httpx.AsyncClient(base_url=url) as client:
                # no polling: not served until asked
                before = await client.get("/v2/models/admin")
                assert before.json()["versions"] == ["1"]
                loaded = await client.post("/v2/repository/models/admin/load")
                assert loaded.status_code == 200, loaded.text
                assert loaded.json()["loaded"] == ["admin/2"]
                assert loaded.json()["retired"] == []
            await load.until(lambda: len(load.after_first("2")) >= 200)

        load = under_load(url, "/v2/models/admin/infer", change)
        assert_no_failure(load, {"1": 1.0, "2": 2.0})
        assert {v for _, v, _ in load.answers[-100:]} == {"2"}
        assert httpx.get(f"{url}/v2/models/admin").json()["versions"] == ["1", "2"]
        unknown = httpx.post(f"{url}/v2/repository/models/nothing/load")
        assert unknown.status_code == 404 and unknown.json()["model"] == "nothing"


def test_changed_files_are_read_again_and_a_broken_version_keeps_the_last_good_one(
    tmp_path: Path,
) -> None:
    root = tmp_path / "models"
    version_folder(root / "edit" / "1", bias=1.0)
    with serving(root, reload_s=0) as url, httpx.Client(base_url=url) as client:

        def answer(path: str = "edit") -> tuple[str, float]:
            body = client.post(f"/v2/models/{path}/infer", json=BODY).json()
            return body["model_version"], body["outputs"][0]["data"][0]

        assert answer() == ("1", 2.0)
        version_folder(tmp_path / "new", bias=5.0)
        os.replace(tmp_path / "new" / "model.onnx", root / "edit" / "1" / "model.onnx")
        report = client.post("/v2/repository/models/edit/load").json()
        assert report["loaded"] == ["edit/1"] and report["retired"] == ["edit/1"]
        assert answer() == ("1", 6.0)

        broken = root / "edit" / "2"
        broken.mkdir()
        (broken / "model.onnx").write_bytes(b"not a model")
        report = client.post("/v2/repository/models/edit/load").json()
        assert list(report["failed"]) == ["edit/2"] and report["loaded"] == []
        assert answer() == ("1", 6.0)  # the last good version keeps serving
        index = client.post("/v2/repository/index").json()
        [row] = [r for r in index if r["version"] == "2"]
        assert row["state"] == "UNAVAILABLE" and row["reason"]
        ready = client.get("/readyz")
        assert ready.status_code == 200
        component = ready.json()["components"]["models"]
        assert component["status"] == "degraded" and "edit/2" in component["failures"]

        # unchanged, it is not tried again; fixed, it goes live
        assert client.post("/v2/repository/models/edit/load").json()["failed"] == {}
        (broken / "metadata.yaml").write_text("inputs: {x: [a, b, c, d]}\n")
        version_folder(tmp_path / "fixed", bias=7.0)
        os.replace(tmp_path / "fixed" / "model.onnx", broken / "model.onnx")
        assert client.post("/v2/repository/models/edit/load").json()["loaded"] == ["edit/2"]
        assert answer() == ("2", 8.0)
        assert client.get("/readyz").json()["components"]["models"]["status"] == "ok"
        assert client.post("/v2/repository/index").json() == [
            {"name": "edit", "version": "1", "state": "READY"},
            {"name": "edit", "version": "2", "state": "READY"},
        ]


def test_a_bad_metadata_file_is_reported_with_its_field(tmp_path: Path) -> None:
    root = tmp_path / "models"
    version_folder(root / "meta" / "1", bias=0.0)
    (root / "meta" / "1" / "metadata.yaml").write_text("inputs: {x: 3}\n")
    version_folder(root / "meta" / "2", bias=0.0)
    (root / "meta" / "2" / "metadata.yaml").write_text("inputs: {nope: [a]}\n")
    with serving(root, reload_s=0) as url:
        failures = httpx.get(f"{url}/readyz").json()["components"]["models"]["failures"]
        assert "metadata.yaml" in failures["meta/1"] and "inputs.x" in failures["meta/1"]
        assert "nope" in failures["meta/2"]
        assert httpx.get(f"{url}/v2/models/meta").status_code == 404


def test_pinned_versions_and_a_removed_model(tmp_path: Path) -> None:
    root = tmp_path / "models"
    for number in (1, 2, 3):
        version_folder(root / "pinned" / str(number), bias=float(number))
    version_folder(root / "gone" / "1", bias=0.0)
    serve = {"pinned": {"versions": [1, 3]}}
    with serving(root, reload_s=0, serve=serve) as url, httpx.Client(base_url=url) as client:
        assert client.get("/v2/models/pinned").json()["versions"] == ["1", "3"]
        assert client.get("/v2/models/gone/ready").status_code == 200
        shutil.rmtree(root / "gone")
        assert client.post("/v2/repository/models/gone/load").json()["retired"] == ["gone/1"]
        assert client.get("/v2/models/gone/ready").status_code == 404
        assert client.post("/v2/repository/models/gone/load").status_code == 404


def test_a_spec_model_without_versions_keeps_the_server_unready(tmp_path: Path) -> None:
    root = tmp_path / "models"
    version_folder(root / "present" / "1", bias=0.0)
    with serving(root, reload_s=0, serve={"absent": {}}) as url:
        unready = httpx.get(f"{url}/v2/health/ready")
        assert unready.status_code == 503 and unready.json()["ready"] is False
        assert unready.headers["content-type"] == "application/problem+json"
        assert httpx.get(f"{url}/readyz").status_code == 503
        version_folder(root / "absent" / "4", bias=0.0)
        assert httpx.post(f"{url}/v2/repository/models/absent/load").status_code == 200
        assert httpx.get(f"{url}/v2/health/ready").json() == {"ready": True}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("serve: {m: {source: 'models:/m/1'}}", "mlflow"),
        ("serve: {'bad name': {}}", "model name"),
        ("serve: {m: {versions: {latest: 0}}}", "latest"),
        ("serve: {m: {batching: {max_delay_ms: -1}}}", "max_delay_ms"),
        ("reload_s: -1", "reload_s"),
    ],
)
def test_bad_model_settings_are_spec_errors(text: str, field: str) -> None:
    from strangler.errors import SpecError
    from strangler.spec import parse_spec

    with pytest.raises(SpecError) as caught:
        parse_spec(f"models:\n  {text}\n", filename="s.yaml", env={})
    assert field in str(caught.value) and "s.yaml:2" in str(caught.value)


@pytest.mark.parametrize("versions", ["some", "{latest: 0}", "[1, x]", "{latest: 2, also: 1}"])
def test_a_bad_versions_setting_is_one_problem(versions: str) -> None:
    from strangler.errors import SpecError
    from strangler.spec import parse_spec

    with pytest.raises(SpecError) as caught:
        parse_spec(f"models:\n  serve: {{m: {{versions: {versions}}}}}\n", env={})
    [problem] = caught.value.problems
    assert problem.field.startswith("models.serve.m.versions") and problem.line == 2


def test_the_repository_is_relative_to_the_spec_file(tmp_path: Path) -> None:
    from strangler.spec import parse_spec

    spec = parse_spec("models: {repository: here/models}\n", base_dir=tmp_path, env={})
    assert spec.section("models").repository == str(tmp_path / "here" / "models")
    assert parse_spec("models: {}\n", base_dir=tmp_path, env={}).section(
        "models"
    ).repository == str(tmp_path / "models")


def test_a_batched_model_in_worker_threads_swaps_under_load_too(tmp_path: Path) -> None:
    """A model slow enough to run in worker threads, batched: the version swapped out
    answers what it has queued before its threads stop."""
    root = tmp_path / "models"
    onnx_models.wide(root / "slow" / "1" / "model.onnx", hidden=1024, layers=4)
    x = np.ones((1, 64), dtype=np.float32)
    body = {"inputs": [{"name": "x", "shape": [1, 64], "datatype": "FP32", "data": x[0].tolist()}]}
    with serving(root, reload_s=0.05, serve={"slow": {"versions": {"latest": 1}}}) as url:

        async def hammer() -> list[tuple[int, str | None]]:
            answers: list[tuple[int, str | None]] = []
            stop = asyncio.Event()

            async def client(session: aiohttp.ClientSession) -> None:
                while not stop.is_set():
                    async with session.post("/v2/models/slow/infer", json=body) as response:
                        doc = await response.json(content_type=None)
                        answers.append((response.status, doc.get("model_version")))

            async with aiohttp.ClientSession(url) as session:
                tasks = [asyncio.create_task(client(session)) for _ in range(16)]
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 120
                while len(answers) < 50:
                    assert loop.time() < deadline
                    await asyncio.sleep(0.01)
                staging = tmp_path / "staging"
                await asyncio.to_thread(
                    onnx_models.wide, staging / "model.onnx", hidden=1024, layers=4
                )
                os.rename(staging, root / "slow" / "2")
                while sum(v == "2" for _, v in answers) < 100:
                    assert loop.time() < deadline, "version 2 never answered"
                    await asyncio.sleep(0.01)
                stop.set()
                await asyncio.gather(*tasks)
            return answers

        answers = asyncio.run(hammer())
        assert [a for a in answers if a[0] != 200] == []
        assert {v for _, v in answers} == {"1", "2"}
        batches = httpx.get(f"{url}/metrics").text
        assert 'strangler_model_batch_size_count{model="slow",version="2"}' in batches
        sizes = {
            s.labels["version"]: s.value
            for f in text_string_to_metric_families(batches)
            if f.name == "strangler_model_batch_size"
            for s in f.samples
            if s.name.endswith("_sum") and s.labels.get("model") == "slow"
        }
        runs = {
            s.labels["version"]: s.value
            for f in text_string_to_metric_families(batches)
            if f.name == "strangler_model_batch_size"
            for s in f.samples
            if s.name.endswith("_count") and s.labels.get("model") == "slow"
        }
        assert sizes["2"] > runs["2"]  # version 2 batched requests while serving the load
