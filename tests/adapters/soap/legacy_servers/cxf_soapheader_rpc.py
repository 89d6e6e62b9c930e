"""rpc/literal with a ``soap:header`` part: Apache CXF's ``soapheader_rpc.wsdl``.

``testHeader1`` needs the ``inHeader`` header block (``x1:headerMessage``) and
answers ``out`` computed from the body part and the header; without the header
it faults (Client). ``testInOutHeader`` also echoes the header back, changed.
rpc/literal (WS-I BP): the wrapper is the operation name in the ``soap:body``
namespace, its part accessors are unqualified, header blocks are the global
elements of their parts (qualified, ``elementFormDefault="qualified"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.adapters.soap.legacy_servers.plumbing import (
    Answer,
    Fault,
    LegacyServer,
    Request,
    child,
    el,
    serve,
    text,
)

WSDL = "cxf_soapheader_rpc/soapheader_rpc.wsdl"
BODY_NS = "http://apache.org/header_test"
TYPES_NS = "http://apache.org/header_test/rpc/types"


def _header_value(request: Request, operation: str) -> str:
    block = None if request.header is None else request.header.find(f"{{{TYPES_NS}}}headerMessage")
    if block is None:
        raise Fault("client", f"{operation} needs the headerMessage SOAP header")
    return text(block, f"{{{TYPES_NS}}}headerVal")


def test_header1(request: Request) -> Answer:
    assert request.operation is not None
    value = text(request.operation, "in")
    header = _header_value(request, "testHeader1")
    out = f"{header}:{value.upper()}"
    return Answer([el(f"{{{BODY_NS}}}testHeader1Response", el("out", out))])


def test_in_out_header(request: Request) -> Answer:
    assert request.operation is not None
    value = child(request.operation, "in").text or ""
    header = _header_value(request, "testInOutHeader")
    echoed = el(f"{{{TYPES_NS}}}headerMessage", el(f"{{{TYPES_NS}}}headerVal", f"{header}-ack"))
    body = el(f"{{{BODY_NS}}}testInOutHeaderResponse", el("out", f"{value} ({len(value)})"))
    return Answer([body], [echoed])


@contextmanager
def running() -> Iterator[LegacyServer]:
    with serve(
        {
            f"{{{BODY_NS}}}testHeader1": test_header1,
            f"{{{BODY_NS}}}testInOutHeader": test_in_out_header,
        }
    ) as server:
        yield server
