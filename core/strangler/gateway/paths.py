"""Paths into an answer, and the patterns that pick some of them out.

A path names one place in an answer: a JSON pointer (RFC 6901) such as
``/advice/0/qty`` for JSON, a simple XPath such as
``/soap:Envelope/soap:Body/tns:Resp/tns:item[2]/@code`` for XML.

A pattern is written the same way, with three conveniences:

* ``*`` stands for any one step (``/items/*/ts`` is every item's ``ts``);
* ``//`` stands for any number of steps (``//ruleId`` is a ``ruleId`` anywhere);
  a pattern that does not begin with ``/`` is read as beginning with ``//``;
* a step without a prefix or a position matches the step with any (``tns:item[2]``
  is matched by ``item``), and ``*[local-name()='item']`` is the XPath way to say so.

A pattern matching a path also matches everything below it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

__all__ = ["PathPatterns", "generalise", "pointer_segment"]

_ANY_DEPTH = ""  # the step that `//` leaves when a pattern is split on `/`
_POSITION = re.compile(r"\[\d+\]$")
_KNOWN_PATHS = 4096  # paths whose answer is remembered per pattern set
_STEP = re.compile(r"^(\*|@?[A-Za-z_][\w.-]*(:[A-Za-z_][\w.-]*)?(\[\d+\])?|@\*|[^/\[\]]+)$")
_LOCAL_NAME = re.compile(r"""^(@?)\*\[\s*local-name\(\)\s*=\s*(['"])([^'"]+)\2\s*\]$""")


def pointer_segment(key: str) -> str:
    """A key as one step of a JSON pointer (``~`` and ``/`` escaped)."""
    return key.replace("~", "~0").replace("/", "~1")


def generalise(path: str) -> str:
    """The pattern for a path's place in any list: indexes and positions become ``*``."""
    steps = _steps(path)
    return "/" + "/".join("*" if s.isdigit() else _POSITION.sub("", s) for s in steps)


class PathPatterns:
    """A set of patterns; :meth:`matches` says whether a path falls under one of them."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self._patterns: tuple[tuple[str, ...], ...] = ()
        self._texts: tuple[str, ...] = ()
        self._known: dict[str, bool] = {}  # path → matches: answers repeat their paths
        for pattern in patterns:
            self.add(pattern)

    def add(self, pattern: str) -> bool:
        """Add a pattern; ``False`` if it was there already. ``ValueError`` if empty."""
        text = pattern.strip()
        if not text or text == "/":
            raise ValueError(f"{pattern!r} is not a path pattern (it would ignore everything)")
        if text in self._texts:
            return False
        if not text.startswith("/"):
            text = "//" + text
        for step in _split(text):
            if step and not _STEP.match(step):
                raise ValueError(
                    f"{pattern!r}: the step {step!r} is not a name, *, a position or "
                    "*[local-name()='name']"
                )
        self._texts = (*self._texts, pattern.strip())
        self._patterns = (*self._patterns, _split(text))
        self._known = {}
        return True

    @property
    def patterns(self) -> tuple[str, ...]:
        return self._texts

    def matches(self, path: str) -> bool:
        if not self._patterns:
            return False
        known = self._known.get(path)
        if known is None:
            steps = _steps(path)
            known = any(_match(pattern, steps) for pattern in self._patterns)
            if len(self._known) >= _KNOWN_PATHS:
                self._known.clear()
            self._known[path] = known
        return known

    def __len__(self) -> int:
        return len(self._patterns)

    def __repr__(self) -> str:
        return f"PathPatterns({list(self._texts)!r})"


def _steps(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s)


@lru_cache(maxsize=1024)
def _split(pattern: str) -> tuple[str, ...]:
    steps: list[str] = []
    for step in pattern.split("/")[1:]:
        local = _LOCAL_NAME.match(step)
        if local:  # *[local-name()='x'] is the step x with any prefix
            step = local.group(1) + local.group(3)
        if step == _ANY_DEPTH:
            if not steps or steps[-1] != _ANY_DEPTH:
                steps.append(_ANY_DEPTH)
        else:
            steps.append(step)
    return tuple(steps)


def _match(pattern: Sequence[str], steps: Sequence[str]) -> bool:
    """Whether ``pattern`` matches the first steps of ``steps`` (a prefix match)."""
    if not pattern:
        return True
    head, rest = pattern[0], pattern[1:]
    if head == _ANY_DEPTH:
        return any(_match(rest, steps[i:]) for i in range(len(steps) + 1))
    return bool(steps) and _step_matches(head, steps[0]) and _match(rest, steps[1:])


def _step_matches(pattern: str, step: str) -> bool:
    if pattern in ("*", step):
        return True
    if not _POSITION.search(pattern):
        step = _POSITION.sub("", step)
    if ":" not in pattern and ":" in step:
        attribute = step.startswith("@")
        step = ("@" if attribute else "") + step.rpartition(":")[2]
    return pattern == step
