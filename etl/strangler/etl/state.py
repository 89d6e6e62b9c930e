"""What the store keeps about views and runs, as JSON text in the state tables.

Watermarks keep their type (a timestamp, a date, a number, a text) through a
small tagged form, ``{"kind": "datetime", "value": "2024-05-01T10:00:00+00:00"}``,
so the next run compares like with like. Checkpoints are the source's own
JSON-able dicts, stored as they are.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["decode_json", "decode_watermark", "encode_json", "encode_watermark", "now"]


def now() -> datetime:
    return datetime.now(UTC)


def encode_watermark(value: Any) -> str | None:
    """A watermark value as tagged JSON text (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        tagged: dict[str, Any] = {"kind": "datetime", "value": utc.isoformat()}
    elif isinstance(value, date):
        tagged = {"kind": "date", "value": value.isoformat()}
    elif isinstance(value, time):
        tagged = {"kind": "time", "value": value.isoformat()}
    elif isinstance(value, Decimal):
        tagged = {"kind": "decimal", "value": str(value)}
    elif isinstance(value, bool | int | float | str):
        tagged = {"kind": type(value).__name__, "value": value}
    else:
        raise TypeError(f"a watermark cannot be a {type(value).__name__}: {value!r}")
    return orjson.dumps(tagged).decode()


def decode_watermark(text: str | None) -> Any:
    """The value :func:`encode_watermark` wrote."""
    if text is None:
        return None
    tagged = orjson.loads(text)
    kind, value = tagged["kind"], tagged["value"]
    match kind:
        case "datetime":
            return datetime.fromisoformat(value)
        case "date":
            return date.fromisoformat(value)
        case "time":
            return time.fromisoformat(value)
        case "decimal":
            return Decimal(value)
    return value


def encode_json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


def decode_json(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)
