"""What a database must compute so that filters and sorts on a converted field work
on the stored values: a small expression tree, free of any SQL library.

A codec answers ``sortable()``: an expression over the stored column whose
value, for every well-formed stored value, compares (``=``, ``<``, ``ORDER
BY``) exactly as the decoded modern value does; and ``comparable(value)``: a
modern value in that same domain. The database adapter renders the tree into
its dialect's SQL, so a filter on ``orderDate`` over ``DD.MM.YYYY`` text is
evaluated by the database and paging stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Arithmetic", "AsInteger", "Cases", "Expr", "NullIf", "RTrim", "Slices", "Stored"]


@dataclass(frozen=True)
class Stored:
    """The stored column as it is."""


@dataclass(frozen=True)
class RTrim:
    """``inner`` without trailing blanks (fixed-width codes)."""

    inner: Expr


@dataclass(frozen=True)
class AsInteger:
    """``inner``'s text read as an integer (amounts in minor units kept in text columns)."""

    inner: Expr


@dataclass(frozen=True)
class Slices:
    """The concatenation of substrings ``(offset, width)`` (0-based) of ``inner``'s text."""

    inner: Expr
    parts: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Arithmetic:
    """For an integer: the sum over ``(divisor, modulus, weight)`` of
    ``(inner // divisor) % modulus * weight`` (digit groups moved about)."""

    inner: Expr
    groups: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class Cases:
    """``CASE inner WHEN stored THEN result ... ELSE NULL END``."""

    inner: Expr
    pairs: tuple[tuple[Any, Any], ...]


@dataclass(frozen=True)
class NullIf:
    """``NULL`` where ``inner`` is one of ``values``, ``then`` otherwise."""

    inner: Expr
    values: tuple[Any, ...]
    then: Expr


Expr = Stored | RTrim | AsInteger | Slices | Arithmetic | Cases | NullIf
