"""The guard's checks for callers outside HTTP: the :class:`~strangler.platform.callers.CallGate`
handed to command consumers.

A command carries its credential as a transport header beside the CloudEvent,
exactly as an HTTP request does: the API key in the header the spec names
(``X-API-Key``), or ``Authorization: Bearer <JWT>``. These are Kafka record
headers in both CloudEvents modes (in binary mode the event's attributes are
the ``ce_*`` headers; a credential header is none of them), so the credential is
never part of the event, never stored with it and never published again.

The operation a command calls needs the scope its REST route needs
(:mod:`.scopes`, ``security.scopes`` given for any of its REST paths included):
one operation, one permission, whichever way it is called. Every command, let
through or refused, is one audit record (action ``command``, method
``COMMAND``, path the topic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from strangler.errors import Forbidden, Unauthenticated
from strangler.platform.callers import CREDENTIAL_HEADERS, Caller
from strangler.platform.operations import Operation
from strangler.security.audit import AuditRecord
from strangler.security.scopes import route_rules

if TYPE_CHECKING:
    from strangler.security.guard import SecurityGuard

__all__ = ["GuardGate"]


class GuardGate:
    """A :class:`~strangler.platform.callers.CallGate` over one :class:`SecurityGuard`."""

    def __init__(self, guard: SecurityGuard) -> None:
        self.guard = guard
        self._scopes: dict[str, str | None] = {}

    @property
    def credential_headers(self) -> frozenset[str]:
        return CREDENTIAL_HEADERS | {self.guard.spec.api_key_header.lower()}

    def scope_of(self, operation: Operation[Any]) -> str | None:
        if operation.ref not in self._scopes:
            self._scopes[operation.ref] = self._route_scope(operation)
        return self._scopes[operation.ref]

    def _route_scope(self, operation: Operation[Any]) -> str | None:
        """The scope of the operation's REST route; ``security.scopes`` given for any of
        its paths (the full route or a shorter alias) renames it."""
        guard = self.guard
        kinds = {system: kind for kind, system, _ in guard.sources}
        base = f"/{kinds.get(operation.system, operation.system)}/{operation.system}/"
        paths = [base + "/".join(route) for route in (operation.route, *operation.aliases)]
        overrides = guard.spec.scopes
        for path in paths:
            given = overrides.get(f"POST {path}") or overrides.get(path)
            if given:
                return given
        rules = route_rules(
            {"paths": {paths[0]: {"post": {}}}},
            guard.sources,
            public=guard.public,
            overrides=overrides,
            gateway=guard.gateway,
        )
        return rules[0].scope if rules else None

    async def admit(
        self,
        headers: Mapping[str, str],
        operation: Operation[Any],
        *,
        channel: str,
        origin: str = "",
    ) -> Caller:
        where = {"channel": channel, "origin": origin}
        try:
            principal = await self.guard.authenticate(headers)
        except Unauthenticated:
            await self.record("anonymous", operation, status=401, **where)
            raise
        required = self.scope_of(operation)
        if required and not self.guard.grants(principal.scopes, required):
            await self.record(principal.actor, operation, status=403, **where)
            raise Forbidden(f"{principal.actor} lacks scope {required}", required_scope=required)
        return Caller(principal.actor, required)

    async def record(
        self,
        actor: str,
        operation: Operation[Any],
        *,
        channel: str,
        status: int,
        origin: str = "",
    ) -> None:
        audit = self.guard.audit
        if audit is None:
            return
        audit.record(
            AuditRecord(
                "command",
                actor,
                "COMMAND",
                channel,
                self.scope_of(operation) or "",
                status,
                origin[:100],
                detail=operation.ref,
            )
        )
