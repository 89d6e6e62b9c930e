"""Triton's own v2 client (``tritonclient.http``) against the service: the same outputs as
``session.run`` in-process, for models built here and models that ship in the onnx
wheel's test data, with binary and with JSON tensors; its health, metadata,
repository and error calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from strangler.inference import ModelServer
from strangler.rest.app import build_app
from strangler.spec.inference import ModelsSpec
from tests.inference import onnx_models
from tests.servers import run_app

SHIPPED = {
    "conv2d": "pytorch-converted/test_Conv2d",
    "embedding": "pytorch-converted/test_Embedding",
    "logsoftmax": "pytorch-converted/test_log_softmax_lastdim",
    "maxpool3d": "pytorch-converted/test_MaxPool3d_stride_padding",
    "chunk": "pytorch-operator/test_operator_chunk",
    "maximum": "pytorch-operator/test_operator_max",
    "concat": "pytorch-operator/test_operator_concat2",
    "sequence": "simple/test_sequence_model7",
    "strnorm": "simple/test_strnorm_model_monday_casesensintive_nochangecase",
}
"""Served name -> a model of the onnx wheel's test data (several inputs or outputs,
FP32, FP64, INT64 and BYTES tensors, fixed shapes: served unbatched)."""


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("triton")
    for name, relative in SHIPPED.items():
        onnx_models.shipped(relative, root / name / "1")
    onnx_models.classifier(root / "classifier" / "1" / "model.onnx")
    onnx_models.wide(root / "wide" / "1" / "model.onnx")
    return root


@pytest.fixture(scope="module")
def url(repository: Path) -> Iterator[str]:
    spec = ModelsSpec(repository=str(repository), reload_s=0)
    with run_app(build_app([ModelServer(spec)])) as base:
        yield base


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(url.removeprefix("http://"))
    try:
        yield client
    finally:
        client.close()


def in_process(repository: Path, name: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(
        str(repository / name / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    return list(session.run(None, feeds))


def call(
    client: triton.InferenceServerClient,
    name: str,
    feeds: dict[str, np.ndarray],
    *,
    binary: bool,
) -> tuple[Any, list[str]]:
    metadata = client.get_model_metadata(name)
    inputs = []
    for spec in metadata["inputs"]:
        value = feeds[spec["name"]]
        tensor = triton.InferInput(spec["name"], list(value.shape), np_to_triton_dtype(value.dtype))
        tensor.set_data_from_numpy(value, binary_data=binary)
        inputs.append(tensor)
    names = [o["name"] for o in metadata["outputs"]]
    outputs = [triton.InferRequestedOutput(n, binary_data=binary) for n in names]
    return client.infer(name, inputs, outputs=outputs, request_id="r1"), names


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_models_of_the_onnx_wheel_answer_as_in_process(
    client: triton.InferenceServerClient, repository: Path, name: str, binary: bool
) -> None:
    inputs, expected = onnx_models.test_data(SHIPPED[name])
    metadata = client.get_model_metadata(name)
    feeds = {spec["name"]: value for spec, value in zip(metadata["inputs"], inputs, strict=True)}
    if feeds and next(iter(feeds.values())).dtype.kind in "OSU":
        feeds = {k: v.astype(object) for k, v in feeds.items()}
    result, names = call(client, name, feeds, binary=binary)
    assert result.get_response()["model_name"] == name
    assert result.get_response()["id"] == "r1"
    limit = in_process(repository, name, feeds)
    for output, want, own in zip(names, limit, expected, strict=True):
        got = result.as_numpy(output)
        assert got is not None, output
        if want.dtype.kind in "OSU":
            assert [_text(v) for v in got.ravel()] == [_text(v) for v in want.ravel()]
            assert [_text(v) for v in got.ravel()] == [_text(v) for v in own.ravel()]
            continue
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(got, own, rtol=1e-3, atol=1e-4)  # the wheel's answer


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_built_models_answer_as_in_process(
    client: triton.InferenceServerClient, repository: Path, binary: bool
) -> None:
    rng = np.random.default_rng(11)
    feeds = {
        "features": rng.standard_normal((5, 3)).astype(np.float32),
        "counts": rng.integers(0, 9, (5, 2)).astype(np.int64),
    }
    result, names = call(client, "classifier", feeds, binary=binary)
    for output, want in zip(names, in_process(repository, "classifier", feeds), strict=True):
        np.testing.assert_array_equal(result.as_numpy(output), want)
    x = {"x": rng.standard_normal((7, 64)).astype(np.float32)}
    result, [name] = call(client, "wide", x, binary=binary)
    [want] = in_process(repository, "wide", x)
    np.testing.assert_allclose(result.as_numpy(name), want, rtol=1e-5, atol=1e-6)


def test_health_metadata_and_repository_calls(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("wide") and client.is_model_ready("wide", "1")
    assert not client.is_model_ready("wide", "2")
    assert not client.is_model_ready("nothing")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    metadata = client.get_model_metadata("chunk", "1")
    assert [o["name"] for o in metadata["outputs"]] == ["1", "2"]
    index = client.get_model_repository_index()
    assert {r["name"] for r in index} == {*SHIPPED, "classifier", "wide"}
    client.load_model("wide")  # reads the model's folder again


def test_model_config_as_triton_states_it(client: triton.InferenceServerClient) -> None:
    wide = client.get_model_config("wide")
    assert wide["max_batch_size"] == 64 and wide["platform"] == "onnxruntime_onnx"
    assert wide["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [64]}]
    assert wide["output"] == [{"name": "y", "data_type": "TYPE_FP32", "dims": [1]}]
    assert wide["dynamic_batching"] == {"max_queue_delay_microseconds": 2000}
    fixed = client.get_model_config("strnorm", "1")  # a fixed shape: not batched
    assert fixed["max_batch_size"] == 0 and "dynamic_batching" not in fixed
    assert fixed["input"] == [{"name": "x", "data_type": "TYPE_STRING", "dims": [4]}]
    with pytest.raises(InferenceServerException, match="no model 'nothing'"):
        client.get_model_config("nothing")


def test_errors_reach_the_client_with_their_message(client: triton.InferenceServerClient) -> None:
    wrong = triton.InferInput("x", [1, 64], "FP64")
    wrong.set_data_from_numpy(np.ones((1, 64)))
    with pytest.raises(InferenceServerException, match="datatype FP64, the model takes FP32") as e:
        client.infer("wide", [wrong])
    assert e.value.status() == "400"
    shape = triton.InferInput("x", [1, 63], "FP32")
    shape.set_data_from_numpy(np.ones((1, 63), dtype=np.float32))
    with pytest.raises(InferenceServerException, match=r"shape \[1, 63\]"):
        client.infer("wide", [shape])
    with pytest.raises(InferenceServerException, match="no model 'nothing'") as e:
        client.get_model_metadata("nothing")
    assert e.value.status() == "404"
    with pytest.raises(InferenceServerException, match="has no version '3'"):
        client.infer("wide", [shape], model_version="3")


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests_are_inflated(
    client: triton.InferenceServerClient, repository: Path, algorithm: str
) -> None:
    x = {"x": np.random.default_rng(2).standard_normal((9, 64)).astype(np.float32)}
    tensor = triton.InferInput("x", [9, 64], "FP32")
    tensor.set_data_from_numpy(x["x"])
    result = client.infer(
        "wide",
        [tensor],
        request_compression_algorithm=algorithm,
        response_compression_algorithm=algorithm,
    )
    [want] = in_process(repository, "wide", x)
    np.testing.assert_allclose(result.as_numpy("y"), want, rtol=1e-5, atol=1e-6)


def test_bad_or_huge_compressed_bodies_are_refused(url: str) -> None:
    import zlib

    import httpx

    from strangler.inference.tensors import MAX_INFLATED_BYTES

    url = f"{url}/v2/models/wide/infer"
    unknown = httpx.post(url, content=b"{}", headers={"Content-Encoding": "br"})
    assert unknown.status_code == 400 and "'br'" in unknown.json()["error"]
    broken = httpx.post(url, content=b"not gzip", headers={"Content-Encoding": "gzip"})
    assert broken.status_code == 400 and "inflated" in broken.json()["error"]
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(packer.compress(chunk) for _ in range(MAX_INFLATED_BYTES // len(chunk) + 1))
    bomb += packer.flush()
    assert len(bomb) < 1 << 20
    huge = httpx.post(url, content=bomb, headers={"Content-Encoding": "gzip"}, timeout=60)
    assert huge.status_code == 413 and huge.json()["type"] == "urn:strangler:problem:too-large"
