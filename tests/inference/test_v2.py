"""The Open Inference Protocol v2 over real HTTP: metadata, readiness, inference, and
every way a request can miss the model (each a problem naming what was wrong)."""

from __future__ import annotations

import contextlib
import json
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from strangler.inference import ModelServer
from strangler.rest.app import build_app
from strangler.spec.inference import ModelsSpec
from tests.inference import onnx_models
from tests.servers import run_app

WEIGHTS = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
STRINGS = "simple/test_strnorm_model_nostopwords_nochangecase"


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    onnx_models.linear(root / "linear" / "1" / "model.onnx", WEIGHTS)
    onnx_models.linear(root / "linear" / "2" / "model.onnx", WEIGHTS, bias=100.0)
    (root / "linear" / "2" / "metadata.yaml").write_text(
        "feature_view: item_features\nfeature_view_version: 2\n"
        "inputs: {x: [a, b, c, d]}\noutputs: {y: {description: three scores}}\n"
    )
    onnx_models.classifier(root / "classifier" / "3" / "model.onnx")
    onnx_models.fixed(root / "fixed" / "1" / "model.onnx")
    onnx_models.shipped(STRINGS, root / "strings" / "1")
    (root / "linear" / "not-a-version").mkdir()
    (root / "empty" / "1").mkdir(parents=True)  # no model.onnx: not a version
    return root


@pytest.fixture(scope="module")
def url(repository: Path) -> Iterator[str]:
    server = ModelServer(ModelsSpec(repository=str(repository), reload_s=0))
    with run_app(build_app([server])) as base:
        yield base


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as http:
        yield http


def tensor(name: str, array: np.ndarray, datatype: str = "FP32") -> dict[str, Any]:
    return {
        "name": name,
        "shape": list(array.shape),
        "datatype": datatype,
        "data": array.reshape(-1).tolist(),
    }


def infer(client: httpx.Client, path: str, *inputs: dict[str, Any], **extra: Any) -> httpx.Response:
    return client.post(f"/v2/models/{path}/infer", json={"inputs": list(inputs), **extra})


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["error"] == body["detail"]  # the member v2 clients read
    return body


def test_health_and_server_metadata(client: httpx.Client) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    server = client.get("/v2").json()
    assert server["name"] == "strangler"
    assert {"binary_tensor_data", "model_repository"} <= set(server["extensions"])


def test_model_metadata_lists_versions_tensors_and_the_metadata_file(
    client: httpx.Client,
) -> None:
    latest = client.get("/v2/models/linear").json()
    assert latest["name"] == "linear"
    assert latest["versions"] == ["1", "2"]
    assert latest["platform"] == "onnxruntime_onnx"
    assert latest["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert latest["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 3]}]
    assert latest["parameters"]["feature_view"] == "item_features"  # version 2's file
    assert latest["parameters"]["inputs"] == {"x": ["a", "b", "c", "d"]}
    assert latest["parameters"]["batching"] is True
    first = client.get("/v2/models/linear/versions/1").json()
    assert "feature_view" not in first["parameters"]  # version 1 has no metadata file
    two = client.get("/v2/models/classifier").json()
    assert [(t["name"], t["datatype"]) for t in two["inputs"]] == [
        ("features", "FP32"),
        ("counts", "INT64"),
    ]
    assert [(t["name"], t["datatype"]) for t in two["outputs"]] == [
        ("score", "FP32"),
        ("label", "INT64"),
    ]
    fixed = client.get("/v2/models/fixed").json()
    assert fixed["inputs"][0]["shape"] == [2, 3]
    assert fixed["parameters"]["batching"] is False


def test_model_and_version_readiness(client: httpx.Client) -> None:
    assert client.get("/v2/models/linear/ready").json() == {
        "name": "linear",
        "version": "2",
        "ready": True,
    }
    assert client.get("/v2/models/linear/versions/1/ready").json()["ready"] is True
    problem(client.get("/v2/models/linear/versions/3/ready"), 404)
    problem(client.get("/v2/models/nothing/ready"), 404)


