"""Two SOAP messages compared for meaning, not bytes.

What does not count as a difference:

* namespace prefixes and where namespaces are declared (names are compared
  as ``{namespace}local``, and so are the QName values of ``xsi:type``,
  ``soapenc:arrayType``, a SOAP 1.1 ``faultcode`` and a SOAP 1.2 fault
  ``Value``);
* whitespace between elements (pretty-printing), comments, processing
  instructions, the XML declaration, character references and CDATA;
* the order of children where the schema lets it vary (an ``xs:all`` group,
  see :class:`Rules.unordered_names`) or the caller says so;
* a value written differently in its schema type's lexical space when the
  schema gives the type (``1``/``true`` for ``xs:boolean``, ``1.50``/``1.5``
  for ``xs:decimal``, surrounding whitespace for every type but strings);
* anything under an ignored path.

:func:`canonical` writes the C14N 2.0 form of a message with prefixes rewritten
(``n0``, ``n1``…) and whitespace-only text dropped: two messages equal under it
are equal here. :func:`compare` explains the rest as :class:`Difference` items,
each with a path of local names (``/Envelope/Body/GetStockResponse/…/quantity``;
``[n]`` when a name repeats among siblings).

Paths given to ignore or reorder are a small XPath subset over local names:
``/a/b`` (children), ``//b`` (at any depth), ``*`` (any name), ``b[2]`` (the
second ``b``), a final ``@attr`` for an attribute; a path not starting with
``/`` matches at any depth.
"""

from __future__ import annotations

import difflib
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from lxml import etree

__all__ = [
    "Difference",
    "PathPattern",
    "Rules",
    "XmlError",
    "canonical",
    "compare",
    "parse_xml",
]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_XSI_TYPE = f"{{{XSI}}}type"
_XSI_NIL = f"{{{XSI}}}nil"
_ARRAY_TYPE = f"{{{SOAP_ENC}}}arrayType"
_QNAME_ATTRIBUTES = frozenset({_XSI_TYPE, _ARRAY_TYPE})
_QNAME_TEXT = frozenset({"faultcode", f"{{{SOAP12}}}Value"})

ValueKind = Literal[
    "integer", "decimal", "float", "boolean", "datetime", "temporal", "string", "token"
]
Kind = Literal["missing", "unexpected", "value", "attribute", "name", "order"]

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    strip_cdata=True,
)


class XmlError(ValueError):
    """A message that is not well-formed XML, or carries a DTD."""


def parse_xml(data: bytes) -> etree._Element:
    """Parse a message: no DTD, no entities, no network."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"not well-formed XML: {exc}") from None
    info: Any = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise XmlError("a DTD in the message")
    return root


def canonical(data: bytes) -> str:
    """The C14N 2.0 form of ``data``: prefixes rewritten, whitespace-only text dropped."""
    text = etree.tostring(parse_xml(data), encoding="unicode")
    return ET.canonicalize(
        text,
        strip_text=True,
        rewrite_prefixes=True,
        qname_aware_attrs=sorted(_QNAME_ATTRIBUTES),
        qname_aware_tags=sorted(_QNAME_TEXT),
    )


@dataclass(frozen=True)
class PathPattern:
    """A path of the small XPath subset (see the module's docstring), compiled."""

    text: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> PathPattern:
        """Compile ``text``; ``ValueError`` says what is wrong with it."""
        source = text.strip()
        if not source:
            raise ValueError("an empty path")
        if not source.startswith("/"):
            source = "//" + source
        parts = re.split(r"(//|/)", source)[1:]
        out: list[str] = []
        for i in range(0, len(parts), 2):
            axis, step = parts[i], parts[i + 1] if i + 1 < len(parts) else ""
            out.append("(?:/[^/]+)*/" if axis == "//" else "/")
            out.append(_step(step, text, last=i + 2 >= len(parts)))
        return cls(text, re.compile("".join(out)))

    def matches(self, path: str) -> bool:
        """Whether the indexed path (``/Envelope[1]/Body[1]/…``) is selected."""
        return self.regex.fullmatch(path) is not None


_STEP = re.compile(r"(@?)(?:\{[^}]*\}|[A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*|\*)(?:\[(\d+)\])?")


def _step(step: str, text: str, *, last: bool) -> str:
    found = _STEP.fullmatch(step)
    if found is None:
        raise ValueError(f"{text!r}: {step!r} is not a name, '*', name[n] or @name")
    at, name, index = found.groups()
    if at and not last:
        raise ValueError(f"{text!r}: an attribute step must come last")
    name_re = "[^/@\\[]+" if name == "*" else re.escape(name)
    if at:
        return "@" + name_re
    return name_re + (rf"\[{index}\]" if index else r"\[\d+\]")


@dataclass(frozen=True)
class Rules:
    """What the comparison leaves aside.

    ``ignore``/``unordered``: caller's paths. ``unordered_names``: Clark names of
    elements whose children form an ``xs:all`` group; ``unordered_types``: Clark
    names of such complex types (matched by ``xsi:type``). ``value_kinds``: the
    schema type of leaf elements by Clark name, when it is one type everywhere.
    """

    ignore: tuple[PathPattern, ...] = ()
    unordered: tuple[PathPattern, ...] = ()
    unordered_names: frozenset[str] = frozenset()
    unordered_types: frozenset[str] = frozenset()
    value_kinds: dict[str, ValueKind] = field(default_factory=dict)

    @classmethod
    def from_paths(cls, ignore: Iterable[str] = (), unordered: Iterable[str] = ()) -> Rules:
        return cls(
            tuple(PathPattern.parse(p) for p in ignore),
            tuple(PathPattern.parse(p) for p in unordered),
        )


@dataclass(frozen=True)
class Difference:
    """One way the answer differs from the recorded one, at ``path``."""

    path: str
    kind: Kind
    expected: str | None
    actual: str | None

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.path}: missing (expected {self.expected})"
        if self.kind == "unexpected":
            return f"{self.path}: unexpected ({self.actual})"
        if self.kind == "order":
            return f"{self.path}: moved from child {self.expected} to child {self.actual}"
        return f"{self.path}: {self.kind} {self.expected!r} became {self.actual!r}"


