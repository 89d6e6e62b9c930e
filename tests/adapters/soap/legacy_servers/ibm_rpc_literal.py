"""rpc/literal across namespaces: the IBM "ws-tip-namespace" sample (``rpc_literal.xml``).

Each operation's wrapper lives in its ``soap:body`` namespace (``op2`` in another
one than ``op1``; ``op3`` declares none, so its wrapper is unqualified). Part
accessors are unqualified, and so are the local elements of ``data:Data``
(no ``elementFormDefault``); ``op3``'s element part is the global
``data:DataElem`` and ``Data2`` refers to the global ``ref:RefDataElem``.

``op1`` answers the sum and product of ``data1`` and ``data2`` (a product outside
xsd:int is a Server fault), ``op2`` swaps them, ``op3`` adds everything up.
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
)

WSDL = "ibm_rpc_literal_namespaces/rpc_literal.xml"
API_NS = "http://apiNamespace.com"
OP2_NS = "http://op2Namespace.com"
DATA_NS = "http://dataNamespace.com"
REF_NS = "http://refNamespace.com"
_INT_MAX = 2**31 - 1


def _data(tag: str, first: int, second: int) -> etree._Element:
    return el(tag, el("data1", str(first)), el("data2", str(second)))


def _pair(request: Request, accessor: str) -> tuple[int, int]:
    assert request.operation is not None
    data = child(request.operation, accessor)
    return integer(data, "data1"), integer(data, "data2")


def op1(request: Request) -> Answer:
    first, second = _pair(request, "in")
    product = first * second
    if abs(product) > _INT_MAX:
        raise Fault("server", f"op1: {first} * {second} overflows xsd:int")
    return Answer([el(f"{{{API_NS}}}op1Response", _data("op1Return", first + second, product))])


def op2(request: Request) -> Answer:
    first, second = _pair(request, "in")
    return Answer([el(f"{{{OP2_NS}}}op2Response", _data("op2Return", second, first))])


def op3(request: Request) -> Answer:
    assert request.operation is not None
    first, second = _pair(request, f"{{{DATA_NS}}}DataElem")
    extra = integer(child(request.operation, "in2"), f"{{{REF_NS}}}RefDataElem")
    total = el(f"{{{REF_NS}}}RefDataElem", str(first + second + extra))
    return Answer([el("op3Response", el("op3Return", total))])


@contextmanager
def running() -> Iterator[LegacyServer]:
    with serve({f"{{{API_NS}}}op1": op1, f"{{{OP2_NS}}}op2": op2, "op3": op3}) as server:
        yield server
