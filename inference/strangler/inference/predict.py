"""Predictions by entity: ``POST /predict/{model}`` reads the entity's features and runs the model.

.. code-block:: http

    POST /predict/reorder
    {"entity": {"sku": "SKU-1001"}, "features": {"onHand": 12}, "version": "2"}

    200 {"model": "reorder", "version": "2", "entity": {"sku": "SKU-1001"},
         "prediction": {"label": "yes", "probabilities": [0.0, 1.0]},
         "features": {"unitsSold7d": 31, "onHand": 12, ...}, "request_id": "..."}

The version's ``metadata.yaml`` says which feature view (or service) the model
was trained on and which features make up each input tensor. The entity's
newest values are read from the feature tables (the online lookup of
:class:`~strangler.etl.serving.FeatureReader`); the features the metadata lists
under ``request_fields`` may be given in the request instead, and a request
without an entity gives every feature itself. An output with ``labels`` in the
metadata answers the label of its value.

Concurrent reads of one view are made together (:class:`~strangler.inference.
feature_reads.CoalescedReads`): one thread hop and one query for the entities
asked while the previous read ran.

Each prediction is queued for the prediction log
(:class:`~strangler.inference.prediction_log.PredictionLog`) with its request
id, the features used, the answer and the version. Errors are the project's:
an unknown model or version, or an entity with no features, is
:class:`~strangler.errors.NotFound` (404); a missing or null feature, a feature
that may not be given, or a value of the wrong type is
:class:`~strangler.errors.InvalidInput` (422) naming the field.
"""

from __future__ import annotations

import asyncio
import decimal
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from strangler.errors import InputProblem, InvalidInput, NotFound, StranglerError
from strangler.inference.feature_reads import CoalescedReads
from strangler.inference.metadata import VersionMetadata
from strangler.inference.prediction_log import PredictionLog
from strangler.inference.session import Signature, TensorSpec
from strangler.paths import default_cache_dir
from strangler.platform.component import Health

if TYPE_CHECKING:
    from fastapi import APIRouter

    from strangler.etl.serving import FeatureReader
    from strangler.inference.repository import ServedModel
    from strangler.platform.build import BuildContext
    from strangler.platform.component import Component
    from strangler.spec.models import Spec

__all__ = ["PredictRequest", "PredictResponse", "Predictions", "log_url", "predictions"]

Array = npt.NDArray[Any]
_Scalar = str | int | float | bool


class PredictRequest(BaseModel):
    """One prediction: the entity, features given with the request, the version."""

    model_config = ConfigDict(extra="forbid")

    entity: dict[str, _Scalar] | None = Field(
        default=None, description="The entity's key columns, as the feature view names them."
    )
    features: dict[str, _Scalar | None] = Field(
        default_factory=dict,
        description="Features given with the request: the model's request fields (they "
        "override the table's values), or every feature when no entity is given.",
    )
    version: str | None = Field(default=None, description="A version; default: the newest.")


class PredictResponse(BaseModel):
    """The prediction, the version that made it and the feature values it was given."""

    model: str
    version: str
    entity: dict[str, Any] | None
    prediction: dict[str, Any] = Field(
        description="Each output's value for the entity (a label where the metadata has labels)."
    )
    features: dict[str, Any] = Field(description="The feature values the model was given.")
    request_id: str = Field(description="The prediction's id in the prediction log.")


class Models(Protocol):
    """The served models (the model server), by name and version."""

    def model(self, name: str, version: str | None = None) -> ServedModel: ...


