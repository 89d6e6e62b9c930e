"""Where a shimmed call goes: a gateway route (in-process ASGI) or the legacy operation.

Both sides take and give the operation's modern shape (the adapter's served
form, the route's public one): the legacy request is turned modern with the
mapping layer on the way in, and the modern answer back into the legacy
shape on the way out (:func:`to_modern`, :func:`to_legacy`).

A route is called as the REST edge would call it: ``POST`` of its public JSON
to its ``RouteApp``, with the caller's HTTP headers (a sticky header or
cookie keeps working), so the route's state, canary split, shadow calls and
metrics all apply. Its problem answers come back as :class:`RouteProblem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from strangler.errors import InvalidInput, LegacyDataError, LegacyProtocolError, StranglerError
from strangler.shim.catalog import ShimOperation

__all__ = [
    "RouteCall",
    "RouteProblem",
    "call_legacy_with_headers",
    "call_route",
    "fill_defaults",
    "replies_with_headers",
    "to_legacy",
    "to_modern",
]

_DROPPED = frozenset({b"content-type", b"content-length", b"soapaction", b"transfer-encoding"})


@dataclass(frozen=True)
class RouteCall:
    """A gateway route: its ASGI app and its public path."""

    app: Any
    path: str


class RouteProblem(Exception):
    """A route answered with a problem (``side``: who answered, when it said)."""

    def __init__(self, problem: dict[str, Any], side: str | None) -> None:
        super().__init__(problem.get("detail") or problem.get("title"))
        self.problem = problem
        self.side = side


def to_modern(op: ShimOperation, request: BaseModel) -> BaseModel:
    """The legacy request as the served operation's input (the route's public shape)."""
    if op.shape is None:
        return request
    legacy = request.model_dump(by_alias=True, exclude_unset=True)
    try:
        modern = op.shape.request.decode(legacy, (op.legacy.system, op.name))[0]
    except LegacyDataError as exc:
        raise InvalidInput(f"{op.name}: {exc.message}") from exc
    try:
        return op.served.input_model.model_validate(modern)
    except ValidationError as exc:
        raise InvalidInput(f"{op.name}: the request does not fit its modern shape: {exc}") from exc


def to_legacy(op: ShimOperation, answer: Any) -> Any:
    """A modern answer (JSON-ready) in the legacy shape the WSDL describes."""
    if op.shape is None:
        return answer
    try:
        data = op.served.output_model.model_validate(answer).model_dump(
            by_alias=True, exclude_unset=True
        )
    except ValidationError as exc:
        if any(err.get("input", ...) is not None for err in exc.errors()):
            raise LegacyProtocolError(
                f"the answer to {op.name} does not fit its modern shape: {_first(exc)}",
                system=op.legacy.system,
                operation=op.name,
            ) from None
        data = answer  # only values left out: the WSDL's check decides, after the defaults
    try:
        return op.shape.answer.encode(data, "")
    except ValueError as exc:
        raise LegacyProtocolError(
            f"the answer to {op.name} cannot be put in its legacy shape: {exc}",
            system=op.legacy.system,
            operation=op.name,
        ) from exc


def replies_with_headers(op: ShimOperation) -> bool:
    """Whether the operation's answer declares SOAP header parts of its own."""
    output = op.binding_operation.output
    header = getattr(output, "header", None) if output is not None else None
    return bool(header is not None and getattr(header.type, "elements", None))


async def call_legacy_with_headers(
    adapter: Any, op: ShimOperation, request: BaseModel
) -> tuple[Any, dict[str, Any] | None]:
    """Call the legacy operation through the adapter's call policy, keeping the header
    parts of its reply (the platform's calls answer the Body only): the answer (legacy
    shape) and the reply's header values."""
    from strangler.adapters.soap.catalog import HEADER_FIELD
    from strangler.adapters.soap.exchange import build_request, read_reply, to_json_ready
    from strangler.adapters.soap.loading import override_address
    from strangler.errors import LegacyUnavailable

    target = op.legacy.target
    data = request.model_dump(by_alias=True, exclude_unset=True)
    header = data.pop(HEADER_FIELD, None) if target.has_header else None
    address = override_address(target.address or "", adapter.spec.address)
    if not address:
        raise LegacyUnavailable(
            f"{adapter.system}: port {target.port} has no address; set 'address' in the spec",
            system=adapter.system,
            operation=target.operation,
        )
    envelope, headers = build_request(adapter.client, target, data, header, address, adapter.system)
    reply = await adapter.calls.post(
        address,
        envelope,
        key=target.port,
        operation=target.operation,
        safe=op.legacy.safe,
        headers=headers,
    )
    body, reply_header = read_reply(adapter.client, target, reply, system=adapter.system)
    answer = to_json_ready(body, target.simple_reply)
    values = to_json_ready(reply_header) if reply_header is not None else None
    return answer, values or None


def fill_defaults(answer: Any, defaults: dict[str, Any]) -> Any:
    """``answer`` (legacy shape) with each default set where its path has no value."""
    if not defaults or not isinstance(answer, dict):
        return answer
    for path, value in defaults.items():
        _fill(answer, path.split("."), value)
    return answer


def _fill(node: Any, path: list[str], value: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _fill(item, path, value)
        return
    if not isinstance(node, dict):
        return
    head, rest = path[0], path[1:]
    if not rest:
        if node.get(head) is None:
            node[head] = value
        return
    _fill(node.get(head), rest, value)


def _first(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    return f"{'/'.join(str(p) for p in err['loc']) or '(the answer)'}: {err['msg']}"


async def call_route(
    route: RouteCall, payload: BaseModel, headers: list[tuple[bytes, bytes]]
) -> tuple[Any, str | None]:
    """POST ``payload`` to the route in-process: its JSON answer and the side that gave it."""
    body = payload.model_dump_json(by_alias=True, exclude_unset=True).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": route.path,
        "raw_path": route.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((k, v) for k, v in headers if k not in _DROPPED),
        ],
        "client": None,
        "server": None,
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 500
    answer_headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, answer_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            answer_headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await route.app(scope, receive, send)
    side = next((v.decode() for k, v in answer_headers if k == b"x-strangler-side"), None)
    raw = b"".join(chunks)
    try:
        document = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise StranglerError(f"the route answered HTTP {status} with no readable JSON") from exc
    if status >= 400:
        problem = document if isinstance(document, dict) else {"status": status}
        problem.setdefault("status", status)
        raise RouteProblem(problem, side)
    return document, side
