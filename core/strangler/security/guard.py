"""The guard in front of every route: who calls, may they, how often, and the audit.

Per request, before the route reads its body:

1. a ``public`` path (health) passes;
2. the caller is identified by an API key (``X-API-Key``) or a bearer JWT,
   or, with neither, by the verified client certificate of an HTTPS connection
   (``security.certificates``, :mod:`.certificates`); none, or one that is
   refused, is 401 with ``WWW-Authenticate``; a verified certificate that names
   no caller is 403;
3. the operation's scope (:mod:`.scopes`) must be granted, else 403;
4. the caller's bucket and the route's buckets (:mod:`.ratelimit`) must have a
   token, else 429 with ``Retry-After``; refused credentials take from the
   caller's address's bucket, so guessing keys is limited too;
5. a request that writes is recorded in the audit trail with its actor and
   answer (:mod:`.audit`).

Beside the requests, the guard puts the legacy systems named under
``concurrency`` behind a :class:`~strangler.platform.bulkhead.Bulkhead` while it
runs, so every path that calls them (not only REST) is bounded.

WebSocket handshakes are checked the same way; a refused one is closed
before it is accepted (the client sees 403).

The verified caller is put in the request's state as ``principal``
(:class:`Principal`) for the routes that want the actor. Refusals are
problem+json and never echo a credential.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strangler.errors import AccessDenied, Forbidden, RateLimited, StranglerError, Unauthenticated
from strangler.platform.bulkhead import Bulkhead
from strangler.platform.component import Component, Health
from strangler.platform.invocations import limit as limit_calls
from strangler.platform.operations import OperationSource
from strangler.rest.problems import MEDIA_TYPE, Problem, problem_body, problem_json
from strangler.security.audit import AuditRecord, AuditTrail
from strangler.security.certificates import CertificateMap, Unreadable
from strangler.security.keys import KeyRing
from strangler.security.ratelimit import Buckets, MemoryBuckets, RedisBuckets
from strangler.security.scopes import RouteRule, ScopeTable, grants, route_rules
from strangler.security.tokens import BadToken, TokenVerifier
from strangler.spec.security import SecuritySpec

__all__ = ["Principal", "SecurityGuard"]

log = logging.getLogger("strangler.security")

REALM = 'realm="strangler"'


@dataclass(frozen=True)
class Principal:
    """A verified caller: ``actor`` is ``key:NAME``, ``jwt:SUBJECT`` or ``cert:NAME``."""

    actor: str
    method: str
    scopes: frozenset[str] = field(default_factory=frozenset)


class SecurityGuard:
    """The ``security`` component: authentication, scopes, rate limits, audit."""

    name = "security"
    kind = "security"

    def __init__(
        self,
        spec: SecuritySpec,
        *,
        sources: Iterable[tuple[str, str, OperationSource]] = (),
        gateway: Mapping[str, str] | None = None,
        audit_url: str | None = None,
    ) -> None:
        self.spec = spec
        self.sources = list(sources)
        self.gateway = dict(gateway or {})
        self.public = frozenset(spec.public)
        self.keys = KeyRing({n: k.hash.get_secret_value() for n, k in spec.keys.items()})
        self._key_scopes = {n: frozenset(k.scopes) for n, k in spec.keys.items()}
        self._slow_keys = any(
            k.hash.get_secret_value().startswith("scrypt:") for k in spec.keys.values()
        )
        self.tokens = TokenVerifier(spec.jwt) if spec.jwt is not None else None
        self.certificates = CertificateMap(spec.certificates) if spec.certificates else None
        limits = spec.rate_limits
        self.buckets: Buckets = (
            RedisBuckets(limits.redis.get_secret_value(), limits.prefix, limits.redis_timeout_s)
            if limits.redis is not None
            else MemoryBuckets()
        )
        self.audit = AuditTrail(audit_url, spec.audit.table) if audit_url else None
        self.table: ScopeTable | None = None
        known = {system for _, system, _ in self.sources}
        unknown = sorted(set(spec.concurrency) - known)
        if unknown:
            raise ValueError(
                f"security.concurrency names no legacy system: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
        self.bulkheads = {
            name: Bulkhead(name, c.max_in_flight, c.max_waiting)
            for name, c in spec.concurrency.items()
        }
        self._undo: list[Callable[[], None]] = []
        self.header_names = frozenset({spec.api_key_header.lower().encode(), b"authorization"})
        self._granted: dict[tuple[frozenset[str], str], bool] = {}

    # -- the component ------------------------------------------------------

    async def start(self) -> None:
        for _, system, source in self.sources:
            if system in self.bulkheads:
                self._undo.append(limit_calls(source, self.bulkheads[system]))
        if self.audit is not None:
            await self.audit.start()
            self.audit.record(AuditRecord("security.loaded", "spec", detail=self.fingerprint()))

    async def close(self) -> None:
        while self._undo:
            self._undo.pop()()
        await self.buckets.close()
        if self.audit is not None:
            await self.audit.close()

    async def health(self) -> Health:
        detail: dict[str, Any] = {"kind": self.kind, "keys": len(self.keys)}
        if self.tokens is not None:
            detail.update(self.tokens.jwks.health())
        if self.bulkheads:
            detail["concurrency"] = {
                n: {"in_flight": b.in_flight, "waiting": b.waiting, "refused": b.refused}
                for n, b in self.bulkheads.items()
            }
        failing = isinstance(self.buckets, RedisBuckets) and self.buckets.failing
        if failing:
            detail["rate_limits"] = "redis failing: limited in this process"
        return Health("degraded" if failing else "ok", detail)

    def fingerprint(self) -> str:
        """Key names and a hash of their hashes and scopes: shows a change, reveals nothing."""
        digest = hashlib.sha256()
        for name in sorted(self.spec.keys):
            key = self.spec.keys[name]
            digest.update(f"{name}\0{key.hash.get_secret_value()}\0{sorted(key.scopes)}\n".encode())
        for name, cert in sorted(self.spec.certificates.items()):
            digest.update(f"cert\0{name}\0{cert.model_dump_json()}\n".encode())
        names = ",".join(sorted(self.spec.keys)) or "-"
        certs = ",".join(sorted(self.spec.certificates)) or "-"
        return (
            f"keys={names} certificates={certs} sha256={digest.hexdigest()[:16]} "
            f"jwt={self.tokens is not None}"
        )

    # -- the faces the edge uses -------------------------------------------

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The app behind this guard (the edge adds it as a middleware)."""
        return _Guarded(app, self)

    def document(self, openapi: dict[str, Any]) -> None:
        """Learn each operation's scope from the document; declare schemes and scopes in it."""
        rules = route_rules(
            openapi,
            self.sources,
            public=self.public,
            overrides=self.spec.scopes,
            gateway=self.gateway,
        )
        self.table = ScopeTable(rules)
        _declare(openapi, self, rules)

    def document_events(self, asyncapi: dict[str, Any]) -> None:
        """Declare the schemes and the scope of each stream read in the AsyncAPI document."""
        from strangler.platform.core import Platform
        from strangler.security.calls import GuardGate
        from strangler.security.events import declare_events

        gate = GuardGate(self)
        platform = Platform(cast(Component, source) for _, _, source in self.sources)

        def command_scope(ref: str) -> str | None:
            return gate.scope_of(platform.operation(ref))

        declare_events(
            asyncapi,
            self.spec,
            jwt=self.tokens is not None,
            sources=self.sources,
            public=self.public,
            gateway=self.gateway,
            command_scope=command_scope,
        )

    # -- per request --------------------------------------------------------

    async def authenticate(
        self, headers: Mapping[str, str], tls: Mapping[str, Any] | None = None
    ) -> Principal:
        """The caller the headers prove, or else the client certificate in ``tls`` (the
        ASGI TLS extension); :class:`Unauthenticated` otherwise, :class:`Forbidden` for
        a verified certificate that names no caller."""
        key = headers.get(self.spec.api_key_header.lower())
        if key is not None:
            name = (
                await asyncio.to_thread(self.keys.match, key)
                if self._slow_keys
                else self.keys.match(key)
            )
            if name is None:
                raise Unauthenticated("the API key is not valid", invalid=True)
            return Principal(f"key:{name}", "api-key", self._key_scopes[name])
        authorization = headers.get("authorization")
        if authorization is None and tls and tls.get("client_cert_chain"):
            return self.certificate(tls["client_cert_chain"][0])
        if authorization is None:
            raise Unauthenticated(
                f"credentials are needed: an API key in {self.spec.api_key_header}"
                + (" or a bearer token" if self.tokens else "")
            )
        scheme, _, token = authorization.partition(" ")
        if not token.strip() and scheme.lower() != "bearer":  # no scheme: never echo it
            raise Unauthenticated(
                "the Authorization header is not '<scheme> <credentials>'", invalid=True
            )
        if scheme.lower() != "bearer" or self.tokens is None:
            shown = repr(scheme[:20]) if scheme.isalpha() else "given"
            raise Unauthenticated(
                f"the {shown} authorization scheme is not accepted here", invalid=True
            )
        try:
            verified = await self.tokens.verify(token.strip())
        except BadToken as exc:
            raise Unauthenticated(str(exc), invalid=True) from None
        return Principal(f"jwt:{verified.subject}", "jwt", verified.scopes)

    def certificate(self, pem: str) -> Principal:
        """The caller a verified client certificate is (``security.certificates``)."""
        if self.certificates is None:
            raise Unauthenticated(
                "a client certificate alone is no credential here (security.certificates "
                f"names none): send an API key in {self.spec.api_key_header}"
                + (" or a bearer token" if self.tokens else "")
            )
        try:
            identity = self.certificates.identify(pem)
        except Unreadable as exc:
            raise Unauthenticated(str(exc), invalid=True) from None
        if identity.name is None:
            raise Forbidden(
                f"the client certificate {identity.subject[:200]!r} is no caller named in "
                "security.certificates",
                required_scope="",
            )
        return Principal(f"cert:{identity.name}", "mtls", identity.scopes)

    async def limit(self, caller: str, required: str | None) -> None:
        """Take a token from the caller's bucket and the route's; :class:`RateLimited`."""
        limits = self.spec.rate_limits
        if limits.client is not None:
            rate = limits.client
            taken = await self.buckets.take(f"c:{caller}", rate.capacity, rate.refill_per_s)
            if not taken.allowed:
                raise RateLimited(
                    f"{caller} is over its rate limit ({rate.rate:g} per {rate.per_s:g} s)",
                    limit="client",
                    retry_after_s=taken.retry_after_s,
                )
        if required is None:
            return
        for pattern, rate in limits.routes.items():
            if grants([pattern], required):
                key = f"r:{pattern}:{required}"
                taken = await self.buckets.take(key, rate.capacity, rate.refill_per_s)
                if not taken.allowed:
                    raise RateLimited(
                        f"{required} is over its rate limit ({rate.rate:g} per {rate.per_s:g} s)",
                        limit="route",
                        retry_after_s=taken.retry_after_s,
                    )

    def grants(self, scopes: frozenset[str], required: str) -> bool:
        """:func:`~.scopes.grants`, remembered per (scopes, required) pair."""
        answer = self._granted.get((scopes, required))
        if answer is None:
            if len(self._granted) > 10_000:
                self._granted.clear()
            answer = self._granted[(scopes, required)] = grants(scopes, required)
        return answer

    def challenge(self, exc: Unauthenticated | Forbidden) -> str:
        """``WWW-Authenticate`` for a 401 or 403 (RFC 6750 for bearer tokens)."""
        challenges = []
        if self.tokens is not None:
            if isinstance(exc, Forbidden) and exc.required_scope:
                challenges.append(
                    f'Bearer {REALM}, error="insufficient_scope", scope="{exc.required_scope}"'
                )
            elif isinstance(exc, Unauthenticated) and exc.invalid:
                challenges.append(f'Bearer {REALM}, error="invalid_token"')
            else:
                challenges.append(f"Bearer {REALM}")
        challenges.append(f'ApiKey {REALM}, header="{self.spec.api_key_header}"')
        return ", ".join(challenges)


