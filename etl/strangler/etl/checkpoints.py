"""Resume positions as JSON: the last row's sort values, with their Python types kept.

A checkpoint is stored by the feature store as JSON; the values a keyset
condition compares (timestamps, dates, decimals, text, integers) must come back
with the type they left with, so each one that JSON cannot carry is tagged.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Any

__all__ = ["dump_value", "dump_values", "load_value", "load_values"]


def dump_value(value: Any) -> Any:
    """A sort value as JSON-able data."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, decimal.Decimal):
        return {"decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"time": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": base64.b64encode(bytes(value)).decode("ascii")}
    return {"text": str(value)}


def load_value(data: Any) -> Any:
    """The inverse of :func:`dump_value`."""
    if not isinstance(data, dict):
        return data
    ((tag, text),) = data.items()
    loaders: dict[str, Any] = {
        "float": float,
        "decimal": decimal.Decimal,
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "time": dt.time.fromisoformat,
        "bytes": base64.b64decode,
        "text": str,
    }
    return loaders[tag](text)


def dump_values(values: Sequence[Any]) -> list[Any]:
    return [dump_value(v) for v in values]


def load_values(data: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(load_value(v) for v in data)