def compare(expected: bytes, actual: bytes, rules: Rules | None = None) -> list[Difference]:
    """The differences of ``actual`` from ``expected`` under ``rules`` (empty: equivalent)."""
    left, right = parse_xml(expected), parse_xml(actual)
    out: list[Difference] = []
    name = _local(str(left.tag))
    _Comparer(rules or Rules(), out).element(left, right, f"/{name}", f"/{name}[1]")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _resolve_qname(value: str, node: etree._Element) -> str:
    """``prefix:local`` (or ``type[3]`` for arrays) with the prefix replaced by its namespace."""
    text = value.strip()
    prefix, sep, rest = text.partition(":")
    namespace = node.nsmap.get(prefix if sep else None)
    if not sep:
        return f"{{{namespace}}}{text}" if namespace else text
    return f"{{{namespace}}}{rest}" if namespace else text


def _children(node: etree._Element) -> list[etree._Element]:
    return [c for c in node if isinstance(c.tag, str)]


def _text(node: etree._Element) -> str:
    """Text directly inside ``node`` (tails of its children included)."""
    parts = [node.text or ""]
    parts.extend(c.tail or "" for c in node)
    return "".join(parts)


@dataclass
class _Comparer:
    rules: Rules
    out: list[Difference]

    def element(
        self, left: etree._Element, right: etree._Element, shown: str, indexed: str
    ) -> None:
        """Compare two elements found at ``shown`` (``indexed``: every step with its index)."""
        if self._ignored(indexed):
            return
        if left.tag != right.tag:
            self.out.append(Difference(shown, "name", str(left.tag), str(right.tag)))
            return
        self.attributes(left, right, shown, indexed)
        lkids, rkids = _children(left), _children(right)
        if not lkids and not rkids:
            self.value(left, right, shown)
            return
        ltext, rtext = _text(left).strip(), _text(right).strip()
        if ltext != rtext:
            self.out.append(Difference(shown, "value", ltext, rtext))
        if self._unordered(left, indexed):
            self.unordered_children(lkids, rkids, shown, indexed)
        else:
            self.ordered_children(lkids, rkids, shown, indexed)

    def attributes(
        self, left: etree._Element, right: etree._Element, shown: str, indexed: str
    ) -> None:
        lattrs, rattrs = self._attrs(left), self._attrs(right)
        for name in sorted(lattrs.keys() | rattrs.keys()):
            if self._ignored(f"{indexed}/@{_local(name)}"):
                continue
            lv, rv = lattrs.get(name), rattrs.get(name)
            if lv != rv:
                self.out.append(Difference(f"{shown}/@{_local(name)}", "attribute", lv, rv))

    @staticmethod
    def _attrs(node: etree._Element) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in node.attrib.items():
            name = str(key)
            if name in _QNAME_ATTRIBUTES:
                out[name] = _resolve_qname(str(value), node)
            elif name == _XSI_NIL:
                out[name] = _boolean(str(value)) or str(value)
            else:
                out[name] = str(value)
        return out

    def value(self, left: etree._Element, right: etree._Element, shown: str) -> None:
        tag = str(left.tag)
        lv, rv = left.text or "", right.text or ""
        if tag in _QNAME_TEXT or _local(tag) == "faultcode":
            lv, rv = _resolve_qname(lv, left), _resolve_qname(rv, right)
            if lv != rv:
                self.out.append(Difference(shown, "value", lv, rv))
            return
        kind = self._kind(left, tag)
        problem = _same_value(lv, rv, kind)
        if problem is not None:
            self.out.append(Difference(shown, "value", lv, problem if problem else rv))

    def _kind(self, node: etree._Element, tag: str) -> ValueKind:
        declared = node.get(_XSI_TYPE)
        if declared is not None:
            kind = _XSD_KINDS.get(_resolve_qname(declared, node))
            if kind is not None:
                return kind
        return self.rules.value_kinds.get(tag, "string")

    def ordered_children(
        self,
        lkids: Sequence[etree._Element],
        rkids: Sequence[etree._Element],
        shown: str,
        indexed: str,
    ) -> None:
        """Aligned by name; what is left over pairs up as moved (same name) or renamed
        (same local name, another namespace), the rest is missing or unexpected."""
        lnames, rnames = [str(c.tag) for c in lkids], [str(c.tag) for c in rkids]
        lpos, rpos = _positions(lkids), _positions(rkids)
        matcher = difflib.SequenceMatcher(a=lnames, b=rnames, autojunk=False)
        missing: list[int] = []
        unexpected: list[int] = []
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                    self._pair(lkids[i], rkids[j], shown, indexed, lpos[i])
            else:
                missing.extend(range(i1, i2))
                unexpected.extend(range(j1, j2))
        for key in (lambda tag: tag, _local):
            for i in list(missing):
                found = [j for j in unexpected if key(rnames[j]) == key(lnames[i])]
                if not found:
                    continue
                j = found[0]
                missing.remove(i)
                unexpected.remove(j)
                if lnames[i] == rnames[j]:
                    path, here = _paths(lkids[i], shown, indexed, lpos[i])
                    if not self._ignored(here):
                        self.out.append(Difference(path, "order", f"#{i + 1}", f"#{j + 1}"))
                self._pair(lkids[i], rkids[j], shown, indexed, lpos[i])
        for i in missing:
            self._missing(lkids[i], shown, indexed, lpos[i])
        for j in unexpected:
            self._unexpected(rkids[j], shown, indexed, rpos[j])

    def unordered_children(
        self,
        lkids: Sequence[etree._Element],
        rkids: Sequence[etree._Element],
        shown: str,
        indexed: str,
    ) -> None:
        lpos, rpos = _positions(lkids), _positions(rkids)
        by_name: dict[str, list[int]] = {}
        for j, kid in enumerate(rkids):
            by_name.setdefault(str(kid.tag), []).append(j)
        used: set[int] = set()
        for i, kid in enumerate(lkids):
            candidates = by_name.get(str(kid.tag), [])
            if candidates:
                j = candidates.pop(0)
                used.add(j)
                self._pair(kid, rkids[j], shown, indexed, lpos[i])
            else:
                self._missing(kid, shown, indexed, lpos[i])
        for j, kid in enumerate(rkids):
            if j not in used:
                self._unexpected(kid, shown, indexed, rpos[j])

    def _pair(
        self,
        left: etree._Element,
        right: etree._Element,
        shown: str,
        indexed: str,
        pos: tuple[int, bool],
    ) -> None:
        path, here = _paths(left, shown, indexed, pos)
        self.element(left, right, path, here)

    def _missing(
        self, node: etree._Element, shown: str, indexed: str, pos: tuple[int, bool]
    ) -> None:
        path, here = _paths(node, shown, indexed, pos)
        if not self._ignored(here):
            self.out.append(Difference(path, "missing", _summary(node), None))

    def _unexpected(
        self, node: etree._Element, shown: str, indexed: str, pos: tuple[int, bool]
    ) -> None:
        path, here = _paths(node, shown, indexed, pos)
        if not self._ignored(here):
            self.out.append(Difference(path, "unexpected", None, _summary(node)))

    def _ignored(self, indexed: str) -> bool:
        return any(p.matches(indexed) for p in self.rules.ignore)

    def _unordered(self, node: etree._Element, indexed: str) -> bool:
        if str(node.tag) in self.rules.unordered_names:
            return True
        declared = node.get(_XSI_TYPE)
        if declared is not None and _resolve_qname(declared, node) in self.rules.unordered_types:
            return True
        return any(p.matches(indexed) for p in self.rules.unordered)


