"""The SOAP shim registers itself as a part: spec section ``shim:``.

Named by the ``strangler.parts`` entry point ``shim`` in ``pyproject.toml``.
It builds after the gateway, whose routes answer the operations it names.
"""

from __future__ import annotations

from collections.abc import Sequence

from strangler.platform.build import BuildContext
from strangler.platform.component import Component
from strangler.platform.registry import Part
from strangler.spec.models import Spec

__all__ = ["SHIM", "build"]


def build(spec: Spec, context: BuildContext) -> Sequence[Component]:
    """The shim of the ``shim:`` section (see :mod:`strangler.shim.component`)."""
    from strangler.shim.component import build_shim

    return build_shim(spec, context)


SHIM = Part(
    name="shim",
    section="shim",
    spec="strangler.spec.shim:ShimSpec",
    build="strangler.shim.registration:build",
    cli="strangler.shim.cli:register_cli",
    extra="shim",
    order=300,
)
