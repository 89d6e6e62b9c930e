"""Small ONNX models built with ``onnx.helper``, written into a model repository folder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ONNX_TEST_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
"""Models that ship inside the onnx wheel, each with inputs and expected outputs."""


def _save(graph: onnx.GraphProto, path: Path, opset: int = 17) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def linear(path: Path, weights: np.ndarray, bias: float = 0.0) -> Path:
    """``y = x @ weights + bias`` over rows of FP32 (batchable: the first dimension is open)."""
    rows, columns = weights.shape
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["y"]),
        ],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", rows])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", columns])],
        [
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(np.array([bias], dtype=np.float32), "b"),
        ],
    )
    return _save(graph, path)


def classifier(path: Path) -> Path:
    """Two inputs (FP32 features, INT64 counts) and two outputs (a score, an INT64 class)."""
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["counts"], ["counts_f"], to=TensorProto.FLOAT),
            helper.make_node("Concat", ["features", "counts_f"], ["both"], axis=1),
            helper.make_node("ReduceSum", ["both", "axes"], ["score"], keepdims=1),
            helper.make_node("Greater", ["score", "threshold"], ["above"]),
            helper.make_node("Cast", ["above"], ["label"], to=TensorProto.INT64),
        ],
        "classifier",
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 3]),
            helper.make_tensor_value_info("counts", TensorProto.INT64, ["N", 2]),
        ],
        [
            helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1]),
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N", 1]),
        ],
        [
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
            numpy_helper.from_array(np.array([10.0], dtype=np.float32), "threshold"),
        ],
    )
    return _save(graph, path)


def wide(path: Path, features: int = 64, hidden: int = 512, layers: int = 4) -> Path:
    """A dense network whose run costs enough that requests pile up while it runs."""
    rng = np.random.default_rng(7)
    nodes: list[Any] = []
    weights: list[Any] = []
    previous, width = "x", features
    for index in range(layers):
        out = f"h{index}"
        w = (rng.standard_normal((width, hidden)) / np.sqrt(width)).astype(np.float32)
        weights.append(numpy_helper.from_array(w, f"W{index}"))
        nodes.append(helper.make_node("MatMul", [previous, f"W{index}"], [f"{out}_mm"]))
        nodes.append(helper.make_node("Tanh", [f"{out}_mm"], [out]))
        previous, width = out, hidden
    weights.append(numpy_helper.from_array(np.ones((hidden, 1), dtype=np.float32), "Wout"))
    nodes.append(helper.make_node("MatMul", [previous, "Wout"], ["y"]))
    graph = helper.make_graph(
        nodes,
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        weights,
    )
    return _save(graph, path)


def lookup(path: Path, table: int = 5) -> Path:
    """``Gather`` rows of a table by INT64 index: an index past the table fails the run."""
    values = np.arange(table * 2, dtype=np.float32).reshape(table, 2)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "index"], ["row"], axis=0)],
        "lookup",
        [helper.make_tensor_value_info("index", TensorProto.INT64, ["N"])],
        [helper.make_tensor_value_info("row", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(values, "table")],
    )
    return _save(graph, path)


def fixed(path: Path) -> Path:
    """A model whose input has a fixed first dimension (2, 3): it cannot be batched."""
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0])],
        "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])],
    )
    return _save(graph, path)


def shipped(relative: str, folder: Path) -> tuple[Path, list[np.ndarray], list[np.ndarray]]:
    """Copy a model of the onnx wheel's test data into ``folder/model.onnx``; its
    first data set's inputs and expected outputs."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ONNX_TEST_DATA / relative / "model.onnx", folder / "model.onnx")
    return (folder / "model.onnx", *test_data(relative))


def test_data(relative: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The inputs and expected outputs of a shipped model's first data set."""
    data = ONNX_TEST_DATA / relative / "test_data_set_0"

    def read(prefix: str) -> list[np.ndarray]:
        arrays = []
        for file in sorted(data.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.split("_")[1])):
            tensor = TensorProto()
            tensor.ParseFromString(file.read_bytes())
            arrays.append(numpy_helper.to_array(tensor))
        return arrays

    return read("input"), read("output")
