"""One shimmed SOAP service: its documents on ``GET``, its envelopes on ``POST``.

A ``POST`` goes: read the body (at most ``limits.max_bytes``), parse it safely,
authenticate when the spec asks, find the operation (:mod:`.catalog`), read
the request into the legacy shape and check it against the WSDL
(:mod:`.messages`), turn it modern and call the route or the operation
(:mod:`.dispatch`), put the answer back into the legacy shape and write the
reply envelope. Any failure on the way is a Fault of the request's SOAP
version (:mod:`.faults`), never an HTTP error page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from starlette.types import Receive, Scope, Send

from strangler.errors import InputTooLarge, LegacyFault, StranglerError
from strangler.shim.catalog import Catalog, ShimOperation
from strangler.shim.dispatch import (
    RouteCall,
    RouteProblem,
    call_legacy_with_headers,
    call_route,
    fill_defaults,
    replies_with_headers,
    to_legacy,
    to_modern,
)
from strangler.shim.documents import Documents, UnknownDocument
from strangler.shim.envelope import MEDIA_TYPES, Incoming, guess_version, read_envelope
from strangler.shim.faults import Fault, fault_envelope
from strangler.shim.messages import legacy_answer, read_request, write_answer
from strangler.shim.passthrough import forward, passes_through, request_body
from strangler.shim.security import (
    AuthenticationFailed,
    Authenticator,
    remove_security_header,
)
from strangler.spec.shim import ShimLimits, ShimServiceSpec

if TYPE_CHECKING:
    from strangler.platform.core import Platform

__all__ = ["ShimService", "build_service"]

log = logging.getLogger(__name__)

SIDE_HEADER = b"x-strangler-side"
_XML = b"text/xml; charset=utf-8"


class ShimService:
    """The ASGI app of one service at its legacy path (see the module)."""

    def __init__(
        self,
        name: str,
        spec: ShimServiceSpec,
        catalog: Catalog,
        documents: Documents,
        platform: Platform,
        path: str,
        adapter: Any = None,
    ) -> None:
        self.name = name
        self.adapter = adapter
        self.spec = spec
        self.catalog = catalog
        self.documents = documents
        self.platform = platform
        self.path = path
        self.parse = envelope_parser(spec.limits)
        self.security: Authenticator | None = None
        if spec.security is not None:
            self.security = Authenticator(spec.security)

    async def start(self) -> None:
        """Nothing to open: the adapter and the routes have their own lifetimes."""

    async def close(self) -> None:
        """Release the nonce store's connections, if it has any."""
        if self.security is not None:
            self.security.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in ("GET", "HEAD"):
            await self._documents(scope, send)
        else:
            await self._call(scope, receive, send)

    # -- GET: the WSDL and its schemas ---------------------------------------

    async def _documents(self, scope: Scope, send: Send) -> None:
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), True))
        base = self._base_url(scope)
        try:
            if "xsd" in query:
                data = self.documents.render(self.documents.find("xsd", query["xsd"]), base)
            elif query.get("wsdl"):
                data = self.documents.render(self.documents.find("wsdl", query["wsdl"]), base)
            elif "singleWsdl" in query or "singlewsdl" in query:
                data = self.documents.single(base)
            elif "wsdl" in query or "WSDL" in query:
                data = self.documents.render(None, base)
            else:
                await _send(send, 404, b"text/plain; charset=utf-8", b"ask ?wsdl\n")
                return
        except UnknownDocument as exc:
            await _send(send, 404, b"text/plain; charset=utf-8", f"{exc}\n".encode())
            return
        await _send(send, 200, _XML, data)

    def _base_url(self, scope: Scope) -> str:
        """The shim's URL as the request saw it (a proxy's forwarded host and scheme first)."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        scheme = str(headers.get("x-forwarded-proto") or scope.get("scheme") or "http")
        scheme = scheme.split(",")[0]
        host = headers.get("x-forwarded-host", headers.get("host", "")).split(",")[0].strip()
        if not host:
            server = scope.get("server") or ("localhost", 80)
            host = f"{server[0]}:{server[1]}"
        return f"{scheme.strip()}://{host}{scope.get('root_path', '')}{self.path}"

    # -- POST: one call ------------------------------------------------------

    async def _call(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        version = guess_version(headers.get("content-type", ""))
        op: ShimOperation | None = None
        try:
            body = await _read_body(receive, self.spec.limits.max_bytes)
            charset = _charset(headers.get("content-type", ""))
            incoming = await _off_loop(
                len(body), read_envelope, body, headers, lambda data: self.parse(data, charset)
            )
            version = incoming.version
            if self.security is not None:
                await self._authenticate(headers, incoming)
            op = self.catalog.find(incoming)
            reply, side = await self._answer(op, incoming, scope, len(body))
        except RouteProblem as exc:
            fault = fault_envelope(version, exc.problem, operation=_zeep_op(op))
            await _send_fault(send, fault, exc.side)
            return
        except AuthenticationFailed as exc:
            problem = {
                "type": "urn:strangler:problem:unauthorized",
                "title": "Not authenticated",
                "status": 401,
                "detail": exc.message,
                "faultcode": exc.code,
            }
            fault = fault_envelope(version, problem)
            if exc.challenge is not None:
                fault.status = 401
                fault.headers.append((b"www-authenticate", exc.challenge.encode("latin-1")))
            await _send_fault(send, fault, None)
            return
        except StranglerError as exc:
            version = getattr(exc, "soap_version", None) or version
            await _send_fault(send, self._fault(exc, version, op, scope), None)
            return
        except Exception:
            log.exception("%s: the shim failed to answer", self.name)
            problem = {"status": 500, "title": "Internal error", "detail": "internal error"}
            await _send_fault(send, fault_envelope(version, problem), None)
            return
        extra = [(SIDE_HEADER, side.encode("ascii"))] if side else []
        if reply is None:  # a one-way operation
            await _send(send, 202, MEDIA_TYPES[version].encode() + b"; charset=utf-8", b"", extra)
            return
        media = MEDIA_TYPES[version].encode() + b"; charset=utf-8"
        await _send(send, 200, media, reply, extra)

    async def _authenticate(self, headers: dict[str, str], incoming: Incoming) -> str:
        assert self.security is not None
        authorization = headers.get("authorization")
        if self.security.blocking:  # nonces in the state database
            user = await asyncio.to_thread(
                self.security.authenticate, authorization, incoming.header
            )
        else:
            user = self.security.authenticate(authorization, incoming.header)
        remove_security_header(incoming.header)  # consumed here, not the operation's
        return user

    async def _answer(
        self, op: ShimOperation, incoming: Incoming, scope: Scope, size: int
    ) -> tuple[bytes | None, str | None]:
        defaults = self.spec.defaults.get(op.name, {})
        if passes_through(op, self.adapter, defaults):
            body = request_body(op, incoming)
            request = await _off_loop(size, read_request, op, body, incoming.header)
            reply, _ = await forward(self.platform, self.adapter, op, incoming, request)
            return reply, None  # its values checked against the WSDL on the way
        request = await _off_loop(size, read_request, op, incoming.body, incoming.header)
        side: str | None = None
        reply_header = None
        if op.route is None and replies_with_headers(op):
            legacy, reply_header = await call_legacy_with_headers(self.adapter, op, request)
        else:
            payload = to_modern(op, request)
            if op.route is not None:
                answer, side = await call_route(op.route, payload, list(scope["headers"]))
            else:
                answer = await self.platform.invoke(op.served, payload)
            if op.binding_operation.output is None:
                return None, side
            legacy = to_legacy(op, answer)
        legacy = fill_defaults(legacy, defaults)
        if self.spec.validate_messages:
            legacy = legacy_answer(op, legacy)
        data, _ = write_answer(op, legacy, reply_header, incoming.version)
        return data, side

    def _fault(
        self, exc: StranglerError, version: str, op: ShimOperation | None, scope: Scope
    ) -> Fault:
        from strangler.rest.problems import problem_body

        problem = problem_body(exc, scope.get("path"))
        code = getattr(exc, "fault_code", None)  # VersionMismatch, MustUnderstand
        if code is not None:
            problem["faultcode"] = code
        declared = None
        legacy = isinstance(exc, LegacyFault)
        if legacy:  # passed on with its own detail element's content, or none
            detail = getattr(exc.__cause__, "detail", None)
            if detail is not None:
                declared = [_copy(e) for e in detail if isinstance(e.tag, str)]
        return fault_envelope(
            version, problem, declared=declared, operation=_zeep_op(op), legacy=legacy
        )


THREAD_BYTES = 256 * 1024
"""Envelopes larger than this are parsed and read in a worker thread, off the event loop."""


async def _off_loop(size: int, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, in a worker thread when the envelope is large."""
    if size > THREAD_BYTES:
        return await asyncio.to_thread(function, *args)
    return function(*args)


