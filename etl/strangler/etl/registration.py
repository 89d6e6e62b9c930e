"""The features part registers itself: spec section ``features:`` and the ``etl`` commands.

Named by the ``strangler.parts`` entry point ``features`` in ``pyproject.toml``.
Its ETL runs from the command line or a DAG; in the app, the part serves the
feature tables it fills (:class:`~strangler.etl.serving.FeatureReader`).
"""

from __future__ import annotations

from collections.abc import Sequence

from strangler.platform.build import BuildContext
from strangler.platform.component import Component
from strangler.platform.registry import Part
from strangler.spec.models import Spec

__all__ = ["FEATURES", "build_features"]


def build_features(spec: Spec, context: BuildContext) -> Sequence[Component]:
    """The reader of the feature tables, when the spec declares views."""
    from strangler.etl.run import store_url
    from strangler.etl.serving import FeatureReader

    features = spec.section("features")
    if features is None or not features.views:
        return []
    return [FeatureReader(features, store_url(spec, None, context.cache_dir))]


FEATURES = Part(
    name="features",
    section="features",
    spec="strangler.spec.features:FeaturesSpec",
    build="strangler.etl.registration:build_features",
    cli="strangler.etl.cli:register",
    extra="etl",
    order=70,
)
