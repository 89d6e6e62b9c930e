"""The security schemes and scopes in the event side's AsyncAPI 3.0 document.

The event side marks each operation a client performs over HTTP with
``x-http`` (``"GET /events/orders"``: the stream read as a page or as
Server-Sent Events). The guard adds the schemes it accepts under
``components.securitySchemes`` (an API key header, and HTTP bearer JWT when
``security.jwt`` is set), and to each marked operation its ``security`` (any one
of the schemes) and ``x-required-scope``, the scope the HTTP route needs (as the
OpenAPI document names it, ``security.scopes`` included); the operation's
channel carries the same scope. Operations without ``x-http`` (command topics,
taken from the broker) are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
