"""The model server component (filled in by the repository, sessions and batcher)."""

from __future__ import annotations

from strangler.platform.build import BuildContext
from strangler.platform.component import Component
from strangler.spec.inference import ModelsSpec

__all__ = ["build"]


def build(spec: ModelsSpec, context: BuildContext) -> list[Component]:
    """The components of the ``models:`` section."""
    return []