def _positions(kids: Sequence[etree._Element]) -> list[tuple[int, bool]]:
    """Each child's 1-based index among siblings of its name, and whether the name repeats."""
    counts: dict[str, int] = {}
    for kid in kids:
        counts[str(kid.tag)] = counts.get(str(kid.tag), 0) + 1
    seen: dict[str, int] = {}
    out = []
    for kid in kids:
        seen[str(kid.tag)] = seen.get(str(kid.tag), 0) + 1
        out.append((seen[str(kid.tag)], counts[str(kid.tag)] > 1))
    return out


def _paths(
    node: etree._Element, shown: str, indexed: str, pos: tuple[int, bool]
) -> tuple[str, str]:
    name = _local(str(node.tag))
    index, repeated = pos
    label = f"{name}[{index}]" if repeated else name
    return f"{shown}/{label}", f"{indexed}/{name}[{index}]"


def _summary(node: etree._Element) -> str:
    """``<name>text</name>``, or ``<name>`` with its number of children."""
    name = _local(str(node.tag))
    kids = _children(node)
    if kids:
        return f"<{name}> with {len(kids)} child element{'s' if len(kids) > 1 else ''}"
    text = (node.text or "").strip()
    text = text if len(text) <= 120 else text[:119] + "…"
    return f"<{name}>{text}</{name}>" if text else f"<{name}/>"