def _zeep_op(op: ShimOperation | None) -> Any:
    return op.binding_operation if op is not None else None


def _copy(element: Any) -> Any:
    import copy

    return copy.deepcopy(element)


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The request body; more than ``limit`` bytes is refused before it is all read."""
    from starlette.exceptions import HTTPException

    chunks: list[bytes] = []
    size = 0
    more = True
    try:
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise InputTooLarge(f"the envelope is larger than {limit} bytes", limit_bytes=limit)
            chunks.append(chunk)
            more = message.get("more_body", False)
    except HTTPException as exc:  # the app's own body limit
        raise InputTooLarge(str(exc.detail), limit_bytes=limit) from exc
    return b"".join(chunks)


async def _send(
    send: Send,
    status: int,
    content_type: bytes,
    body: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode("ascii")),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_fault(send: Send, fault: Fault, side: str | None) -> None:
    extra = [(SIDE_HEADER, side.encode("ascii"))] if side else []
    extra.extend(fault.headers)
    await _send(send, fault.status, fault.content_type.encode(), fault.body, extra)


def envelope_parser(limits: ShimLimits) -> Callable[[bytes, str | None], Any]:
    """How envelopes are parsed: safely, within ``limits`` (:mod:`.hardening`)."""
    from strangler.shim.hardening import parse_envelope

    def parse(body: bytes, charset: str | None) -> Any:
        return parse_envelope(body, limits, charset=charset)

    return parse


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def build_service(
    name: str,
    spec: ShimServiceSpec,
    adapter: Any,
    routes: dict[str, RouteCall],
    platform: Platform,
) -> ShimService:
    """The service ``name`` over its SOAP adapter; ``ValueError`` when the spec does not fit."""
    forms = adapter.legacy_forms()
    names = {old.target.operation for old, _, _ in forms}
    unknown = sorted(set(routes) - names)
    if unknown:
        raise ValueError(f"routes: the WSDL has no operation {', '.join(map(repr, unknown))}")
    operations = [
        ShimOperation(old, served, shape, routes.get(old.target.operation))
        for old, served, shape in forms
    ]
    path = spec.path or _address_path(operations)
    documents = Documents(adapter.spec.wsdl, adapter.client.transport.load)
    catalog = Catalog(name, operations)
    return ShimService(name, spec, catalog, documents, platform, path, adapter)


def _address_path(operations: list[ShimOperation]) -> str:
    for op in operations:
        address = op.legacy.target.address
        if address:
            return urlsplit(address).path or "/"
    raise ValueError("the WSDL has no soap:address: give the service a 'path'")
