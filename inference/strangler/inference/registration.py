"""The inference part registers itself: spec section ``models:`` and its component.

Named by the ``strangler.parts`` entry point ``inference`` in ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from strangler.paths import default_cache_dir
from strangler.platform.build import BuildContext
from strangler.platform.component import Component
from strangler.platform.registry import Part
from strangler.spec.models import Spec

__all__ = ["INFERENCE", "build_models"]


def build_models(spec: Spec, context: BuildContext) -> Sequence[Component]:
    """The model server of the ``models:`` section (see :mod:`strangler.inference.server`),
    and the predictions by entity over its models (:mod:`strangler.inference.predict`)."""
    from strangler.inference.mlflow import MlflowSource
    from strangler.inference.predict import predictions
    from strangler.inference.server import ModelServer, build

    section = spec.section("models")
    built = build(section, context)
    server = next(c for c in built if isinstance(c, ModelServer))
    cache = context.cache_dir or (Path(spec.cache_dir) if spec.cache_dir else default_cache_dir())
    registry = MlflowSource.from_spec(section, cache / "mlflow-models")
    if registry is not None:
        server.add_source(registry)
    return [*built, *predictions(spec, context, server)]


INFERENCE = Part(
    name="inference",
    section="models",
    spec="strangler.spec.inference:ModelsSpec",
    build="strangler.inference.registration:build_models",
    extra="inference",
    order=80,
)