def test_infer_answers_what_session_run_answers(client: httpx.Client, repository: Path) -> None:
    x = np.array([[1, 2, 3, 4], [0.5, -1, 0, 2]], dtype=np.float32)
    for version, bias in (("1", 0.0), ("2", 100.0)):
        response = infer(client, f"linear/versions/{version}", tensor("x", x), id="req-7")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_name"] == "linear" and body["model_version"] == version
        assert body["id"] == "req-7"
        [out] = body["outputs"]
        assert out["name"] == "y" and out["datatype"] == "FP32" and out["shape"] == [2, 3]
        session = ort.InferenceSession(str(repository / "linear" / version / "model.onnx"))
        [expected] = session.run(None, {"x": x})
        np.testing.assert_array_equal(np.array(out["data"], dtype=np.float32), expected.ravel())
        np.testing.assert_allclose(expected, x @ WEIGHTS + bias, rtol=1e-6)
    latest = infer(client, "linear", tensor("x", x)).json()
    assert latest["model_version"] == "2"


def test_nested_data_several_inputs_and_chosen_outputs(client: httpx.Client) -> None:
    features = {
        "name": "features",
        "shape": [2, 3],
        "datatype": "FP32",
        "data": [[1, 2, 3], [0, 0, 1]],
    }
    counts = {"name": "counts", "shape": [2, 2], "datatype": "INT64", "data": [[4, 5], [1, 1]]}
    body = infer(client, "classifier", features, counts).json()
    assert [(o["name"], o["data"]) for o in body["outputs"]] == [
        ("score", [15.0, 3.0]),
        ("label", [1, 0]),
    ]
    only = infer(client, "classifier", features, counts, outputs=[{"name": "label"}]).json()
    assert [(o["name"], o["data"]) for o in only["outputs"]] == [("label", [1, 0])]


def test_bytes_tensors_from_the_onnx_wheel(client: httpx.Client) -> None:
    [words], [expected] = onnx_models.test_data(STRINGS)
    response = infer(client, "strings", tensor("x", words, "BYTES"))
    assert response.status_code == 200, response.text
    [out] = response.json()["outputs"]
    assert out["datatype"] == "BYTES"
    assert out["data"] == [str(w) for w in expected.ravel()]


def test_binary_tensors_in_and_out(client: httpx.Client) -> None:
    x = np.array([[1, 2, 3, 4]], dtype=np.float32)
    header = (
        b'{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32",'
        b'"parameters":{"binary_data_size":16}}],'
        b'"outputs":[{"name":"y","parameters":{"binary_data":true}}]}'
    )
    response = client.post(
        "/v2/models/linear/versions/1/infer",
        content=header + x.tobytes(),
        headers={
            "Inference-Header-Content-Length": str(len(header)),
            "Content-Type": "application/octet-stream",
        },
    )
    assert response.status_code == 200, response.text
    length = int(response.headers["Inference-Header-Content-Length"])
    doc = json.loads(response.content[:length])
    [out] = doc["outputs"]
    assert out["parameters"]["binary_data_size"] == 12 and "data" not in out
    y = np.frombuffer(response.content[length:], dtype="<f4").reshape(out["shape"])
    np.testing.assert_allclose(y, x @ WEIGHTS, rtol=1e-6)


