"""Which side answers a canary request: a point per sticky key, compared with the weight.

Each key (a header's value, a cookie's, a value inside the body) is hashed
with the route's name to a point in ``[0, 1)``; the request goes to the modern
side when the point lies below the route's weight. A key's point never moves,
so as the weight grows the keys already on the modern side stay there, and only
a lower weight (a rollback) moves any back. A request without a key gets a
fresh random point.

Keys are read from the request as it arrives: headers as the ASGI scope holds
them, the body parsed once by the caller (JSON) or here (XML, for an XPath).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from strangler.errors import InputProblem, InvalidInput
from strangler.spec.gateway import StickySpec

__all__ = ["Headers", "StickyKey", "point", "pointer_tokens"]

Headers = Sequence[tuple[bytes, bytes]]
"""The request's headers as ASGI gives them: lower-case names, raw values."""

_SPAN = float(1 << 64)


def point(salt: bytes, key: bytes | None) -> float:
    """The key's place in ``[0, 1)`` for this route (random when there is no key)."""
    if key is None:
        return random.random()
    digest = hashlib.blake2b(key, digest_size=8, key=salt).digest()
    return int.from_bytes(digest, "big") / _SPAN


def pointer_tokens(pointer: str) -> tuple[str, ...]:
    """The reference tokens of a JSON pointer (RFC 6901: ``~1`` is ``/``, ``~0`` is ``~``)."""
    if pointer == "":
        return ()
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/"))


class StickyKey:
    """Reads a route's sticky key from a request (``None``: the request has none)."""

    def __init__(self, sticky: StickySpec | None) -> None:
        self.spec = sticky
        self.needs_json = sticky is not None and sticky.body is not None
        self.needs_xml = sticky is not None and sticky.xpath is not None
        self._read: Callable[[Headers, Any, bytes], bytes | None] = _no_key
        if sticky is None:
            return
        if sticky.header is not None:
            self._read = _header_reader(sticky.header.lower().encode("latin-1"))
        elif sticky.cookie is not None:
            self._read = _cookie_reader(sticky.cookie)
        elif sticky.body is not None:
            self._read = _pointer_reader(pointer_tokens(sticky.body))
        elif sticky.xpath is not None:
            self._read = _xpath_reader(sticky.xpath)

    def __call__(self, headers: Headers, document: Any, body: bytes) -> bytes | None:
        """The key of a request: its headers, its JSON ``document`` (parsed), its raw body."""
        return self._read(headers, document, body)


def _no_key(headers: Headers, document: Any, body: bytes) -> bytes | None:
    return None


def _header_reader(name: bytes) -> Callable[[Headers, Any, bytes], bytes | None]:
    def read(headers: Headers, document: Any, body: bytes) -> bytes | None:
        for key, value in headers:
            if key == name:
                return value or None
        return None

    return read


def _cookie_reader(name: str) -> Callable[[Headers, Any, bytes], bytes | None]:
    def read(headers: Headers, document: Any, body: bytes) -> bytes | None:
        for key, value in headers:
            if key == b"cookie":
                for pair in value.decode("latin-1").split(";"):
                    cookie, sep, text = pair.strip().partition("=")
                    if sep and cookie == name:
                        text = text.strip()
                        if len(text) >= 2 and text[0] == text[-1] == '"':
                            text = text[1:-1]
                        return text.encode("latin-1") or None
        return None

    return read


def _pointer_reader(tokens: tuple[str, ...]) -> Callable[[Headers, Any, bytes], bytes | None]:
    def read(headers: Headers, document: Any, body: bytes) -> bytes | None:
        value = document
        for token in tokens:
            if isinstance(value, dict):
                if token not in value:
                    return None
                value = value[token]
            elif isinstance(value, list) and token.isdigit():
                index = int(token)
                if index >= len(value):
                    return None
                value = value[index]
            else:
                return None
        if value is None or isinstance(value, dict | list):
            return None
        return value.encode("utf-8") if isinstance(value, str) else orjson.dumps(value)

    return read


def _xpath_reader(expression: str) -> Callable[[Headers, Any, bytes], bytes | None]:
    from lxml import etree

    xpath = etree.XPath(expression)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

    def read(headers: Headers, document: Any, body: bytes) -> bytes | None:
        try:
            root = etree.fromstring(body, parser)
        except etree.XMLSyntaxError as exc:
            raise InvalidInput(
                "the request is not readable XML", [InputProblem("/", str(exc))]
            ) from None
        found = xpath(root)
        first: Any = found[0] if isinstance(found, list) and found else found
        if isinstance(first, etree._Element):
            first = first.text
        if first is None or first == [] or isinstance(first, bool):
            return None
        text = str(first).strip()
        return text.encode("utf-8") or None

    return read
