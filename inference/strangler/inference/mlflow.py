"""Model versions from an MLflow model registry, served like those of the repository folder.

.. code-block:: yaml

    models:
      mlflow: {tracking_uri: http://mlflow:5000}   # or sqlite:///mlflow.db, postgresql://...
      serve:
        reorder:
          source: models:/reorder        # every version registered as "reorder"
        churn:
          source: models:/churn-gbm/3    # only version 3 of "churn-gbm"

:class:`MlflowSource` is a :class:`~strangler.inference.repository.VersionSource`:
at every reload of the repository it asks the registry (with MLflow's own
client) for the versions of each model whose ``source`` is a ``models:/`` URI,
and downloads each new one (its artifacts: ``model.onnx`` and optionally
``metadata.yaml``) into the cache dir, once. A version registered in MLflow
therefore goes live at the next reload, as one dropped into the folder does,
and one deleted there is retired. Only versions whose status is ``READY`` are
served; the spec's ``versions`` picks among them as it does among folders.

MLflow is the ``mlflow`` extra (``mlflow-skinny``; with ``sqlalchemy`` and
``alembic`` for a registry kept in a database named by its URL).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strangler.errors import SpecError, SpecProblem, StranglerError
from strangler.inference.repository import MODEL_FILE, FoundVersion
from strangler.spec.inference import MlflowSpec, ModelsSpec

__all__ = ["MlflowSource", "RegistryModel", "parse_model_uri"]

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[1-9][0-9]*))?/?$")
_DONE = ".strangler-source"
"""Written last into a downloaded version's folder: the artifact URI it came from."""


@dataclass(frozen=True)
class RegistryModel:
    """A registered model served under ``served`` (all versions, or only ``version``)."""

    served: str
    name: str
    version: int | None


def parse_model_uri(served: str, uri: str) -> RegistryModel:
    """``models:/<name>`` or ``models:/<name>/<version>``; a :class:`SpecError` otherwise."""
    match = _URI.match(uri)
    if match is None:
        raise SpecError(
            [
                SpecProblem(
                    "spec",
                    None,
                    f"models.serve.{served}.source",
                    f"{uri!r} is not an MLflow model URI: models:/<name> or "
                    "models:/<name>/<version>",
                )
            ]
        )
    version = match["version"]
    return RegistryModel(served, match["name"], int(version) if version else None)


class MlflowSource:
    """The versions of the spec's ``models:/`` sources, downloaded into ``cache``."""

    def __init__(self, spec: MlflowSpec, models: list[RegistryModel], cache: Path) -> None:
        self.spec = spec
        self.models = models
        self.cache = cache
        self._client: Any = None

    @classmethod
    def from_spec(cls, spec: ModelsSpec, cache: Path) -> MlflowSource | None:
        """The source of ``spec``'s ``models:/`` URIs (``None`` without ``mlflow:``)."""
        if spec.mlflow is None:
            return None
        models = [
            parse_model_uri(name, settings.source)
            for name, settings in spec.serve.items()
            if settings.source is not None
        ]
        return cls(spec.mlflow, models, cache)

    def __repr__(self) -> str:
        return f"<MlflowSource {self.spec.tracking_uri}>"

    def found(self) -> list[FoundVersion]:
        """Every ``READY`` version asked for, downloaded (runs in a thread at each reload)."""
        client = self._mlflow()
        found: list[FoundVersion] = []
        for model in self.models:
            for version, source in self._versions(client, model):
                folder = self._download(model.served, version, source)
                found.append(FoundVersion(model.served, version, folder, source="mlflow"))
        return found

    def _mlflow(self) -> Any:
        if self._client is None:
            os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
            try:
                from mlflow.tracking import MlflowClient
            except ImportError as exc:
                raise StranglerError(
                    "models from an MLflow registry need MLflow: pip install 'strangler[mlflow]'"
                ) from exc
            self._client = MlflowClient(
                tracking_uri=self.spec.tracking_uri, registry_uri=self.spec.registry_uri
            )
        return self._client

    def _versions(self, client: Any, model: RegistryModel) -> list[tuple[int, str]]:
        if model.version is not None:
            versions = [client.get_model_version(model.name, str(model.version))]
        else:
            versions = client.search_model_versions(f"name = '{_quoted(model.name)}'")
        return [
            (int(v.version), client.get_model_version_download_uri(model.name, str(v.version)))
            for v in versions
            if v.status == "READY"
        ]

    def _download(self, served: str, version: int, source: str) -> Path:
        """The version's folder in the cache, downloaded unless it came from ``source``."""
        folder = self.cache / served / str(version)
        done = folder / _DONE
        if done.is_file() and done.read_text(encoding="utf-8") == source:
            return folder
        from mlflow.artifacts import download_artifacts

        self.cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache, prefix=".download-") as scratch:
            path = Path(
                download_artifacts(
                    artifact_uri=source, dst_path=scratch, tracking_uri=self.spec.tracking_uri
                )
            )
            if not (path / MODEL_FILE).is_file():
                raise StranglerError(
                    f"MLflow version {version} of {served!r} ({source}) has no {MODEL_FILE}"
                )
            (path / _DONE).write_text(source, encoding="utf-8")
            folder.parent.mkdir(parents=True, exist_ok=True)
            if folder.exists():
                shutil.rmtree(folder)
            path.rename(folder)
        return folder


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")