class Predictions:
    """The ``predictions`` component: the by-entity route and the prediction log."""

    kind = "predictions"
    prefix = ""

    def __init__(
        self, models: Models, features: FeatureReader | None, log: PredictionLog | None
    ) -> None:
        self.models = models
        self.features = features
        self.log = log
        self._reads = CoalescedReads(features.latest) if features is not None else None

    @property
    def name(self) -> str:
        return "predictions"

    async def start(self) -> None:
        if self.log is not None:
            await asyncio.to_thread(self.log.open)

    async def close(self) -> None:
        if self.log is not None:
            await asyncio.to_thread(self.log.close)

    async def health(self) -> Health:
        if self.log is None:
            return Health("ok", {"kind": self.kind, "log": None})
        status = self.log.status()
        detail = {
            "kind": self.kind,
            "log": {
                "written": status.written,
                "pending": status.pending,
                "dropped": status.dropped,
            },
        }
        if status.error is not None:
            return Health("degraded", {**detail, "error": status.error})
        return Health("ok", detail)

    def router(self) -> APIRouter:
        from strangler.inference.predict_http import predict_router

        return predict_router(self)

    async def predict(self, name: str, request: PredictRequest) -> PredictResponse:
        """Read the entity's features, run the model, log the prediction (see the module)."""
        served = self.models.model(name, request.version)
        meta = served.metadata
        wanted = _feature_names(name, meta)
        given = _given(name, meta, request, wanted)
        values: dict[str, Any] = {}
        if request.entity is not None:
            values = await self._lookup(name, meta, request.entity, wanted)
        values.update(given)
        inputs = _tensors(meta, served.signature, values)
        outputs = await served.infer(inputs)
        prediction = _prediction(meta, served.signature, outputs)
        used = {feature: _plain(values[feature]) for feature in wanted}
        request_id = _request_id()
        if self.log is not None:
            self.log.record(
                {
                    "request_id": request_id,
                    "model": served.name,
                    "version": served.version,
                    "entity": request.entity,
                    "features": used,
                    "prediction": prediction,
                }
            )
        return PredictResponse(
            model=served.name,
            version=served.version,
            entity=request.entity,
            prediction=prediction,
            features=used,
            request_id=request_id,
        )

    async def _lookup(
        self, model: str, meta: VersionMetadata, entity: Mapping[str, Any], wanted: list[str]
    ) -> dict[str, Any]:
        view = meta.feature_view
        if view is None:
            raise InvalidInput(
                f"model {model!r} names no feature view in its metadata: give its features "
                "in 'features', without an entity",
                [InputProblem("entity", "the model reads no feature table")],
            )
        if self.features is None or self._reads is None:
            raise StranglerError(f"model {model!r} reads {view!r} but the spec has no features")
        reader = self.features
        columns = reader.entity_of(view)  # NotFound: the spec has no such view
        problems = [InputProblem(f"entity.{c}", "required") for c in columns if c not in entity]
        problems += [
            InputProblem(f"entity.{c}", f"not an entity column of {view}")
            for c in entity
            if c not in columns
        ]
        if problems:
            raise InvalidInput(f"the entity of {view} is {', '.join(columns)}", problems)
        row = await self._reads.latest(view, entity)
        times = row.get("eventTimes", {"": row.get("eventTime")})
        if all(t is None for t in times.values()):
            key = ", ".join(f"{c}={entity[c]!r}" for c in columns)
            raise NotFound(f"no features for {key} in {view}")
        return {feature: row.get(feature) for feature in wanted}


def predictions(spec: Spec, context: BuildContext, models: Models) -> list[Component]:
    """The ``predictions`` component of a spec with ``models:``, reading the feature tables
    of the ``features`` part built before it; its log is ``models.log``, else the feature
    store's database, else ``predictions.sqlite`` in the cache dir."""
    from strangler.etl.serving import FeatureReader

    reader = next((c for c in context.components if isinstance(c, FeatureReader)), None)
    return [Predictions(models, reader, PredictionLog(log_url(spec, context.cache_dir)))]


def log_url(spec: Spec, cache_dir: Path | None = None) -> str:
    """Where the prediction log is written (see :func:`predictions`)."""
    from strangler.etl.run import store_url

    section = spec.section("models")
    if section is not None and section.log:
        return str(section.log)
    if spec.section("features") is not None:
        return store_url(spec, None, cache_dir)
    folder = cache_dir or (Path(spec.cache_dir) if spec.cache_dir else default_cache_dir())
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'predictions.sqlite'}"


class _Ids:
    """Request ids: 32 hex digits, a random prefix per process (drawn again in a forked
    child) and a counter; unique without a system call per request as ``uuid4`` makes."""

    prefix = os.urandom(8).hex()
    counter = itertools.count()

    @classmethod
    def renew(cls) -> None:
        cls.prefix = os.urandom(8).hex()
        cls.counter = itertools.count()


os.register_at_fork(after_in_child=_Ids.renew)


