"""Dynamic batching over real HTTP: concurrent requests share runs, each gets its own
rows back; models that cannot be batched are served one request per run; a
failing request in a batch fails alone; a full queue refuses with 503."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import onnxruntime as ort
import pytest
from prometheus_client.parser import text_string_to_metric_families

from strangler.errors import BadTensor, ModelError, ModelOverloaded
from strangler.inference import ModelServer
from strangler.rest.app import build_app
from strangler.spec.inference import ModelsSpec
from tests.inference import onnx_models
from tests.servers import run_app

CONCURRENCY = 32
REQUESTS = 256


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batching")
    # about 1.5 ms a row alone: requests pile up while one runs
    onnx_models.wide(root / "batch_wide" / "1" / "model.onnx", hidden=2048, layers=3)
    onnx_models.wide(root / "batch_unbatched" / "1" / "model.onnx", hidden=2048, layers=3)
    onnx_models.fixed(root / "batch_fixed" / "1" / "model.onnx")
    onnx_models.lookup(root / "batch_lookup" / "1" / "model.onnx")
    return root


@pytest.fixture(scope="module")
def url(repository: Path) -> Iterator[str]:
    spec = ModelsSpec.model_validate(
        {
            "repository": str(repository),
            "reload_s": 0,
            "serve": {"batch_unbatched": {"batching": {"enabled": False}}},
        }
    )
    with run_app(build_app([ModelServer(spec)])) as base:
        yield base


def batch_sizes(url: str, model: str) -> tuple[float, float]:
    """The batch-size histogram's (sum, count) of ``model``: requests and runs."""
    text = httpx.get(f"{url}/metrics").text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "strangler_model_batch_size":
            for sample in family.samples:
                if sample.labels.get("model") == model and sample.name.endswith(("_sum", "_count")):
                    found[sample.name.rsplit("_", 1)[1]] = sample.value
    return found.get("sum", 0.0), found.get("count", 0.0)


async def hammer(url: str, path: str, rows: list[dict[str, Any]]) -> list[Answer]:
    """POST every body, ``CONCURRENCY`` at a time, over keep-alive connections."""
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(url, connector=connector) as client:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(body: dict[str, Any]) -> Answer:
            async with gate, client.post(path, json=body) as response:
                return Answer(response.status, await response.json(content_type=None))

        return await asyncio.gather(*(one(body) for body in rows))


@dataclass
class Answer:
    status_code: int
    body: Any

    def json(self) -> Any:
        return self.body


