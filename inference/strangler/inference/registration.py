"""The inference part registers itself: spec section ``models:`` and its component.

Named by the ``strangler.parts`` entry point ``inference`` in ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Sequence

from strangler.platform.build import BuildContext
from strangler.platform.component import Component
from strangler.platform.registry import Part
from strangler.spec.models import Spec

__all__ = ["INFERENCE", "build_models"]


def build_models(spec: Spec, context: BuildContext) -> Sequence[Component]:
    """The model server of the ``models:`` section (see :mod:`strangler.inference.server`)."""
    from strangler.inference.server import build

    return build(spec.section("models"), context)


INFERENCE = Part(
    name="inference",
    section="models",
    spec="strangler.spec.inference:ModelsSpec",
    build="strangler.inference.registration:build_models",
    extra="inference",
    order=80,
)
