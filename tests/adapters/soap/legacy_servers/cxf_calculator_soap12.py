"""SOAP 1.2 document/literal wrapped: Apache CXF's ``calculator.wsdl``.

``add`` answers ``arg0 + arg1``. As in CXF's sample, negative numbers are the
caller's fault: a SOAP 1.2 ``Sender`` fault with an application subcode and the
WSDL's ``CalculatorFault`` detail. A sum outside xsd:int is the server's
problem: a ``Receiver`` fault. Requests must come as ``application/soap+xml``
in the SOAP 1.2 envelope namespace (checked by the plumbing) with the WSDL's
empty ``soapAction`` as the ``action`` parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.adapters.soap.legacy_servers.plumbing import (
    Answer,
    Fault,
    LegacyServer,
    Request,
    el,
    integer,
    serve,
)

WSDL = "cxf_calculator_soap12/calculator.wsdl"
NS = "http://apache.org/cxf/calculator/types"
NEGATIVE = f"{{{NS}}}NegativeNumber"
_INT_MAX = 2**31 - 1


def add(request: Request) -> Answer:
    if request.action not in (None, ""):
        raise Fault("client", f"add has no action {request.action!r}")
    assert request.operation is not None
    first = integer(request.operation, f"{{{NS}}}arg0")
    second = integer(request.operation, f"{{{NS}}}arg1")
    if first < 0 or second < 0:
        message = f"Negative number cant be added: {first}, {second}"
        detail = el(
            f"{{{NS}}}CalculatorFault",
            el(f"{{{NS}}}faultInfo", "negative operand"),
            el(f"{{{NS}}}message", message),
        )
        raise Fault("client", message, detail, subcode=NEGATIVE)
    total = first + second
    if total > _INT_MAX:
        raise Fault("server", f"{first} + {second} does not fit an xsd:int")
    return Answer([el(f"{{{NS}}}addNumbersResponse", el(f"{{{NS}}}return", str(total)))])


@contextmanager
def running() -> Iterator[LegacyServer]:
    with serve({f"{{{NS}}}add": add}) as server:
        yield server
