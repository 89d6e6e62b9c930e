"""The gateway registers itself as a part: spec section ``routes:``.

Named by the ``strangler.parts`` entry point ``gateway`` in ``pyproject.toml``.
It builds after the adapters and the model server, whose operations and
predictions its routes call in-process.
"""

from __future__ import annotations

from strangler.platform.registry import Part

__all__ = ["GATEWAY"]

GATEWAY = Part(
    name="gateway",
    section="routes",
    spec="strangler.spec.gateway:RoutesSpec",
    extra="rest",
    order=200,
)
