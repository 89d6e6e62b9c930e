"""Stored values that break their declared encoding: never dropped silently.

Per field the spec chooses (``on_broken``): ``error`` answers 502 naming the
row and field (:class:`~strangler.errors.LegacyDataError`); ``null`` answers
null, logs a warning and counts it in ``strangler_mapping_broken_values_total``;
``raw`` answers null and hands the stored value to a side field.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter

from strangler.errors import LegacyDataError
from strangler.mapping.codecs import BrokenValue, Codec

__all__ = ["BROKEN_VALUES", "MISSING", "decode_value"]

log = logging.getLogger("strangler.mapping")

BROKEN_VALUES = Counter(
    "strangler_mapping_broken_values",
    "Stored legacy values that broke their declared encoding, by system, object, field, policy.",
    ["system", "object", "field", "policy"],
)

MISSING: Any = object()
"""No raw side value (the stored value decoded, or the policy is not ``raw``)."""


def decode_value(
    codec: Codec, stored: Any, *, system: str, obj: str, field: str, row: str
) -> tuple[Any, Any]:
    """``(modern value, raw side value or MISSING)`` under the field's policy.

    ``row`` names the record for messages (``ORDERS 101880``).
    """
    try:
        return codec.decode(stored), MISSING
    except BrokenValue as exc:
        policy = codec.spec.on_broken
        where = f"{obj} {row}, field {field}" if row else f"{obj}, field {field}"
        if policy == "error":
            raise LegacyDataError(
                f"{system}: {where}: {exc}", system=system, where=where, stored=stored
            ) from None
        BROKEN_VALUES.labels(system, obj, field, policy).inc()
        log.warning("%s: %s: %s; answered as null (on_broken: %s)", system, where, exc, policy)
        return None, (_plain(stored) if policy == "raw" else MISSING)


def _plain(value: Any) -> Any:
    """A stored value as JSON can carry it."""
    return value if isinstance(value, str | int | float | bool) else str(value)
