"""JSON for the values adapters return (decimals, dates, bytes, durations)."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Callable
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


def dumps(value: Any, default: Callable[[Any], Any] = _default) -> bytes:
    """JSON of ``value``; never fails on text or numbers JSON can carry.

    orjson refuses text that is not valid Unicode (a lone surrogate a caller
    sent, echoed in an error) and integers past 64 bits; those few answers are
    written by the standard library instead, surrogates escaped as ``\\udXXX``.
    """
    try:
        return orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        text = json.dumps(value, default=default, ensure_ascii=True, separators=(",", ":"))
        return text.encode("ascii")


class JSONResponse(_StarletteJSONResponse):
    """A JSON response encoded with orjson and the project's type rules."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
