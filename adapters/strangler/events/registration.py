"""The events part registers itself: spec section ``events:``, components, CLI commands.

Named by the ``strangler.parts`` entry point ``events`` in ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Sequence

from strangler.platform.build import BuildContext
from strangler.platform.component import Component
from strangler.platform.registry import Part
from strangler.spec.models import Spec

__all__ = ["EVENTS", "build_events"]


def build_events(spec: Spec, context: BuildContext) -> Sequence[Component]:
    """The components of the ``events:`` section (see :mod:`strangler.events.part`)."""
    from strangler.events.part import build

    return build(spec.section("events"), context)


EVENTS = Part(
    name="events",
    section="events",
    spec="strangler.spec.events:EventsSpec",
    build="strangler.events.registration:build_events",
    cli="strangler.events.cli:register",
    extra="events",
    order=50,
)
