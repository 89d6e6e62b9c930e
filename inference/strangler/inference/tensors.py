"""Tensors of the Open Inference Protocol v2: JSON (and binary) to numpy and back.

A request's inputs are ``{"name", "shape", "datatype", "data"}``, ``data`` a
flat or nested list in row-major order, or, with the binary tensor extension,
``parameters.binary_data_size`` bytes after the JSON header (whose length is
the ``Inference-Header-Content-Length`` header). ``BYTES`` elements are
strings in JSON and 4-byte little-endian length-prefixed in binary.

A body sent with ``Content-Encoding: gzip`` or ``deflate`` (Triton's client
compresses requests so when asked) is inflated first, to a bounded size.

Each input is converted once, straight to the dtype the model takes; anything
that does not fit (an unknown input, the datatype, the shape, the number of
values, a value of the wrong kind) is a :class:`~strangler.errors.BadTensor`
naming the input.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from strangler.errors import BadTensor, InputTooLarge
from strangler.inference.session import Signature, TensorSpec, check_shape

__all__ = ["MAX_INFLATED_BYTES", "InferRequest", "decode_request", "encode_response", "inflate"]

MAX_INFLATED_BYTES = 256 * 1024 * 1024
"""A compressed request body may grow to this many bytes, no more."""

_WINDOW_BITS = {"gzip": 16 + 15, "x-gzip": 16 + 15, "deflate": 15}
"""``Content-Encoding`` -> zlib's window bits (deflate is the zlib format, as clients send it)."""

Array = npt.NDArray[Any]

_KINDS = {"BOOL": "b", "BYTES": "OUS"}
"""numpy kinds the JSON values of a datatype may come as (other than its own)."""
_INTEGERS = "iu"


class InferRequest:
    """A decoded v2 inference request."""

    __slots__ = ("binary_outputs", "id", "inputs", "outputs")

    def __init__(
        self,
        inputs: dict[str, Array],
        outputs: list[tuple[str, bool]] | None,
        request_id: str | None,
        binary_outputs: bool,
    ) -> None:
        self.inputs = inputs
        self.outputs = outputs  # (name, binary); None: every output, as binary_outputs says
        self.id = request_id
        self.binary_outputs = binary_outputs


def inflate(model: str, body: bytes, encoding: str) -> bytes:
    """The body of a request sent with ``Content-Encoding`` gzip or deflate."""
    bits = _WINDOW_BITS.get(encoding.strip().lower())
    if bits is None:
        raise BadTensor(
            f"Content-Encoding {encoding!r} is not read (gzip and deflate are)", model=model
        )
    inflater = zlib.decompressobj(bits)
    try:
        data = inflater.decompress(body, MAX_INFLATED_BYTES + 1)
    except zlib.error as exc:
        raise BadTensor(f"the {encoding} body cannot be inflated: {exc}", model=model) from None
    if len(data) > MAX_INFLATED_BYTES or inflater.unconsumed_tail:
        raise InputTooLarge(
            f"the body inflates to more than {MAX_INFLATED_BYTES} bytes",
            limit_bytes=MAX_INFLATED_BYTES,
        )
    return data


def decode_request(
    model: str, signature: Signature, body: bytes, header_length: str | None
) -> InferRequest:
    """The inputs of a v2 request body, as arrays the model takes."""
    binary: memoryview | None = None
    if header_length is not None:
        try:
            length = int(header_length)
        except ValueError:
            length = -1
        if not 0 <= length <= len(body):
            raise BadTensor(
                f"Inference-Header-Content-Length {header_length!r} does not fit the body",
                model=model,
            )
        binary = memoryview(body)[length:]
        body = body[:length]
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadTensor(f"the request is not JSON: {exc}", model=model) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list):
        raise BadTensor('the request needs "inputs", a list of tensors', model=model)
    offset = 0
    arrays: dict[str, Array] = {}
    for item in doc["inputs"]:
        array, used = _input(model, signature, item, binary, offset)
        offset += used
        arrays[array[0]] = array[1]
    if binary is not None and offset != len(binary):
        raise BadTensor(
            f"the body holds {len(binary) - offset} bytes after the inputs' binary data",
            model=model,
        )
    parameters = doc.get("parameters") or {}
    binary_outputs = bool(isinstance(parameters, dict) and parameters.get("binary_data_output"))
    outputs = _outputs(model, signature, doc.get("outputs"), binary_outputs)
    request_id = doc.get("id")
    return InferRequest(
        arrays, outputs, str(request_id) if request_id is not None else None, binary_outputs
    )