def wide_bodies(count: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    x = np.random.default_rng(3).standard_normal((count, 64)).astype(np.float32)
    bodies = [
        {"inputs": [{"name": "x", "shape": [1, 64], "datatype": "FP32", "data": row.tolist()}]}
        for row in x
    ]
    return x, bodies


@pytest.mark.parametrize(("model", "coalesced"), [("batch_wide", True), ("batch_unbatched", False)])
def test_concurrent_requests_share_runs_and_each_gets_its_own_rows(
    url: str, repository: Path, model: str, coalesced: bool
) -> None:
    x, bodies = wide_bodies(REQUESTS)
    before = batch_sizes(url, model)
    responses = asyncio.run(hammer(url, f"/v2/models/{model}/infer", bodies))
    assert [r.status_code for r in responses] == [200] * REQUESTS
    session = ort.InferenceSession(str(repository / model / "1" / "model.onnx"))
    [expected] = session.run(None, {"x": x})
    got = np.array([r.json()["outputs"][0]["data"] for r in responses], dtype=np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    requests, runs = (a - b for a, b in zip(batch_sizes(url, model), before, strict=True))
    assert requests == REQUESTS
    if coalesced:
        assert runs < REQUESTS / 2, f"{runs} runs for {REQUESTS} requests"
    else:
        assert runs == REQUESTS


def test_a_model_with_a_fixed_first_dimension_is_served_unbatched(url: str) -> None:
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((64, 2, 3)).astype(np.float32)
    bodies = [
        {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": x.ravel().tolist()}]}
        for x in xs
    ]
    before = batch_sizes(url, "batch_fixed")
    responses = asyncio.run(hammer(url, "/v2/models/batch_fixed/infer", bodies))
    for x, response in zip(xs, responses, strict=True):
        assert response.status_code == 200, response.body
        [out] = response.json()["outputs"]
        assert out["shape"] == [3, 2]
        np.testing.assert_array_equal(np.array(out["data"], np.float32).reshape(3, 2), x.T)
    requests, runs = (a - b for a, b in zip(batch_sizes(url, "batch_fixed"), before, strict=True))
    assert requests == runs == 64


def test_a_request_that_fails_its_batch_fails_alone(url: str) -> None:
    indices = [i % 5 for i in range(60)]
    indices[17] = indices[42] = 99  # past the table: Gather fails
    bodies = [
        {"inputs": [{"name": "index", "shape": [1], "datatype": "INT64", "data": [i]}]}
        for i in indices
    ]
    responses = asyncio.run(hammer(url, "/v2/models/batch_lookup/infer", bodies))
    for index, response in zip(indices, responses, strict=True):
        if index == 99:
            assert response.status_code == 500, response.body
            body = response.json()
            assert body["type"] == "urn:strangler:problem:model-error"
            assert body["model"] == "batch_lookup" and "failed to run" in body["error"]
        else:
            assert response.status_code == 200, response.body
            assert response.json()["outputs"][0]["data"] == [2.0 * index, 2.0 * index + 1]


async def in_process(repository: Path, settings: dict[str, Any]) -> ModelServer:
    spec = ModelsSpec.model_validate(
        {"repository": str(repository), "reload_s": 0, "serve": {"batch_lookup": settings}}
    )
    server = ModelServer(spec)
    await server.start()
    return server


def test_in_process_infer_goes_through_the_batcher(repository: Path) -> None:
    async def main() -> None:
        server = await in_process(repository, {})
        try:
            model = server.model("batch_lookup")
            assert model.version == "1" and model.signature.batchable
            # all queued in one tick: the first runs alone, the rest together
            indices = [np.array([i % 5], dtype=np.int64) for i in range(20)]
            indices[9] = np.array([7], dtype=np.int64)
            results = await asyncio.gather(
                *(model.infer({"index": i}) for i in indices), return_exceptions=True
            )
            for index, result in zip(indices, results, strict=True):
                if index[0] == 7:
                    assert isinstance(result, ModelError)
                else:
                    assert isinstance(result, dict)
                    np.testing.assert_array_equal(result["row"], [[2 * index[0], 2 * index[0] + 1]])
            with pytest.raises(BadTensor, match="'index'"):
                await model.infer({"index": np.array([1.0])})
        finally:
            await server.close()

    asyncio.run(main())


def test_a_full_queue_refuses_with_overloaded(repository: Path) -> None:
    async def main() -> None:
        server = await in_process(repository, {"batching": {"max_queue": 3, "max_batch": 1}})
        try:
            model = server.model("batch_lookup")
            one = np.array([1], dtype=np.int64)
            results = await asyncio.gather(
                *(model.infer({"index": one}) for _ in range(10)), return_exceptions=True
            )
            refused = [r for r in results if isinstance(r, ModelOverloaded)]
            answered = [r for r in results if isinstance(r, dict)]
            assert len(refused) == 6 and len(answered) == 4  # one running, three queued
        finally:
            await server.close()

    asyncio.run(main())


@pytest.mark.parametrize("instances", [1, 2])
def test_instances_are_runs_in_flight_at_once(repository: Path, instances: int) -> None:
    """Two requests to a model that cannot be batched: with two instances both run at once."""
    import threading

    from strangler.inference.batching import Batcher
    from strangler.inference.metrics import VersionMetrics
    from strangler.spec.inference import BatchingSpec

    session = ort.InferenceSession(str(repository / "batch_fixed" / "1" / "model.onnx"))
    both = threading.Barrier(2, timeout=2)
    met: list[bool] = []

    def run(outputs: Any, feed: Any) -> Any:
        try:
            both.wait()  # returns only when two runs are in flight together
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)
        return session.run(outputs, feed)

    batcher = Batcher(
        run,
        ["x"],
        ["y"],
        model="batch_fixed",
        version="1",
        batchable=False,
        settings=BatchingSpec(),
        instances=instances,
        metrics=VersionMetrics("batch_fixed", "instances"),
    )

    async def main() -> list[Any]:
        x = np.ones((2, 3), dtype=np.float32)
        try:
            return list(await asyncio.gather(*(batcher.infer({"x": x}, 1) for _ in range(2))))
        finally:
            await batcher.close()

    results = asyncio.run(main())
    assert [r["y"].shape for r in results] == [(3, 2), (3, 2)]
    assert met == ([True, True] if instances == 2 else [False, False])


def test_thread_settings_reach_the_session(repository: Path) -> None:
    async def main() -> None:
        server = await in_process(repository, {"threads": {"intra_op": 2, "inter_op": 3}})
        try:
            options = server.model("batch_lookup").session.get_session_options()
            assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 3)
            default = server.model("batch_fixed").session.get_session_options()
            assert (default.intra_op_num_threads, default.inter_op_num_threads) == (1, 1)
        finally:
            await server.close()

    asyncio.run(main())
