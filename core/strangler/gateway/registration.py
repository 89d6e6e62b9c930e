"""The gateway registers itself as a part: spec section ``routes:``.

Named by the ``strangler.parts`` entry point ``gateway`` in ``pyproject.toml``.
It builds after the adapters and the model server, whose operations and
predictions its routes call in-process.
"""

from __future__ import annotations

from collections.abc import Sequence

from strangler.platform.build import BuildContext
from strangler.platform.component import Component
from strangler.platform.registry import Part
from strangler.spec.models import Spec

__all__ = ["GATEWAY", "build"]


def build(spec: Spec, context: BuildContext) -> Sequence[Component]:
    """The route table of the ``routes:`` section (see :mod:`strangler.gateway.table`)."""
    from strangler.gateway.table import build_gateway

    return build_gateway(spec, context)


GATEWAY = Part(
    name="gateway",
    section="routes",
    spec="strangler.spec.gateway:RoutesSpec",
    build="strangler.gateway.registration:build",
    cli="strangler.gateway.render_cli:register_cli",
    extra="gateway",
    order=200,
)