def test_binary_bytes_elements_are_length_prefixed(client: httpx.Client) -> None:
    words = [b"monday", b"tuesday"]
    blob = b"".join(struct.pack("<I", len(w)) + w for w in words)
    header = (
        '{"inputs":[{"name":"x","shape":[2],"datatype":"BYTES",'
        f'"parameters":{{"binary_data_size":{len(blob)}}}}}],'
        '"parameters":{"binary_data_output":true}}'
    ).encode()
    response = client.post(
        "/v2/models/strings/infer",
        content=header + blob,
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert response.status_code == 200, response.text
    length = int(response.headers["Inference-Header-Content-Length"])
    rest, found = response.content[length:], []
    while rest:
        (size,) = struct.unpack_from("<I", rest)
        found.append(rest[4 : 4 + size])
        rest = rest[4 + size :]
    assert found == words  # no stop words, case unchanged


def test_a_wrong_datatype_is_a_400_naming_the_input(client: httpx.Client) -> None:
    x = np.ones((1, 4))
    body = problem(infer(client, "linear", tensor("x", x, "INT64")), 400)
    assert body["type"] == "urn:strangler:problem:bad-tensor"
    assert body["input"] == "x" and body["model"] == "linear"
    assert "INT64" in body["detail"] and "FP32" in body["detail"]
    text = {"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ["a", "b", "c", "d"]}
    assert problem(infer(client, "linear", text), 400)["input"] == "x"
    floats = {"name": "counts", "shape": [1, 2], "datatype": "INT64", "data": [1.5, 2]}
    features = tensor("features", np.ones((1, 3)))
    assert problem(infer(client, "classifier", features, floats), 400)["input"] == "counts"


def test_a_wrong_shape_is_a_400_naming_the_input(client: httpx.Client) -> None:
    body = problem(infer(client, "linear", tensor("x", np.ones((2, 5)))), 400)
    assert body["input"] == "x" and "[2, 5]" in body["detail"] and "[-1, 4]" in body["detail"]
    assert problem(infer(client, "linear", tensor("x", np.ones(4))), 400)["input"] == "x"
    assert problem(infer(client, "fixed", tensor("x", np.ones((3, 2)))), 400)["input"] == "x"
    short = {"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3]}
    assert "3 values" in problem(infer(client, "linear", short), 400)["detail"]
    rows = infer(
        client,
        "classifier",
        tensor("features", np.ones((2, 3))),
        tensor("counts", np.ones((3, 2), dtype=np.int64), "INT64"),
    )
    assert problem(rows, 400)["input"] == "counts"


def test_a_missing_or_unknown_input_is_a_400_naming_it(client: httpx.Client) -> None:
    missing = infer(client, "classifier", tensor("features", np.ones((1, 3))))
    body = problem(missing, 400)
    assert body["input"] == "counts" and "missing" in body["detail"]
    unknown = infer(client, "linear", tensor("x", np.ones((1, 4))), tensor("z", np.ones(1)))
    assert problem(unknown, 400)["input"] == "z"
    output = infer(client, "linear", tensor("x", np.ones((1, 4))), outputs=[{"name": "nope"}])
    assert "nope" in problem(output, 400)["detail"]
    assert problem(client.post("/v2/models/linear/infer", content=b"{"), 400)
    assert problem(client.post("/v2/models/linear/infer", json={"inputs": 3}), 400)


def test_an_unknown_model_or_version_is_a_404_problem(client: httpx.Client) -> None:
    x = tensor("x", np.ones((1, 4)))
    for path in ("nothing", "nothing/versions/1", "linear/versions/9", "linear/versions/latest"):
        body = problem(infer(client, path, x), 404)
        assert body["type"] == "urn:strangler:problem:not-found"
    assert problem(client.get("/v2/models/nothing"), 404)["model"] == "nothing"
    body = problem(client.get("/v2/models/linear/versions/9"), 404)
    assert body["version"] == "9" and "served: 1, 2" in body["detail"]
    assert problem(client.get("/v2/models/empty"), 404)


def test_the_repository_index_lists_every_served_version(client: httpx.Client) -> None:
    index = client.post("/v2/repository/index").json()
    assert {(r["name"], r["version"], r["state"]) for r in index} == {
        ("linear", "1", "READY"),
        ("linear", "2", "READY"),
        ("classifier", "3", "READY"),
        ("fixed", "1", "READY"),
        ("strings", "1", "READY"),
    }


def test_the_routes_are_in_the_openapi_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    infer_op = paths["/v2/models/{name}/infer"]["post"]
    assert "requestBody" in infer_op
    assert "400" in infer_op["responses"] and "404" in infer_op["responses"]
    assert "/v2/models/{name}/versions/{version}/ready" in paths


def test_the_infer_routes_also_answer_through_fastapi(repository: Path) -> None:
    """Without the fast lane (the router mounted in an app of one's own) infer works alike."""
    from fastapi import FastAPI

    from strangler.rest.problems import install_problem_handlers

    server = ModelServer(ModelsSpec(repository=str(repository), reload_s=0))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await server.start()
        yield
        await server.close()

    app = FastAPI(lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(server.router())
    with run_app(app) as base, httpx.Client(base_url=base) as client:
        x = np.array([[1, 2, 3, 4]], dtype=np.float32)
        body = infer(client, "linear/versions/1", tensor("x", x)).json()
        assert body["outputs"][0]["data"] == pytest.approx((x @ WEIGHTS).ravel().tolist())
        assert problem(infer(client, "linear", tensor("x", x, "FP64")), 400)["input"] == "x"


def test_a_body_over_the_limit_is_refused_before_it_is_read(client: httpx.Client) -> None:
    huge = b"[" + b"1," * 6_000_000 + b"1]"  # over the default 10 MB limit
    response = client.post("/v2/models/linear/infer", content=huge)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
