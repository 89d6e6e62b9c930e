"""Names for generated models and operations, as client generators will read them.

Legacy names come in every style (``GetStock``, ``ORDER_LINES``,
``pricing.list_price``, ``InventorySoap11``). :func:`words` splits one into
words, :func:`pascal` and :func:`camel` join words into one identifier
(``OrderLines``, ``listPrice``).

A model made for one system is named :func:`model_name` ``(system, *parts)``:
``"inventory.GetStockRequest"``, the system, a dot and a PascalCase local name
unique within the system. The REST edge serves it as the local name alone
(``GetStockRequest``) where no other system has that name, and system-qualified
(``InventoryGetStockRequest``) where one does (:func:`split_model_name` reads
the two parts back).
"""

from __future__ import annotations

import re

__all__ = ["camel", "model_name", "pascal", "split_model_name", "strip_system", "words"]

_PARTS = re.compile(r"[A-Za-z0-9]+")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def words(*names: str) -> list[str]:
    """The words of ``names`` in order: ``words("ORDER_LINES", "getStock")`` is
    ``["ORDER", "LINES", "get", "Stock"]``; digits stay with the word before them."""
    result: list[str] = []
    for name in names:
        for part in _PARTS.findall(name):
            for word in _WORDS.findall(part):
                if word.isdigit() and result and part.find(word) > 0:
                    result[-1] += word
                else:
                    result.append(word)
    return result


def pascal(*names: str) -> str:
    """``pascal("ORDER_LINES", "Row")`` → ``"OrderLinesRow"``; ``"X"`` when empty.

    A word in capitals becomes capitalized (``ORDERS`` → ``Orders``); other words
    keep their inner case (``getStock`` → ``GetStock``, ``soap11`` → ``Soap11``).
    """
    joined = "".join(
        w[:1].upper() + (w[1:].lower() if w.isupper() else w[1:]) for w in words(*names)
    )
    if not joined:
        return "X"
    return joined if not joined[0].isdigit() else f"N{joined}"


def camel(*names: str) -> str:
    """``camel("list", "ORDERS")`` → ``"listOrders"``."""
    name = pascal(*names)
    return name[:1].lower() + name[1:]


def strip_system(system: str, name: str) -> str:
    """``name`` without a leading namespace that only repeats the system's name:
    ``strip_system("pricing", "pricing.quote")`` → ``"quote"``."""
    head, dot, rest = name.partition(".")
    if dot and rest and [w.lower() for w in words(head)] == [w.lower() for w in words(system)]:
        return rest
    return name


def model_name(system: str, *parts: str) -> str:
    """``model_name("erp", "ORDER_LINES", "Row")`` → ``"erp.OrderLinesRow"``."""
    return f"{system}.{pascal(*parts)}"


def split_model_name(name: str) -> tuple[str | None, str]:
    """``"erp.OrderLinesRow"`` → ``("erp", "OrderLinesRow")``; a name without a
    system (no dot) → ``(None, name)``."""
    system, dot, local = name.partition(".")
    if not dot or not system or not local:
        return None, name
    return system, local
