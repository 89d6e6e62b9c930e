"""document/literal wrapped: the SOAPBuilders round 4 group I (XSD) echo service.

``round4_groupI_xsd.wsdl``, the shape .NET services of the time published:
``ArrayOfX`` wrapper types holding one repeated child, nested complex types,
an ``xsd:choice``. Wrappers are in ``http://soapinterop.org/``, the content of
the shared types in ``http://soapinterop.org/xsd``; element form is qualified.

Each operation reads its input field by field (a missing one is a Client
fault) and answers it in ``return``: ``echoNestedMultiOccurs`` echoes a struct
whose ``varMultiOccurs`` is an ``ArrayOfString`` (its strings reversed, so
order shows), ``echoNestedComplexType`` a struct holding a struct,
``echoChoice`` the branch of the choice it was given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lxml import etree

from tests.adapters.soap.legacy_servers.plumbing import (
    Answer,
    Fault,
    LegacyServer,
    Request,
    child,
    el,
    integer,
    serve,
    text,
)

WSDL = "soapbuilders_r4_groupI_xsd/round4_groupI_xsd.wsdl"
NS = "http://soapinterop.org/"
XSD_NS = "http://soapinterop.org/xsd"


def _input(request: Request, name: str) -> etree._Element:
    assert request.operation is not None
    return child(request.operation, f"{{{NS}}}{name}")


def _struct(node: etree._Element, *, int_first: bool = False) -> list[etree._Element]:
    """varString, varInt and varFloat of a struct, checked and copied; a
    ``SOAPComplexType`` has varInt first, the types that extend it varString."""
    string = el(f"{{{XSD_NS}}}varString", text(node, f"{{{XSD_NS}}}varString"))
    number = el(f"{{{XSD_NS}}}varInt", str(integer(node, f"{{{XSD_NS}}}varInt")))
    raw = text(node, f"{{{XSD_NS}}}varFloat").strip()
    try:
        real = el(f"{{{XSD_NS}}}varFloat", repr(float(raw)))
    except ValueError:
        raise Fault("client", f"varFloat: {raw!r} is not a float") from None
    return [number, string, real] if int_first else [string, number, real]


def _response(operation: str, *content: etree._Element) -> Answer:
    return Answer([el(f"{{{NS}}}{operation}Response", *content)])


def echo_nested_multi_occurs(request: Request) -> Answer:
    node = _input(request, "inputComplexType")
    strings = child(node, f"{{{XSD_NS}}}varMultiOccurs").findall(f"{{{XSD_NS}}}string")
    reversed_strings = (el(f"{{{XSD_NS}}}string", s.text) for s in reversed(strings))
    array = el(f"{{{XSD_NS}}}varMultiOccurs", *reversed_strings)
    return _response("echoNestedMultiOccurs", el(f"{{{NS}}}return", *_struct(node), array))


def echo_nested_complex_type(request: Request) -> Answer:
    node = _input(request, "inputComplexType")
    inner = child(node, f"{{{XSD_NS}}}varComplexType")
    nested = el(f"{{{XSD_NS}}}varComplexType", *_struct(inner, int_first=True))
    return _response("echoNestedComplexType", el(f"{{{NS}}}return", *_struct(node), nested))


def echo_choice(request: Request) -> Answer:
    node = _input(request, "inputChoice")
    given = [c for c in node if isinstance(c.tag, str)]
    if len(given) != 1:
        raise Fault("client", f"inputChoice: one of name0, name1, not {len(given)}")
    branch = el(given[0].tag, given[0].text)
    return _response("echoChoice", el(f"{{{NS}}}return", branch))


@contextmanager
def running() -> Iterator[LegacyServer]:
    operations = {
        f"{{{NS}}}echoNestedMultiOccurs": echo_nested_multi_occurs,
        f"{{{NS}}}echoNestedComplexType": echo_nested_complex_type,
        f"{{{NS}}}echoChoice": echo_choice,
    }
    with serve(operations) as server:
        yield server
