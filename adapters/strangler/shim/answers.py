"""A reply envelope written straight from the answer, for the answers whose shape allows it.

zeep writes a reply by first building its value objects from the answer, then
rendering them element by element, checking as it goes: correct for every shape
a WSDL can describe, and most of the shim's own time per call. Most answers are
simpler: a document/literal Body whose one element is a sequence of elements,
each a simple value or another such sequence, optional or repeated. For an
operation whose output is only that (no attributes, no choices or wildcards, no
header parts, not SOAP-encoded), :func:`answer_plan` compiles the output's schema
once into a :class:`Plan` that renders the same elements as zeep does (the same
names and namespaces, the same order, each value's text from zeep's own simple
type) in one pass over the answer.

Whenever an answer is not exactly what the plan expects (a required value
missing, a key the schema lacks, a list where one value goes), the plan declines
and zeep writes the reply, so what zeep would refuse is refused in its words.
``tests/shim/test_answers.py`` checks the two agree on every operation of the
demo and of the corpus whose output a plan can write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from lxml import etree
from zeep.xsd.elements.element import Element
from zeep.xsd.elements.indicators import Sequence
from zeep.xsd.types.collection import ListType, UnionType
from zeep.xsd.types.complex import ComplexType
from zeep.xsd.types.simple import AnySimpleType

__all__ = ["Declined", "Plan", "answer_plan", "read_plainly", "request_plan"]

_ENVELOPES: Final = {
    "1.1": "http://schemas.xmlsoap.org/soap/envelope/",
    "1.2": "http://www.w3.org/2003/05/soap-envelope",
}


_ITEMS: Final = (ListType, UnionType)


class Declined(Exception):
    """The answer is not what the plan writes: zeep writes it."""


@dataclass(frozen=True)
class _Child:
    """One element of a sequence: its name in the answer, its tag and occurrences."""

    name: str
    tag: etree.QName
    optional: bool
    min_occurs: int
    max_occurs: int | None  # None: unbounded
    simple: Any  # zeep's simple type (its xmlvalue), or None for a complex one
    members: tuple[_Child, ...] | None  # the complex type's sequence
    default: Any = None  # the schema's default value, if it declares one


@dataclass(frozen=True)
class Plan:
    """How one operation's reply is written (see the module)."""

    root: _Child
    prefixes: dict[str, str]

    def render(self, answer: dict[str, Any], version: str) -> Any:
        """The reply envelope (lxml) for ``answer`` in SOAP ``version``; :class:`Declined`
        when the answer is not what the plan writes."""
        namespace = _ENVELOPES[version]
        nsmap = {"soap-env": namespace, **self.prefixes}
        envelope = etree.Element(f"{{{namespace}}}Envelope", nsmap=nsmap)
        body = etree.SubElement(envelope, f"{{{namespace}}}Body")
        _element(body, self.root, answer)
        return envelope


def _element(parent: Any, child: _Child, value: Any) -> None:
    if isinstance(value, list):
        if child.max_occurs == 1:
            raise Declined
        if len(value) < child.min_occurs:
            raise Declined
        if child.max_occurs is not None and len(value) > child.max_occurs:
            raise Declined
        for item in value:
            if item is None:
                raise Declined
            _item(parent, child, item)
        return
    if value is None:
        if not child.optional:
            raise Declined  # zeep refuses it, or writes a nil: its words either way
        return
    _item(parent, child, value)


def _item(parent: Any, child: _Child, value: Any) -> None:
    node = etree.SubElement(parent, child.tag)
    if child.simple is not None:
        if isinstance(value, (dict, list)):
            raise Declined
        node.text = child.simple.xmlvalue(value)
        return
    if not isinstance(value, dict):
        raise Declined
    members = child.members or ()
    if len(value) > len(members) and set(value) - {m.name for m in members}:
        raise Declined
    for member in members:
        _element(node, member, value.get(member.name))


def answer_plan(message: Any, prefixes: dict[str, str], *, headers: bool = False) -> Plan | None:
    """The plan for a binding's output ``message``, or None when its shape needs zeep
    (``headers``: header parts are allowed, read apart from the Body)."""
    if message is None or getattr(message, "_is_body_wrapped", True):
        return None
    header = getattr(message, "header", None)
    if not headers and header is not None and getattr(header.type, "elements", None):
        return None
    body: Any = getattr(message, "body", None)
    if body is None or not _plain_element(body) or body.qname is None:
        return None
    try:
        root = _child(body, "", depth=0)
    except _Unsupported:
        return None
    if root.members is None or root.max_occurs != 1:
        return None
    return Plan(root, dict(prefixes))


