"""The features part registers itself: spec section ``features:`` and the ``etl`` commands.

Named by the ``strangler.parts`` entry point ``features`` in ``pyproject.toml``.
The part builds no server components: its ETL runs from the command line or a DAG.
"""

from __future__ import annotations

from strangler.platform.registry import Part

__all__ = ["FEATURES"]

FEATURES = Part(
    name="features",
    section="features",
    spec="strangler.spec.features:FeaturesSpec",
    cli="strangler.etl.cli:register",
    extra="etl",
    order=70,
)