def _temporal(text: str, kind: ValueKind) -> object:
    """An ``xs:dateTime`` as an instant when it has a zone; ``Z``, ``+00:00`` and
    ``-00:00`` are one zone for dates and times too."""
    if not re.fullmatch(r"-?\d[\d:.T+\-]*Z?", text):
        raise ValueError(text)
    normal = re.sub(r"(Z|[+-]00:00)$", "+00:00", text)
    if kind == "temporal":
        return normal
    try:
        value = datetime.fromisoformat(normal)
    except ValueError:
        return normal  # a year beyond 9999, a leap second: compared as written
    return (value, value.tzinfo is not None)  # zoned ones compare as instants


def _boolean(value: str) -> str | None:
    return {"true": "true", "1": "true", "false": "false", "0": "false"}.get(value.strip())


def _same_value(left: str, right: str, kind: ValueKind) -> str | None:
    """``None`` when equal as ``kind``; else what to show for the answer (``""``: as it is)."""
    if kind == "string":
        return None if left == right else ""
    lt, rt = left.strip(), right.strip()
    if kind == "token" or lt == rt:
        return None if " ".join(lt.split()) == " ".join(rt.split()) else ""
    try:
        rval = _typed(rt, kind)
    except ValueError:
        return f"{right} (not a valid {kind})"
    try:
        return None if _typed(lt, kind) == rval else ""
    except ValueError:
        return ""


def _typed(text: str, kind: ValueKind) -> object:
    if kind in ("datetime", "temporal"):
        return _temporal(text, kind)
    if kind == "boolean":
        value = _boolean(text)
        if value is None:
            raise ValueError(text)
        return value
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(text)
        return int(text)
    if kind == "decimal":
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            raise ValueError(text)
        return Decimal(text)
    try:
        number = float({"INF": "inf", "-INF": "-inf", "NaN": "nan"}.get(text, text))
    except ValueError:
        raise ValueError(text) from None
    return "nan" if math.isnan(number) else number


_XSD = "http://www.w3.org/2001/XMLSchema"
_INTEGERS = (
    "integer int long short byte nonNegativeInteger positiveInteger nonPositiveInteger "
    "negativeInteger unsignedLong unsignedInt unsignedShort unsignedByte"
)
_XSD_KINDS: dict[str, ValueKind] = {
    **{f"{{{_XSD}}}{n}": "integer" for n in _INTEGERS.split()},
    f"{{{_XSD}}}decimal": "decimal",
    f"{{{_XSD}}}float": "float",
    f"{{{_XSD}}}double": "float",
    f"{{{_XSD}}}boolean": "boolean",
    f"{{{_XSD}}}dateTime": "datetime",
    f"{{{_XSD}}}date": "temporal",
    f"{{{_XSD}}}time": "temporal",
    f"{{{_XSD}}}string": "string",
}
