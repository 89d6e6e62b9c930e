"""Naming conventions: legacy names (``ORDER_NO``, ``GetStockResult``) → modern ones."""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["Naming", "apply_naming", "words"]

Naming = Literal["keep", "camelCase", "snake_case", "PascalCase"]
"""How names not listed one by one are turned modern (``keep``: as they are)."""

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def words(name: str) -> list[str]:
    """The words of a name in any of the usual spellings, lower case.

    ``ORDER_NO`` → ``order no``, ``GetStockResult`` → ``get stock result``,
    ``XMLHttpRequest`` → ``xml http request``, ``cust-no`` → ``cust no``.
    """
    return [w.lower() for w in _WORD.findall(name)]


def apply_naming(name: str, naming: Naming) -> str:
    """``name`` in the convention; names with no letters or digits are kept."""
    if naming == "keep":
        return name
    parts = words(name)
    if not parts:
        return name
    if naming == "snake_case":
        return "_".join(parts)
    pascal = "".join(w[:1].upper() + w[1:] for w in parts)
    result = pascal if naming == "PascalCase" else parts[0] + pascal[len(parts[0]) :]
    return result if result[:1].isalpha() or result[:1] == "_" else "_" + result
