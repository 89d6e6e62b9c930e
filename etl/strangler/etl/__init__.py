"""ETL from the legacy systems into feature tables.

A feature view of the spec's ``features:`` section names a source (a database
table or query, or a SOAP/RPC operation); its rows are read in chunks, decoded
by the mapping layer, staged and upserted into a history table and a latest
table, incrementally by watermark and resumably after a crash
(:func:`run_view`). :class:`FeatureStore` reads them back, point in time or
latest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strangler.etl.quality import QualityFailed
    from strangler.etl.run import Progress, RunReport, run_view
    from strangler.etl.sources import Source, open_source
    from strangler.etl.store import FeatureStore

__all__ = [
    "FeatureStore",
    "Progress",
    "QualityFailed",
    "RunReport",
    "Source",
    "open_source",
    "run_view",
]

_HOMES = {
    "FeatureStore": "strangler.etl.store",
    "Progress": "strangler.etl.run",
    "QualityFailed": "strangler.etl.quality",
    "RunReport": "strangler.etl.run",
    "Source": "strangler.etl.sources",
    "open_source": "strangler.etl.sources",
    "run_view": "strangler.etl.run",
}


def __getattr__(name: str) -> Any:
    # Imported on first use: the part's registration imports this package, and a
    # `strangler` installed without the etl extra (no SQLAlchemy) must still start.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(home), name)
