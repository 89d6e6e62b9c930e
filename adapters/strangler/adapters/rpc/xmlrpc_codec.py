"""XML-RPC on the wire: ``xmlrpc.client.dumps`` out, a guarded ``loads`` back.

Answers are refused before parsing when they hold a DTD (``<!DOCTYPE``,
``<!ENTITY``): XML-RPC never needs one, and it is how entity-expansion and
external-entity attacks start. Faults become :class:`LegacyFault` with the
fault code as a string; by default they blame the legacy system (502), except
code -32602 (the interoperability convention's "invalid method parameters"),
which blames the caller (400); the spec's ``client_fault_codes`` /
``server_fault_codes`` override this.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.parsers.expat
import xmlrpc.client
from collections.abc import Callable
from typing import Any
from xml.parsers.expat import ExpatError

from strangler.adapters.rpc.models import XMLRPC_WIRE
from strangler.adapters.rpc.transport import fault_is_client
from strangler.errors import FaultInfo, InvalidInput, LegacyFault, LegacyProtocolError
from strangler.spec.rpc import RpcSystemBase

__all__ = ["CONTENT_TYPE", "decode_reply", "encode_call", "has_method_response", "to_wire"]

CONTENT_TYPE = "text/xml"
INVALID_PARAMS = -32602
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def to_wire(value: Any) -> Any:
    """Values ready for ``dumps``: aware datetimes in UTC without offset, tuples as lists."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


def _dump_int(_: xmlrpc.client.Marshaller, value: Any, write: Callable[[str], object]) -> None:
    """The stdlib's ``<int>``, but integers beyond 32 bits go as ``<i8>`` (up to 64 bits).

    Only parameters declared ``i8`` get here with such values: the models keep
    every other integer within ``int``'s 32 bits.
    """
    if xmlrpc.client.MININT <= value <= xmlrpc.client.MAXINT:
        write(f"<value><int>{int(value)}</int></value>\n")
    elif -(2**63) <= value < 2**63:
        write(f"<value><i8>{int(value)}</i8></value>\n")
    else:
        raise OverflowError("int exceeds XML-RPC's 64-bit i8")


def _marshaller() -> xmlrpc.client.Marshaller:
    marshaller = xmlrpc.client.Marshaller("utf-8", allow_none=True)
    marshaller.dispatch = {**marshaller.dispatch, int: _dump_int}
    return marshaller


def encode_call(method: str, params: list[Any] | tuple[Any, ...]) -> bytes:
    """A ``methodCall`` document; values XML-RPC cannot carry are the caller's fault.

    The models refuse them first, naming the field; this is the last guard (text
    XML 1.0 cannot hold would otherwise reach the legacy system as a broken document).
    """
    try:
        # a raw CR would reach the legacy system as LF (XML normalises line ends)
        values = _marshaller().dumps(tuple(to_wire(p) for p in params)).replace("\r", "&#13;")
        problem = XMLRPC_WIRE.text_problem(values)
        if problem:
            raise ValueError(problem)
        text = (
            "<?xml version='1.0'?>\n<methodCall>\n"
            f"<methodName>{xmlrpc.client.escape(method)}</methodName>\n{values}</methodCall>\n"
        )
        return text.encode("utf-8")
    except (OverflowError, TypeError, ValueError) as exc:  # UnicodeEncodeError included
        raise InvalidInput(f"{method}: cannot be sent over XML-RPC: {exc}") from exc


class _Declaration(Exception):
    """A DTD or entity declaration met while scanning an answer."""


def _refuse(*_: Any) -> None:
    raise _Declaration


def _declares_dtd(content: bytes) -> bool:
    """Whether the document declares a DTD or an entity, in whatever encoding it is written.

    The byte search above only sees ASCII-compatible encodings; this scan lets
    expat decode the document (UTF-16, a declared legacy charset) and stops at
    the first declaration, before any entity could be expanded. A document
    expat cannot read is left to the real parse, which refuses it.
    """
    scanner = xml.parsers.expat.ParserCreate()
    scanner.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    scanner.StartDoctypeDeclHandler = _refuse
    scanner.EntityDeclHandler = _refuse
    try:
        scanner.Parse(content, True)
    except _Declaration:
        return True
    except ExpatError:
        return False
    return False


def has_method_response(content: bytes) -> bool:
    """Whether an answer looks like XML-RPC (worth parsing whatever its HTTP status)."""
    return b"<methodResponse" in content[:4096]


def decode_reply(
    status: int, content: bytes, *, system: str, operation: str, spec: RpcSystemBase
) -> Any:
    """The one result value of a ``methodResponse``, or the fault it carries, raised."""

    def protocol(reason: str) -> LegacyProtocolError:
        return LegacyProtocolError(
            f"{system} answered {operation} {reason}", system=system, operation=operation
        )

    if status in (401, 403, 407):
        raise protocol(f"with HTTP {status}: it refused our credentials; check 'auth'")
    if status != 200 and not has_method_response(content):
        raise protocol(f"with HTTP {status} and no XML-RPC answer")
    if not content.strip():
        raise protocol("with no content")
    if _DTD.search(content) or _declares_dtd(content):
        raise protocol("with a DTD, which XML-RPC never needs; refused unparsed")
    try:
        params, _ = xmlrpc.client.loads(content, use_builtin_types=True)
    except xmlrpc.client.Fault as exc:
        code = exc.faultCode
        info = FaultInfo(code=str(code), message=str(exc.faultString or "XML-RPC fault"))
        client = fault_is_client(code, spec, default=code == INVALID_PARAMS)
        raise LegacyFault(info, system=system, operation=operation, client_error=client) from exc
    except (ExpatError, xmlrpc.client.ResponseError, ValueError, TypeError, LookupError) as exc:
        raise protocol(f"with unreadable XML-RPC: {exc or type(exc).__name__}") from exc
    if status != 200:
        raise protocol(f"with HTTP {status}")
    if len(params) != 1:
        raise protocol(f"with {len(params)} values where XML-RPC has exactly one")
    return params[0]
