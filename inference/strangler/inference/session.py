"""onnxruntime sessions and the signature of a model: its tensors' names, datatypes, shapes.

Datatypes are named as the Open Inference Protocol v2 names them (``FP32``,
``INT64``, ``BYTES``...). A dimension the model leaves open is ``-1``. A model
is *batchable* when every input and output has an open first dimension: rows
of several requests can then be stacked into one run, and its outputs split
back by rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from strangler.errors import BadTensor
from strangler.spec.inference import ThreadsSpec

__all__ = [
    "DATATYPES",
    "Signature",
    "TensorSpec",
    "check_inputs",
    "open_session",
]

Array = npt.NDArray[Any]

DATATYPES: dict[str, tuple[str, np.dtype[Any]]] = {
    "tensor(float)": ("FP32", np.dtype(np.float32)),
    "tensor(double)": ("FP64", np.dtype(np.float64)),
    "tensor(float16)": ("FP16", np.dtype(np.float16)),
    "tensor(int8)": ("INT8", np.dtype(np.int8)),
    "tensor(int16)": ("INT16", np.dtype(np.int16)),
    "tensor(int32)": ("INT32", np.dtype(np.int32)),
    "tensor(int64)": ("INT64", np.dtype(np.int64)),
    "tensor(uint8)": ("UINT8", np.dtype(np.uint8)),
    "tensor(uint16)": ("UINT16", np.dtype(np.uint16)),
    "tensor(uint32)": ("UINT32", np.dtype(np.uint32)),
    "tensor(uint64)": ("UINT64", np.dtype(np.uint64)),
    "tensor(bool)": ("BOOL", np.dtype(np.bool_)),
    "tensor(string)": ("BYTES", np.dtype(object)),
}
"""onnxruntime's tensor type -> (the v2 datatype, the numpy dtype of its values)."""


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output tensor: name, v2 datatype, numpy dtype, shape (-1: open)."""

    name: str
    datatype: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]

    def as_json(self) -> dict[str, Any]:
        """The tensor as v2 model metadata lists it."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True, slots=True)
class Signature:
    """A model's inputs and outputs (only tensors: sequence and map outputs are left out)."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def batchable(self) -> bool:
        """Every tensor has an open first dimension: requests can be stacked by rows."""
        return all(t.shape and t.shape[0] == -1 for t in (*self.inputs, *self.outputs))

    def input(self, name: str) -> TensorSpec | None:
        for tensor in self.inputs:
            if tensor.name == name:
                return tensor
        return None

    def output(self, name: str) -> TensorSpec | None:
        for tensor in self.outputs:
            if tensor.name == name:
                return tensor
        return None


def _tensor(arg: Any) -> TensorSpec | None:
    found = DATATYPES.get(arg.type)
    if found is None:
        return None
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or ()))
    return TensorSpec(arg.name, found[0], found[1], shape)


def open_session(path: Path, threads: ThreadsSpec) -> tuple[Any, Signature]:
    """An onnxruntime session of the model file at ``path``, and its signature.

    Raises ``ValueError`` when the model takes an input of a type that cannot be
    sent over the v2 protocol (a sequence, a map, bfloat16).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads.intra_op
    options.inter_op_num_threads = threads.inter_op
    options.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL if threads.inter_op > 1 else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    inputs: list[TensorSpec] = []
    for arg in session.get_inputs():
        tensor = _tensor(arg)
        if tensor is None:
            raise ValueError(f"input {arg.name!r} is of type {arg.type}, not a v2 tensor")
        inputs.append(tensor)
    outputs = [t for t in map(_tensor, session.get_outputs()) if t is not None]
    if not outputs:
        raise ValueError("the model has no tensor output")
    return session, Signature(tuple(inputs), tuple(outputs))


def check_inputs(model: str, signature: Signature, arrays: Mapping[str, Array]) -> int:
    """Refuse arrays that do not fit ``signature``; the rows they hold (the first
    dimension, the same for every input; 1 for a model that is not batchable).

    Each refusal is a :class:`~strangler.errors.BadTensor` naming the input.
    """
    rows = -1
    for spec in signature.inputs:
        array = arrays.get(spec.name)
        if array is None:
            raise BadTensor(f"input {spec.name!r} is missing", model=model, input=spec.name)
        if array.dtype != spec.dtype and not (
            spec.datatype == "BYTES" and array.dtype.kind in "OUS"
        ):
            raise BadTensor(
                f"input {spec.name!r}: the model takes {spec.datatype} ({spec.dtype}), "
                f"not {array.dtype}",
                model=model,
                input=spec.name,
            )
        check_shape(model, spec, array.shape)
        if spec.shape and spec.shape[0] == -1:
            if rows == -1:
                rows = array.shape[0]
            elif array.shape[0] != rows:
                raise BadTensor(
                    f"input {spec.name!r} has {array.shape[0]} rows, other inputs {rows}",
                    model=model,
                    input=spec.name,
                )
    if len(arrays) > len(signature.inputs):
        unknown = sorted(set(arrays) - {t.name for t in signature.inputs})
        raise BadTensor(
            f"the model has no input {unknown[0]!r} (inputs: "
            f"{', '.join(t.name for t in signature.inputs)})",
            model=model,
            input=unknown[0],
        )
    return max(rows, 1) if signature.batchable else 1


def check_shape(model: str, spec: TensorSpec, shape: Sequence[int]) -> None:
    """Refuse a shape that is not the input's (a fixed dimension differs, or the rank)."""
    if len(shape) != len(spec.shape) or any(
        want not in (-1, got) for want, got in zip(spec.shape, shape, strict=True)
    ):
        raise BadTensor(
            f"input {spec.name!r}: shape {list(shape)} does not fit the model's "
            f"{list(spec.shape)} (-1: any size)",
            model=model,
            input=spec.name,
        )
