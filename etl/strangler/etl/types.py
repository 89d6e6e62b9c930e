"""The shapes that pass between a view's source and its feature store.

A source yields :class:`Batch` es of rows whose columns are the API names (after
the mapping layer) and whose kinds a :data:`Schema` gives before the first batch;
the store stages each batch together with its checkpoint, the opaque position a
resumed run starts from.

A ``datetime`` value is timezone-aware (UTC) when the source knows its zone and
naive otherwise; the store keeps both as UTC timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Batch", "FeatureKind", "Schema"]

FeatureKind = Literal[
    "integer", "float", "decimal", "string", "boolean", "date", "datetime", "time", "bytes", "json"
]
"""The kind of a column's values, as the mapping layer decodes them."""

Schema = dict[str, FeatureKind]
"""API column name -> kind, in source order."""


@dataclass(frozen=True)
class Batch:
    """Rows of one chunk, and where a resumed run starts after them.

    ``columns`` are API names in the order of each row tuple; ``checkpoint`` is the
    JSON-able resume position after this batch (opaque to the store).
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    checkpoint: dict[str, Any]
