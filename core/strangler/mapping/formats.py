"""Date and time formats of legacy fields: ``DD.MM.YYYY``, ``YYYYMMDD``, ``HHMMSS``.

Tokens: ``YYYY`` year, ``MM`` month (minutes in a ``time`` format, and after
the hour in a ``datetime`` one), ``DD`` day, ``HH`` hour (00-23), ``MI``
minutes, ``SS`` seconds; anything else must appear as it is. Every token has
a fixed width, so a format also says where each part sits in the stored text,
which is what filters pushed down to the database use.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Part", "TextFormat", "parse_format"]

Part = Literal["year", "month", "day", "hour", "minute", "second"]
ORDER: tuple[Part, ...] = ("year", "month", "day", "hour", "minute", "second")
_WIDTH = {"year": 4, "month": 2, "day": 2, "hour": 2, "minute": 2, "second": 2}
_TOKEN = re.compile(r"YYYY|MM|DD|HH|MI|SS")


@dataclass(frozen=True)
class TextFormat:
    """A parsed format: its pieces in order, each a part or literal text."""

    text: str
    pieces: tuple[tuple[Part | None, str], ...]

    @property
    def width(self) -> int:
        return sum(_WIDTH[p] if p else len(lit) for p, lit in self.pieces)

    @property
    def parts(self) -> tuple[Part, ...]:
        return tuple(p for p, _ in self.pieces if p is not None)

    @property
    def digits_only(self) -> bool:
        """No literal text: the value can be stored as an integer."""
        return all(p is not None for p, _ in self.pieces)

    @property
    def sorts_as_stored(self) -> bool:
        """The stored text (or integer) already sorts like the value it encodes."""
        return list(self.parts) == sorted(self.parts, key=ORDER.index)

    def positions(self) -> list[tuple[Part, int, int]]:
        """Each part with its 0-based offset and width in the stored text."""
        out, at = [], 0
        for part, literal in self.pieces:
            width = _WIDTH[part] if part else len(literal)
            if part:
                out.append((part, at, width))
            at += width
        return out

    def read(self, text: str) -> dict[Part, int]:
        """The parts of ``text``; ``ValueError`` when it does not follow the format."""
        if len(text) != self.width:
            raise ValueError(f"{text!r} does not follow {self.text}")
        values: dict[Part, int] = {}
        for part, at, width in self.positions():
            digits = text[at : at + width]
            if not (digits.isascii() and digits.isdigit()):
                raise ValueError(f"{text!r} does not follow {self.text}")
            values[part] = int(digits)
        at = 0
        for piece, literal in self.pieces:
            if piece is None and text[at : at + len(literal)] != literal:
                raise ValueError(f"{text!r} does not follow {self.text}")
            at += _WIDTH[piece] if piece else len(literal)
        return values

    def write(self, values: dict[Part, int]) -> str:
        return "".join(
            f"{values[part]:0{_WIDTH[part]}d}" if part else literal for part, literal in self.pieces
        )

    def sort_text(self, values: dict[Part, int]) -> str:
        """The parts most significant first, as digits (what pushed-down filters compare)."""
        return "".join(f"{values[p]:0{_WIDTH[p]}d}" for p in ORDER if p in self.parts)


def parse_format(text: str, kind: Literal["date", "time", "datetime"]) -> TextFormat:
    """The format of a ``date``, ``time`` or ``datetime`` field; ``ValueError`` if unusable."""
    pieces: list[tuple[Part | None, str]] = []
    at = 0
    seen_hour = kind == "time"
    for match in _TOKEN.finditer(text):
        if match.start() > at:
            pieces.append((None, text[at : match.start()]))
        token = match.group()
        part: Part = {
            "YYYY": "year", "DD": "day", "HH": "hour", "MI": "minute", "SS": "second",
            "MM": "minute" if seen_hour else "month",
        }[token]  # fmt: skip
        seen_hour = seen_hour or part == "hour"
        pieces.append((part, token))
        at = match.end()
    if at < len(text):
        pieces.append((None, text[at:]))
    parsed = TextFormat(text, tuple(pieces))
    parts = parsed.parts
    if len(set(parts)) != len(parts):
        raise ValueError(f"format {text!r} names a part twice")
    needed: dict[str, set[Part]] = {
        "date": {"year", "month", "day"},
        "time": {"hour", "minute"},
        "datetime": {"year", "month", "day", "hour", "minute"},
    }
    allowed: dict[str, set[Part]] = {
        "date": {"year", "month", "day"},
        "time": {"hour", "minute", "second"},
        "datetime": set(ORDER),
    }
    if not needed[kind] <= set(parts) or not set(parts) <= allowed[kind]:
        raise ValueError(
            f"{kind} format {text!r} needs {', '.join(sorted(needed[kind]))} "
            "(tokens YYYY MM DD HH MI SS)"
        )
    return parsed


def to_python(kind: Literal["date", "time", "datetime"], values: dict[Part, int]) -> object:
    """The ``date``, ``time`` or naive ``datetime``; ``ValueError`` for impossible ones."""
    if kind == "date":
        return dt.date(values["year"], values["month"], values["day"])
    if kind == "time":
        return dt.time(values["hour"], values["minute"], values.get("second", 0))
    return dt.datetime(
        values["year"], values["month"], values["day"],
        values["hour"], values["minute"], values.get("second", 0),
    )  # fmt: skip


def from_python(value: dt.date | dt.time) -> dict[Part, int]:
    """The parts of a date, time or datetime."""
    out: dict[Part, int] = {}
    if isinstance(value, dt.date):
        out["year"], out["month"], out["day"] = value.year, value.month, value.day
    if isinstance(value, dt.datetime | dt.time):
        out["hour"], out["minute"], out["second"] = value.hour, value.minute, value.second
    return out
