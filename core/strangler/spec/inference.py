"""The ``models:`` section: ONNX models served beside the adapters.

.. code-block:: yaml

    models:
      repository: models/            # models/<name>/<version>/model.onnx (+ metadata.yaml)
      reload_s: 5                    # look for new versions this often; 0: only on the admin call
      log: ${PREDICTION_LOG_URL:-}   # SQLAlchemy URL of the prediction log
      mlflow: {tracking_uri: http://mlflow:5000}
      serve:
        reorder:
          versions: all              # all | [1, 2] | {latest: 2}
          source: models:/reorder/3  # optional: a model URI of the MLflow registry
          batching: {max_batch: 64, max_delay_ms: 2.0, enabled: true}
          threads: {intra_op: 1, inter_op: 1}
          instances: 1

Every model found in the repository is served; ``serve`` gives one its
settings (and pins its versions). A version folder's name is a positive
integer, as in Triton's repositories.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    Discriminator,
    Field,
    NonNegativeInt,
    PositiveInt,
    Tag,
    ValidationInfo,
    field_validator,
)

from strangler.spec.common import Frozen, resolve_path

__all__ = [
    "BatchingSpec",
    "LatestSpec",
    "MlflowSpec",
    "ModelServeSpec",
    "ModelsSpec",
    "ThreadsSpec",
    "Versions",
]

MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class LatestSpec(Frozen):
    """Serve the ``latest`` highest-numbered versions."""

    latest: PositiveInt


def _versions_kind(value: object) -> str:
    if isinstance(value, str):
        return "all"
    return "latest" if isinstance(value, dict | LatestSpec) else "list"


Versions = Annotated[
    Annotated[Literal["all"], Tag("all")]
    | Annotated[list[PositiveInt], Tag("list")]
    | Annotated[LatestSpec, Tag("latest")],
    Discriminator(_versions_kind),
]
"""``all``, a list of version numbers, or ``{latest: n}`` (one error when it is none)."""


class BatchingSpec(Frozen):
    """Dynamic batching: concurrent requests coalesced into one ``session.run``.

    A batch runs as soon as it holds ``max_batch`` rows, or ``max_delay_ms``
    after its first request arrived, or at once when nothing else is queued and
    the model is idle. A model whose inputs have no variable first dimension is
    served unbatched whatever this says.
    """

    enabled: bool = True
    max_batch: PositiveInt = Field(default=64, description="Rows in one run, at most.")
    max_delay_ms: Annotated[float, Field(ge=0, le=10_000)] = Field(
        default=2.0, description="How long a request may wait for others to join its batch."
    )
    max_queue: PositiveInt = Field(
        default=4096,
        description="Requests waiting at most; more are refused with 503 (overload).",
    )


class ThreadsSpec(Frozen):
    """onnxruntime's thread pools (0: onnxruntime's own choice, one per core)."""

    intra_op: NonNegativeInt = 1
    inter_op: NonNegativeInt = 1


class ModelServeSpec(Frozen):
    """How one model is served."""

    versions: Versions = Field(default="all", description="Which versions are loaded.")
    source: str | None = Field(
        default=None,
        description="A model URI of the MLflow registry (``models:/name/version``); "
        "needs ``models.mlflow``.",
    )
    batching: BatchingSpec = BatchingSpec()
    threads: ThreadsSpec = ThreadsSpec()
    instances: PositiveInt = Field(
        default=1, description="Runs of one version in flight at once (each in a thread)."
    )


class MlflowSpec(Frozen):
    """An MLflow model registry that versions may come from."""

    tracking_uri: str = Field(description="MLflow's tracking URI (its registry, by default).")
    registry_uri: str | None = None


class ModelsSpec(Frozen):
    """The model repository, how often it is read again, and each model's settings."""

    repository: str = Field(
        default="models",
        validate_default=True,
        description="The folder of models/<name>/<version>/model.onnx; relative to the spec.",
    )
    reload_s: Annotated[float, Field(ge=0)] = Field(
        default=5.0,
        description="Look for new and removed versions this often; 0: only on the admin call.",
    )
    log: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the prediction log; default: the feature store's "
        "database, else SQLite in the cache dir.",
    )
    mlflow: MlflowSpec | None = None
    serve: dict[str, ModelServeSpec] = Field(default_factory=dict)
    faults: bool = Field(
        default=False,
        description="Offer the fault switch (PUT /admin/models/{model}/faults) that makes a "
        "model fail or slow on purpose, for game days and demos.",
    )

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str, info: ValidationInfo) -> str:
        return resolve_path(value, info)

    @field_validator("log", mode="before")
    @classmethod
    def _empty_log(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("serve")
    @classmethod
    def _names(
        cls, value: dict[str, ModelServeSpec], info: ValidationInfo
    ) -> dict[str, ModelServeSpec]:
        for name, settings in value.items():
            if not MODEL_NAME.match(name):
                raise ValueError(
                    f"model name {name!r}: letters, digits, '_', '.' or '-' (not first), "
                    "at most 128"
                )
            if settings.source is not None and info.data.get("mlflow") is None:
                raise ValueError(f"model {name!r} has a source but models.mlflow is not set")
        return value

    def settings(self, name: str) -> ModelServeSpec:
        """The settings of model ``name`` (the defaults when ``serve`` names it not)."""
        return self.serve.get(name) or _DEFAULT


_DEFAULT = ModelServeSpec()