class _Unsupported(Exception):
    """A part of the schema the plan does not write."""


def _plain_element(element: Any) -> bool:
    """An element zeep writes as :class:`Element` does (no class of its own overrides it)."""
    kind = type(element)
    return (
        isinstance(element, Element)
        and kind.render is Element.render
        and kind._render_value_item is Element._render_value_item
    )


def _child(element: Any, name: str, depth: int) -> _Child:
    if not _plain_element(element) or depth > 32:
        raise _Unsupported
    xsd_type = element.type
    kind = type(xsd_type)
    simple = members = None
    if isinstance(xsd_type, AnySimpleType):
        if kind.render is not AnySimpleType.render or isinstance(xsd_type, _ITEMS):
            raise _Unsupported  # written another way, or as items
        if kind is AnySimpleType:
            raise _Unsupported  # anySimpleType: written with its type named
        simple = xsd_type
    elif isinstance(xsd_type, ComplexType) and kind.render is ComplexType.render:
        if getattr(xsd_type, "_array_type", None) is not None:
            raise _Unsupported  # a SOAP-ENC array
        members = _members(xsd_type, depth)
    else:
        raise _Unsupported
    max_occurs = element.max_occurs
    return _Child(
        name=name,
        tag=element.qname,
        optional=bool(element.is_optional),
        min_occurs=int(element.min_occurs),
        max_occurs=None if max_occurs == "unbounded" else int(max_occurs),
        simple=simple,
        members=members,
        default=getattr(element, "default", None),
    )


def _members(xsd_type: Any, depth: int) -> tuple[_Child, ...]:
    if xsd_type.attributes:
        raise _Unsupported
    nested = list(xsd_type.elements_nested)
    if not nested:
        return ()
    if len(nested) != 1 or type(nested[0][1]) is not Sequence:  # choice, all, any...
        raise _Unsupported
    sequence = nested[0][1]
    if sequence.min_occurs != 1 or sequence.max_occurs != 1:
        raise _Unsupported
    children = []
    for name, element in sequence.elements_nested:
        if not name:
            raise _Unsupported
        children.append(_child(element, name, depth + 1))
    return tuple(children)


# -- requests: the same plans, read ------------------------------------------------


def request_plan(message: Any) -> Plan | None:
    """A plan for reading a binding's document/literal input ``message`` (see
    :func:`read_plainly`), or None when its shape needs zeep."""
    plan = answer_plan(message, {}, headers=True)  # the Header is zeep's to read
    if plan is None or not _no_defaults(plan.root):
        return None
    return plan


def _no_defaults(child: _Child) -> bool:
    return child.default is None and all(_no_defaults(m) for m in child.members or ())


def read_plainly(plan: Plan, body: Any) -> dict[str, Any]:
    """The values of a request's Body as zeep reads them (then made JSON-ready by
    ``to_json_ready``), for a Body exactly as the plan describes it: every element in
    its place, every required one present, no attribute, no stray text. Anything
    else is :class:`Declined`, and zeep reads it (or refuses it in its words)."""
    children = list(body)
    if not children or children[0].tag != plan.root.tag:
        raise Declined
    return _read(children[0], plan.root, root=True)


def _read(element: Any, child: _Child, *, root: bool = False) -> dict[str, Any]:
    if element.attrib or (element.text and not element.text.isspace()):
        raise Declined
    children = list(element)
    if not children:
        if not root:
            raise Declined  # an empty structure inside: zeep decides what it is
        return {m.name: [] if m.max_occurs != 1 else None for m in child.members or ()}
    out: dict[str, Any] = {}
    at = 0
    for member in child.members or ():
        items: list[Any] = []
        limit = 1 if member.max_occurs == 1 else member.max_occurs
        while at < len(children) and children[at].tag == member.tag:
            if limit is not None and len(items) >= limit:
                break
            items.append(_value(children[at], member))
            at += 1
        if len(items) < member.min_occurs:
            raise Declined  # a required value missing: zeep's words
        out[member.name] = items if member.max_occurs != 1 else (items[0] if items else None)
    if at != len(children):
        raise Declined
    return out


def _value(element: Any, child: _Child) -> Any:
    if element.tail and not element.tail.isspace():
        raise Declined
    if child.simple is None:
        return _read(element, child)
    if element.attrib or len(element):
        raise Declined
    if element.text is None:
        raise Declined
    return child.simple.parse_xmlelement(element, None, True, None, child.simple)
