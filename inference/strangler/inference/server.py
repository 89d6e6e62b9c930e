"""The model server: the ``models`` component of the app, built from the ``models:`` section.

It loads the repository when the app starts, reads it again every
``reload_s`` seconds (and on the admin call), serves the v2 routes
(:mod:`.v2`) and, in-process, :meth:`ModelServer.model` for other parts
(predictions by entity go through the same batcher).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from strangler.inference.faults import Faults
from strangler.inference.repository import ReloadReport, Repository, ServedModel, VersionSource
from strangler.platform.build import BuildContext
from strangler.platform.component import Component, Health
from strangler.spec.inference import ModelsSpec

if TYPE_CHECKING:
    from fastapi import APIRouter
    from starlette.routing import Route

__all__ = ["ModelServer", "build"]

log = logging.getLogger("strangler.inference")


class ModelServer:
    """Serves the models of a repository (component ``models``, kind ``models``;
    faces :class:`~strangler.platform.RouteSource` and :class:`~strangler.platform.FastRoutes`)."""

    kind = "models"
    name = "models"
    prefix = ""

    def __init__(self, spec: ModelsSpec, sources: Iterable[VersionSource] = ()) -> None:
        self.spec = spec
        self.repository = Repository(spec, sources)
        self._poll: asyncio.Task[None] | None = None

    @property
    def faults(self) -> Faults:
        """The fault switch of the served models (its admin routes only with
        ``models.faults: true``; see :mod:`strangler.inference.faults`)."""
        return self.repository.faults

    def add_source(self, source: VersionSource) -> None:
        """Serve the versions ``source`` offers too (add before the app starts)."""
        self.repository.sources.append(source)

    def model(self, name: str, version: str | None = None) -> ServedModel:
        """The served ``version`` of model ``name`` (its latest when ``None``);
        :class:`~strangler.errors.UnknownModel` when there is none."""
        return self.repository.model(name, version)

    def models(self) -> dict[str, list[str]]:
        """The served versions of every model."""
        return {name: list(e.versions) for name, e in self.repository.models.items()}

    async def reload(self, name: str | None = None) -> ReloadReport:
        """Read the repository again now (only model ``name`` when given)."""
        return await self.repository.reload(name)

    def ready(self) -> bool:
        """The repository was read and every model named in ``serve`` has a version."""
        served = self.repository.models
        return self.repository.scanned and all(
            name in served for name in self.spec.serve if self.spec.serve[name].source is None
        )

    def describe(self, served: ServedModel) -> dict[str, Any]:
        """v2 model metadata: its tensors, and what its ``metadata.yaml`` says."""
        entry = self.repository.models.get(served.name)
        meta = served.metadata
        parameters: dict[str, Any] = {
            "batching": served.batcher.batching,
            "max_batch": served.batcher.max_rows,
        }
        parameters.update(meta.model_dump(exclude_none=True, exclude_defaults=True))
        return {
            "name": served.name,
            "versions": list(entry.versions) if entry is not None else [served.version],
            "platform": "onnxruntime_onnx",
            "inputs": [t.as_json() for t in served.signature.inputs],
            "outputs": [t.as_json() for t in served.signature.outputs],
            "parameters": parameters,
        }

    def config(self, served: ServedModel) -> dict[str, Any]:
        """The model's configuration as Triton states it (``max_batch_size``; a batched
        model's dims leave out the batch dimension), for tools that read it."""
        batcher = served.batcher

        def tensors(specs: Any) -> list[dict[str, Any]]:
            return [
                {
                    "name": t.name,
                    "data_type": "TYPE_" + ("STRING" if t.datatype == "BYTES" else t.datatype),
                    "dims": list(t.shape[1:] if batcher.batching else t.shape),
                }
                for t in specs
            ]

        config: dict[str, Any] = {
            "name": served.name,
            "platform": "onnxruntime_onnx",
            "backend": "onnxruntime",
            "max_batch_size": batcher.max_rows,
            "input": tensors(served.signature.inputs),
            "output": tensors(served.signature.outputs),
            "instance_group": [
                {"count": self.spec.settings(served.name).instances, "kind": "KIND_CPU"}
            ],
        }
        if batcher.batching:
            delay = self.spec.settings(served.name).batching.max_delay_ms
            config["dynamic_batching"] = {"max_queue_delay_microseconds": int(delay * 1000)}
        return config

    def index(self) -> list[dict[str, Any]]:
        """Triton's repository index: every version served, and those that failed."""
        rows: list[dict[str, Any]] = [
            {"name": name, "version": version, "state": "READY"}
            for name, versions in self.models().items()
            for version in versions
        ]
        for key, reason in sorted(self.repository.failures.items()):
            name, _, version = key.partition("/")
            if version:
                rows.append(
                    {"name": name, "version": version, "state": "UNAVAILABLE", "reason": reason}
                )
        return rows

    # -- component ---------------------------------------------------------

    async def start(self) -> None:
        await self.repository.reload()
        if self.spec.reload_s > 0:
            self._poll = asyncio.create_task(self._polling(), name="models-reload")

    async def _polling(self) -> None:
        while True:
            await asyncio.sleep(self.spec.reload_s)
            try:
                await self.repository.reload()
            except Exception:
                log.exception("reading the model repository failed")

    async def close(self) -> None:
        poll, self._poll = self._poll, None
        if poll is not None:
            poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poll
        await self.repository.close()

    async def health(self) -> Health:
        detail: dict[str, Any] = {"kind": self.kind, "models": self.models()}
        if self.repository.failures:
            detail["failures"] = dict(self.repository.failures)
        if not self.ready():
            return Health("down", detail)
        return Health("degraded" if self.repository.failures else "ok", detail)

    def router(self) -> APIRouter:
        """The Open Inference Protocol v2 routes (:mod:`.v2`), and the fault switch's admin
        routes when the spec offers them (:mod:`.faults`)."""
        from fastapi import APIRouter

        from strangler.inference.v2 import v2_router

        router = APIRouter()
        router.include_router(v2_router(self))
        if self.spec.faults:
            from strangler.inference.faults import faults_router

            router.include_router(faults_router(self))
        return router

    def fast_routes(self) -> list[Route]:
        """The ``infer`` routes, answered ahead of the app's routing (:mod:`.v2`)."""
        from strangler.inference.v2 import fast_routes

        return fast_routes(self)


def build(spec: ModelsSpec, context: BuildContext) -> list[Component]:
    """The model server of the ``models:`` section."""
    return [ModelServer(spec)]