class _Guarded:
    """The ASGI middleware of one :class:`SecurityGuard`."""

    def __init__(self, app: ASGIApp, guard: SecurityGuard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.guard.public:
            await self.app(scope, receive, send)
            return
        guard = self.guard
        if guard.table is None:
            scope["app"].openapi()  # documents the routes: the guard learns their scopes
        assert guard.table is not None
        rule, params = guard.table.find(scope.get("method", "GET"), scope["path"])
        if rule is not None and rule.scope is None:
            await self.app(scope, receive, send)
            return
        wanted = guard.header_names
        headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in wanted
        }
        client = scope.get("client")
        address = client[0] if client else "unknown"
        required = rule.required(params) if rule is not None else None
        try:
            try:
                principal = await guard.authenticate(
                    headers, scope.get("extensions", {}).get("tls")
                )
            except AccessDenied as exc:
                await guard.limit(f"ip:{address}", None)
                if isinstance(exc, Forbidden) and not exc.required_scope and required:
                    raise Forbidden(exc.message, required_scope=required) from None  # unnamed cert
                raise
            if required and not guard.grants(principal.scopes, required):
                _audit(guard, rule, principal.actor, scope, required, 403, address)
                raise Forbidden(
                    f"{principal.actor} lacks scope {required}", required_scope=required
                )
            await guard.limit(principal.actor, required)
        except StranglerError as exc:
            await self._refuse(exc, scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        status = 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            _audit(guard, rule, principal.actor, scope, required, status, address)

    async def _refuse(
        self, exc: StranglerError, scope: Scope, receive: Receive, send: Send
    ) -> None:
        log.info("refused %s %s: %s", scope.get("method", "WS"), scope["path"], exc.message)
        if scope["type"] == "websocket":  # refused before the handshake is accepted
            await send({"type": "websocket.close", "code": 1008, "reason": exc.message[:120]})
            return
        headers = {}
        if isinstance(exc, Unauthenticated | Forbidden):
            headers["WWW-Authenticate"] = self.guard.challenge(exc)
        await problem_json(problem_body(exc, scope["path"]), headers)(scope, receive, send)


def _audit(
    guard: SecurityGuard,
    rule: RouteRule | None,
    actor: str,
    scope: Scope,
    required: str | None,
    status: int,
    address: str,
) -> None:
    if guard.audit is None or rule is None or not rule.write:
        return
    action = "config.change" if required == "admin" else "write"
    guard.audit.record(
        AuditRecord(
            action, actor, scope.get("method", "WS"), scope["path"], required or "", status, address
        )
    )


_RESPONSES = {
    "401": "No credentials, or credentials that are not valid (see WWW-Authenticate).",
    "403": "The credentials do not grant the scope this operation needs.",
    "429": "Over a rate limit; Retry-After says when to try again.",
}


def _declare(document: dict[str, Any], guard: SecurityGuard, rules: list[RouteRule]) -> None:
    """Security schemes, each operation's scopes and its 401/403/429 answers."""
    components = document.setdefault("components", {})
    schemes = components.setdefault("securitySchemes", {})
    names = ["ApiKey"]
    schemes["ApiKey"] = {
        "type": "apiKey",
        "in": "header",
        "name": guard.spec.api_key_header,
        "description": "An API key; its scopes are in the server's spec (security.keys).",
    }
    if guard.tokens is not None:
        names.append("Bearer")
        schemes["Bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                f"A JWT from {guard.spec.jwt.issuer if guard.spec.jwt else ''}; "
                "its scopes in the 'scope' claim."
            ),
        }
    if guard.certificates is not None:
        names.append("MutualTLS")
        schemes["MutualTLS"] = {
            "type": "mutualTLS",
            "description": "A client certificate of the server's client CA; its scopes "
            "are in the server's spec (security.certificates).",
        }
    components.setdefault("schemas", {}).setdefault("Problem", Problem.model_json_schema())
    problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    limited = guard.spec.rate_limits.client is not None or bool(guard.spec.rate_limits.routes)
    by_key = {(r.method, r.template): r for r in rules}
    for template, item in document.get("paths", {}).items():
        for method, operation in item.items():
            rule = by_key.get((method.upper(), template))
            if rule is None or not isinstance(operation, dict):
                continue
            if rule.scope is None:
                operation["security"] = []
                continue
            scopes = [rule.scope]
            operation["security"] = [{name: scopes} for name in names]
            operation["x-required-scope"] = rule.scope
            responses = operation.setdefault("responses", {})
            wanted = ["401", "403"] + (["429"] if limited else [])
            for status in wanted:
                responses.setdefault(
                    status, {"description": _RESPONSES[status], "content": dict(problem)}
                )
