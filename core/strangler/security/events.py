"""The security schemes and scopes in the event side's AsyncAPI 3.0 document.

The event side marks each operation a client performs over HTTP with
``x-http`` (``"GET /events/orders"``: the stream read as a page or as
Server-Sent Events). The guard adds the schemes it accepts under
``components.securitySchemes`` (an API key header, and HTTP bearer JWT when
``security.jwt`` is set), and to each marked operation its ``security`` (any one
of the schemes) and ``x-required-scope``, the scope the HTTP route needs (as the
OpenAPI document names it, ``security.scopes`` included); the operation's
channel carries the same scope.

A command topic's receive operation (marked ``x-operation``, the operation it
calls) gets the same schemes and the scope that operation's REST route needs
(:mod:`.calls`); its command message declares the credential headers a
command carries (Kafka record headers, beside the CloudEvent in both modes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from strangler.platform.operations import OperationSource
from strangler.security.scopes import route_rules
from strangler.spec.security import SecuritySpec

__all__ = ["declare_events"]

SCHEMES = "#/components/securitySchemes/"


def declare_events(
    document: dict[str, Any],
    spec: SecuritySpec,
    *,
    jwt: bool,
    sources: Iterable[tuple[str, str, OperationSource]],
    public: Iterable[str],
    gateway: Mapping[str, str],
    command_scope: Callable[[str], str | None] | None = None,
) -> None:
    """Declare the schemes in ``document`` and each HTTP-read operation's scope."""
    components = document.setdefault("components", {})
    schemes = components.setdefault("securitySchemes", {})
    schemes["ApiKey"] = {
        "type": "httpApiKey",
        "in": "header",
        "name": spec.api_key_header,
        "description": "An API key; its scopes are in the server's spec (security.keys).",
    }
    if jwt:
        schemes["Bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": f"A JWT from {spec.jwt.issuer if spec.jwt else ''}; "
            "its scopes in the 'scope' claim.",
        }
    sources = list(sources)
    for operation in document.get("operations", {}).values():
        called = operation.get("x-operation")
        if isinstance(called, str) and command_scope is not None:
            _declare_command(document, operation, command_scope(called), spec, list(schemes))
            continue
        label = operation.get("x-http")
        if not isinstance(label, str):
            continue
        method, _, path = label.partition(" ")
        rules = route_rules(
            {"paths": {path: {method.lower(): {}}}},
            sources,
            public=public,
            overrides=spec.scopes,
            gateway=gateway,
        )
        scope = rules[0].scope if rules else None
        if scope is None:
            operation["security"] = []
            continue
        operation["security"] = [{"$ref": SCHEMES + name} for name in schemes]
        operation["x-required-scope"] = scope
        channel = operation.get("channel", {}).get("$ref", "")
        name = channel.removeprefix("#/channels/")
        if name in document.get("channels", {}):
            document["channels"][name]["x-required-scope"] = scope


def _declare_command(
    document: dict[str, Any],
    operation: dict[str, Any],
    scope: str | None,
    spec: SecuritySpec,
    schemes: list[str],
) -> None:
    """A command topic's receive operation: its schemes, scope and credential headers."""
    operation["security"] = [{"$ref": SCHEMES + name} for name in schemes]
    if scope is not None:
        operation["x-required-scope"] = scope
    channel = operation.get("channel", {}).get("$ref", "").removeprefix("#/channels/")
    found = document.get("channels", {}).get(channel)
    if found is None:
        return
    if scope is not None:
        found["x-required-scope"] = scope
    credentials = {
        spec.api_key_header: {"type": "string", "description": "An API key (security.keys)."},
    }
    if "Bearer" in schemes:
        credentials["Authorization"] = {
            "type": "string",
            "pattern": "^Bearer ",
            "description": "Bearer <JWT>; its scopes in the 'scope' claim.",
        }
    for ref in found.get("messages", {}).values():
        name = ref.get("$ref", "").removeprefix("#/components/messages/")
        message = document.get("components", {}).get("messages", {}).get(name)
        if message is None:
            continue
        message["headers"] = {
            "type": "object",
            "description": "Kafka record headers: one credential, never part of the event. "
            "A command without one is answered with a 401 problem, one whose caller "
            "lacks the scope with a 403 problem; neither calls the operation.",
            "properties": credentials,
        }