def _input(
    model: str, signature: Signature, item: Any, binary: memoryview | None, offset: int
) -> tuple[tuple[str, Array], int]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise BadTensor("every input needs a name", model=model)
    name: str = item["name"]
    spec = signature.input(name)
    if spec is None:
        raise BadTensor(
            f"the model has no input {name!r} (inputs: "
            f"{', '.join(t.name for t in signature.inputs)})",
            model=model,
            input=name,
        )
    datatype = item.get("datatype")
    if datatype != spec.datatype:
        raise BadTensor(
            f"input {name!r}: datatype {datatype}, the model takes {spec.datatype}",
            model=model,
            input=name,
        )
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise BadTensor(
            f"input {name!r}: shape must be a list of sizes, not {shape!r}",
            model=model,
            input=name,
        )
    check_shape(model, spec, shape)
    count = math.prod(shape)
    parameters = item.get("parameters")
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    if size is not None:
        if binary is None or type(size) is not int or not 0 <= size <= len(binary) - offset:
            raise BadTensor(
                f"input {name!r}: binary_data_size {size!r} does not fit the body",
                model=model,
                input=name,
            )
        array = _from_binary(model, spec, binary[offset : offset + size], count)
        return (name, array.reshape(shape)), size
    if "data" not in item:
        raise BadTensor(f"input {name!r} has no data", model=model, input=name)
    array = _from_json(model, spec, item["data"])
    if array.size != count:
        raise BadTensor(
            f"input {name!r}: {array.size} values for shape {shape}, which holds {count}",
            model=model,
            input=name,
        )
    return (name, array.reshape(shape)), 0


def _from_json(model: str, spec: TensorSpec, data: Any) -> Array:
    try:
        if spec.datatype == "BYTES":
            array = np.array(data, dtype=object)
            flat = array.reshape(-1)
            if not all(isinstance(v, str) for v in flat):
                raise ValueError("BYTES values are strings")
            return array
        if spec.dtype.kind in _INTEGERS or spec.datatype == "BOOL":
            raw = np.asarray(data)
            if raw.size and raw.dtype.kind not in (_KINDS.get(spec.datatype) or "iub"):
                raise ValueError(f"{raw.dtype.kind!r} values")
            if raw.dtype.kind in _INTEGERS and raw.size:
                info = np.iinfo(spec.dtype)
                if raw.min() < info.min or raw.max() > info.max:
                    raise ValueError(f"a value outside {info.min}..{info.max}")
            return raw.astype(spec.dtype, copy=False)
        return np.asarray(data, dtype=spec.dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadTensor(
            f"input {spec.name!r}: the data are not {spec.datatype} values ({exc})",
            model=model,
            input=spec.name,
        ) from None


def _from_binary(model: str, spec: TensorSpec, data: memoryview, count: int) -> Array:
    if spec.datatype == "BYTES":
        values: list[str] = []
        position = 0
        try:
            while position < len(data):
                (length,) = struct.unpack_from("<I", data, position)
                position += 4
                if position + length > len(data):
                    raise ValueError("an element runs past the end")
                values.append(bytes(data[position : position + length]).decode("utf-8"))
                position += length
        except (struct.error, ValueError) as exc:
            raise BadTensor(
                f"input {spec.name!r}: the binary BYTES data are not length-prefixed: {exc}",
                model=model,
                input=spec.name,
            ) from None
        array = np.array(values, dtype=object)
    else:
        if len(data) != count * spec.dtype.itemsize:
            raise BadTensor(
                f"input {spec.name!r}: {len(data)} bytes of binary data, the shape needs "
                f"{count * spec.dtype.itemsize}",
                model=model,
                input=spec.name,
            )
        array = np.frombuffer(data, dtype=spec.dtype.newbyteorder("<"))
    if array.size != count:
        raise BadTensor(
            f"input {spec.name!r}: {array.size} values, the shape holds {count}",
            model=model,
            input=spec.name,
        )
    return array


def _outputs(
    model: str, signature: Signature, requested: Any, binary_all: bool
) -> list[tuple[str, bool]] | None:
    if requested is None:
        return None
    if not isinstance(requested, list):
        raise BadTensor('"outputs" must be a list of {"name": ...}', model=model)
    chosen: list[tuple[str, bool]] = []
    for item in requested:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or signature.output(name) is None:
            raise BadTensor(
                f"the model has no output {name!r} (outputs: "
                f"{', '.join(t.name for t in signature.outputs)})",
                model=model,
            )
        parameters = item.get("parameters")
        binary = parameters.get("binary_data") if isinstance(parameters, dict) else None
        chosen.append((name, binary_all if binary is None else bool(binary)))
    return chosen


def encode_response(
    model: str,
    version: str,
    signature: Signature,
    request: InferRequest,
    outputs: dict[str, Array],
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary outputs follow it."""
    chosen: Sequence[tuple[str, bool]] = request.outputs or [
        (t.name, request.binary_outputs) for t in signature.outputs
    ]
    items: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name, binary in chosen:
        value = outputs[name]
        spec = signature.output(name)
        datatype = spec.datatype if spec is not None else "BYTES"
        item: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(value.shape)}
        if binary:
            blob = _to_binary(value, datatype)
            item["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        elif datatype in ("BYTES", "FP16"):
            item["data"] = [_text(v) for v in value.reshape(-1).tolist()]
        else:
            item["data"] = np.ascontiguousarray(value).reshape(-1)
        items.append(item)
    doc: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": items}
    if request.id is not None:
        doc["id"] = request.id
    header = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return header, None
    return b"".join((header, *blobs)), len(header)


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _to_binary(value: Array, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts: list[bytes] = []
        for element in value.reshape(-1).tolist():
            raw = element if isinstance(element, bytes) else str(element).encode("utf-8")
            parts.append(struct.pack("<I", len(raw)))
            parts.append(raw)
        return b"".join(parts)
    return np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
