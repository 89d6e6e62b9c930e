"""What differs between a legacy answer and a modern one, path by path.

The two answers are compared for what they mean, not how they are written:

* JSON (or JSON-ready Python values, pydantic models included): key order does
  not count; numbers compare as numbers (``1``, ``1.0`` and ``1e0`` are equal;
  ``true`` is not ``1``), within ``tolerance`` (relative and absolute) if set.
* XML (``bytes``/``str`` beginning with ``<``): parsed by the hardened reply
  parser (no DTD, entities, processing instructions; bounded size and depth),
  comments and whitespace between elements dropped, namespace prefixes
  normalised (:mod:`strangler.gateway.xml_tree`), so two answers that differ
  only in prefixes or attribute order are equal; texts that both read as
  numbers compare as numbers.

A path is a JSON pointer for JSON (``/advice/0/qty``) and a simple XPath for
XML (``/soap:Envelope/soap:Body/tns:Resp/tns:item[2]/tns:qty``, ``@name`` for
an attribute). ``ignore`` takes patterns of the same forms (see
:class:`PathPatterns`); an ignored path hides everything below it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from strangler.gateway.paths import PathPatterns, pointer_segment

__all__ = ["Difference", "canonical_json", "diff", "is_xml", "jsonable"]

Change = Literal["changed", "added", "removed"]


@dataclass(frozen=True)
class Difference:
    """One path where the answers differ.

    ``removed``: the path exists in the legacy answer only; ``added``: in the modern one only.
    """

    path: str
    legacy: Any
    modern: Any
    change: Change = "changed"

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "change": self.change,
            "legacy": self.legacy,
            "modern": self.modern,
        }


def is_xml(value: Any) -> bool:
    """Whether an answer is XML text (bytes or str whose first non-blank is ``<``)."""
    if isinstance(value, bytes):
        return value.lstrip()[:1] == b"<"
    return isinstance(value, str) and value.lstrip()[:1] == "<"


def jsonable(value: Any) -> Any:
    """A JSON-ready form of an answer: pydantic models dumped, JSON bytes parsed, XML as text."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {str(k): jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [jsonable(v) for v in value]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", errors="replace")
        return text if is_xml(text) else _parse_json(text)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


_PLAIN = frozenset({str, int, float, bool, type(None)})


def canonical_json(value: Any) -> str:
    """One text per meaning: sorted keys, integral floats as integers, no spaces."""
    return json.dumps(_canonical_numbers(jsonable(value)), sort_keys=True, separators=(",", ":"))


def diff(
    legacy: Any,
    modern: Any,
    *,
    ignore: PathPatterns | Iterable[str] = (),
    tolerance: float = 0.0,
) -> list[Difference]:
    """The differences between two answers, in document order; empty when they agree.

    Both XML: compared as XML trees. Otherwise both are made JSON-ready
    (:func:`jsonable`) and compared as JSON. Unreadable XML raises ``ValueError``.
    """
    patterns = ignore if isinstance(ignore, PathPatterns) else PathPatterns(ignore)
    if is_xml(legacy) and is_xml(modern):
        from strangler.gateway.xml_tree import xml_pair

        left, right = xml_pair(legacy, modern)
        walker = _Walker(patterns, tolerance, xml=True)
    else:
        left, right = jsonable(legacy), jsonable(modern)
        walker = _Walker(patterns, tolerance, xml=False)
    return list(walker.walk(left, right, ""))


class _Walker:
    def __init__(self, patterns: PathPatterns, tolerance: float, *, xml: bool) -> None:
        self.patterns, self.tolerance, self.xml = patterns, tolerance, xml

    def walk(self, left: Any, right: Any, path: str) -> Iterator[Difference]:
        if path and self.patterns.matches(path):
            return
        if isinstance(left, dict) and isinstance(right, dict):
            for key in [*left, *(k for k in right if k not in left)]:
                child = self._child(path, key)
                if key not in right:
                    if not self.patterns.matches(child):
                        yield Difference(child, left[key], None, "removed")
                elif key not in left:
                    if not self.patterns.matches(child):
                        yield Difference(child, None, right[key], "added")
                else:
                    yield from self.walk(left[key], right[key], child)
        elif isinstance(left, list) and isinstance(right, list):
            for index in range(max(len(left), len(right))):
                child = self._item(path, index)
                if index >= len(right):
                    if not self.patterns.matches(child):
                        yield Difference(child, left[index], None, "removed")
                elif index >= len(left):
                    if not self.patterns.matches(child):
                        yield Difference(child, None, right[index], "added")
                else:
                    yield from self.walk(left[index], right[index], child)
        elif not self._same(left, right):
            yield Difference(path or "/", left, right)

    def _child(self, path: str, key: str) -> str:
        return f"{path}/{key}" if self.xml else f"{path}/{pointer_segment(key)}"

    def _item(self, path: str, index: int) -> str:
        return f"{path}[{index + 1}]" if self.xml else f"{path}/{index}"

    def _same(self, left: Any, right: Any) -> bool:
        a, b = _number(left, xml=self.xml), _number(right, xml=self.xml)
        if a is not None and b is not None:
            if a == b:
                return True
            return self.tolerance > 0 and math.isclose(
                a, b, rel_tol=self.tolerance, abs_tol=self.tolerance
            )
        return type(left) is type(right) and bool(left == right)


def _number(value: Any, *, xml: bool) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    if xml and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _canonical_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_numbers(v) for v in value]
    return value


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