def _request_id() -> str:
    return f"{_Ids.prefix}{next(_Ids.counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def _feature_names(model: str, meta: VersionMetadata) -> list[str]:
    names: list[str] = []
    for features in meta.inputs.values():
        names += [f for f in features if f not in names]
    if not names:
        raise InvalidInput(
            f"model {model!r} has no inputs in its metadata: call it over the v2 protocol",
            [InputProblem("model", "no features to read")],
        )
    return names


def _given(
    model: str, meta: VersionMetadata, request: PredictRequest, wanted: Sequence[str]
) -> dict[str, Any]:
    """The features given with the request, refused where they may not be given."""
    problems: list[InputProblem] = []
    for feature in request.features:
        if request.features[feature] is None:
            problems.append(
                InputProblem(f"features.{feature}", "null: give a value or leave it out")
            )
        elif feature not in wanted:
            problems.append(InputProblem(f"features.{feature}", f"not a feature of {model!r}"))
        elif request.entity is not None and feature not in meta.request_fields:
            allowed = ", ".join(meta.request_fields) or "none"
            problems.append(
                InputProblem(
                    f"features.{feature}",
                    f"read from the feature table; request fields: {allowed}",
                )
            )
    if request.entity is None:
        problems += [
            InputProblem(f"features.{f}", "required without an entity")
            for f in wanted
            if f not in request.features
        ]
    if problems:
        raise InvalidInput(f"the features of {model!r} do not fit", problems)
    return dict(request.features)


def _tensors(
    meta: VersionMetadata, signature: Signature, values: Mapping[str, Any]
) -> dict[str, Array]:
    """One row per input tensor, its columns the metadata's features in order."""
    problems: list[InputProblem] = []
    arrays: dict[str, Array] = {}
    for name, features in meta.inputs.items():
        spec = signature.input(name)
        if spec is None:
            raise StranglerError(f"the metadata names input {name!r}, which the model lacks")
        row = []
        for feature in features:
            value, problem = _convert(spec, values.get(feature))
            if problem is not None:
                problems.append(InputProblem(f"features.{feature}", problem))
            row.append(value)
        arrays[name] = _shaped(spec, np.asarray([row], dtype=spec.dtype))
    if problems:
        raise InvalidInput("feature values that do not fit the model", problems)
    return arrays


def _shaped(spec: TensorSpec, row: Array) -> Array:
    if len(spec.shape) == 1 and row.shape[1] == 1:
        return row.reshape(1)
    return row


def _convert(spec: TensorSpec, value: Any) -> tuple[Any, str | None]:
    """The value in the input's dtype, or why it does not fit."""
    if value is None:
        return 0, "null: the feature table has no value (give it in 'features')"
    kind = spec.dtype.kind
    if kind == "O":
        if isinstance(value, str):
            return value, None
        return "", f"text expected ({spec.datatype}), not {type(value).__name__}"
    if isinstance(value, bool):
        return (int(value), None) if kind == "b" else (0, f"a number, not {value!r}")
    if kind == "b":
        return False, f"true or false expected, not {value!r}"
    if isinstance(value, int | float | decimal.Decimal):
        number = float(value) if kind == "f" else value
        if kind in "iu" and (not float(value).is_integer()):
            return 0, f"an integer expected ({spec.datatype}), not {value!r}"
        if kind == "f" and not math.isfinite(float(number)):
            return 0.0, f"a finite number expected, not {value!r}"
        return (int(number) if kind in "iu" else number), None
    return 0, f"a number expected ({spec.datatype}), not {type(value).__name__} {value!r}"


def _prediction(
    meta: VersionMetadata, signature: Signature, outputs: Mapping[str, Array]
) -> dict[str, Any]:
    """Each output's row, as JSON (the label where the metadata gives labels)."""
    answer: dict[str, Any] = {}
    for spec in signature.outputs:
        if spec.name not in outputs:
            continue
        value = _plain(outputs[spec.name][0].tolist())
        meaning = meta.outputs.get(spec.name)
        labels = meaning.labels if meaning is not None else None
        if labels is not None and isinstance(value, int) and 0 <= value < len(labels):
            value = labels[value]
        answer[spec.name] = value
    return answer


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
