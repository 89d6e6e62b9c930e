"""JSON for the values adapters return (decimals, dates, bytes, durations)."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSONResponse

__all__ = ["JSONResponse", "dumps"]


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)  # exact: decimals travel as strings
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.timedelta):
        import isodate

        text: str = isodate.duration_isoformat(value)
        return text
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot turn {type(value).__name__} into JSON")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


class JSONResponse(_StarletteJSONResponse):
    """A JSON response encoded with orjson and the project's type rules."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
