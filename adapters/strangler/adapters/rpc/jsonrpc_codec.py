"""JSON-RPC 2.0 on the wire: request objects out, response objects checked back.

An answer must be a JSON-RPC 2.0 response whose ``id`` is the request's (an
error answer may carry ``id: null`` when the server could not read the id);
anything else is a :class:`LegacyProtocolError`. Error objects become
:class:`LegacyFault` with ``code`` as the fault code, ``message`` as its
string and ``data`` as its detail. Which codes blame the caller (400) and
which the legacy system (502):

=====================  =======  =====================================================
code                   status   why
=====================  =======  =====================================================
-32602 invalid params  400      the caller's values do not suit the legacy method
-32700 parse error     502      the gateway built the request; the caller cannot fix it
-32600 invalid request 502      likewise
-32601 method missing  502      the spec names a method the system lacks
-32603 internal error  502      the legacy system failed
-32000..-32099 server  502      the legacy system failed
other reserved codes   502      -32768..-32000
application codes      400      any other code: the legacy system refused the request
=====================  =======  =====================================================

The spec's ``client_fault_codes`` / ``server_fault_codes`` override the table.
"""

from __future__ import annotations

from typing import Any

import orjson

from strangler.adapters.rpc.transport import Reply, fault_is_client
from strangler.errors import FaultInfo, LegacyFault, LegacyProtocolError
from strangler.spec.rpc import RpcSystemBase

__all__ = [
    "CONTENT_TYPE",
    "INVALID_PARAMS",
    "fault",
    "is_error_object",
    "outcome",
    "read_answer",
    "request_object",
    "same_id",
    "usable",
]

CONTENT_TYPE = "application/json"
INVALID_PARAMS = -32602
RESERVED = range(-32768, -32000 + 1)


def request_object(method: str, params: Any, request_id: int | None) -> dict[str, Any]:
    """A request object; without an id it is a notification."""
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        request["params"] = params
    if request_id is not None:
        request["id"] = request_id
    return request


def usable(reply: Reply) -> bool:
    """Whether a 502/503/504 answer holds JSON (a JSON-RPC error, maybe) worth reading."""
    return reply.content.lstrip()[:1] in (b"{", b"[")


def read_answer(reply: Reply, *, system: str, operation: str, empty_ok: bool = False) -> Any:
    """The JSON of an answer (``None`` for an empty one when ``empty_ok``)."""
    if reply.status in (401, 403, 407):
        raise _protocol(system, operation, f"HTTP {reply.status}: it refused our credentials")
    if not reply.content.strip():
        if empty_ok and reply.status < 300:
            return None
        raise _protocol(system, operation, f"HTTP {reply.status} with no content")
    try:
        return orjson.loads(reply.content)
    except orjson.JSONDecodeError as exc:
        raise _protocol(system, operation, f"HTTP {reply.status} with malformed JSON") from exc


def same_id(a: Any, b: Any) -> bool:
    """Ids match in value and JSON type (``1`` is not ``true`` nor ``"1"``)."""
    return type(a) is type(b) and a == b


def outcome(
    answer: Any, request_id: int | None, *, system: str, operation: str, spec: RpcSystemBase
) -> Any:
    """The result of a response object, or its error raised as a ``LegacyFault``."""
    if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0":
        raise _protocol(system, operation, "something that is not a JSON-RPC 2.0 response")
    if ("result" in answer) == ("error" in answer):
        raise _protocol(system, operation, "a response with both or neither result and error")
    if "id" not in answer:
        raise _protocol(system, operation, "a response without an id")
    answer_id = answer["id"]
    if not same_id(answer_id, request_id) and not ("error" in answer and answer_id is None):
        raise _protocol(system, operation, f"id {answer_id!r} to request {request_id!r}")
    if "result" in answer:
        return answer["result"]
    raise fault(answer["error"], system=system, operation=operation, spec=spec)


def fault(error: Any, *, system: str, operation: str, spec: RpcSystemBase) -> Exception:
    """The error for a JSON-RPC error object (a fault, or a protocol error if malformed)."""
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(message, str):
        return _protocol(system, operation, "an error object without an integer code and message")
    default = code == INVALID_PARAMS or code not in RESERVED
    info = FaultInfo(code=str(code), message=message, detail=error.get("data"))
    return LegacyFault(
        info,
        system=system,
        operation=operation,
        client_error=fault_is_client(code, spec, default=default),
    )


def is_error_object(answer: Any) -> bool:
    """Whether ``answer`` is a JSON-RPC error response (of any id)."""
    return isinstance(answer, dict) and answer.get("jsonrpc") == "2.0" and "error" in answer


def _protocol(system: str, operation: str, what: str) -> LegacyProtocolError:
    return LegacyProtocolError(
        f"{system} answered {operation} with {what}", system=system, operation=operation
    )
