"""The XML-RPC adapter: a legacy XML-RPC service as one JSON POST per method.

Methods come from introspection (when the server offers it) merged with the
spec: a method declared in the spec overrides what introspection said of it
(its parameters, result, description, safety) and declared methods the server
did not list are added. ``system.*`` methods are left out unless declared.

Request bodies:

* declared parameters → a flat object of named fields, sent in declared order;
* introspected signatures → ``{"params": [...]}`` typed per signature;
* neither → ``{"params": [...]}`` untyped.

Answers are ``{"result": value}`` (in the spec's modern shape where it
declares one: :func:`~strangler.adapters.rpc.calls.modern_operations`);
``dateTime.iso8601`` values are ISO 8601 text without offset (as the protocol
has them), ``base64`` values base64 text.
Aware datetimes are sent in UTC. An answer outside the documented result type
(an ``int`` beyond 32 bits, say) is a protocol error, never passed on.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import SchemaError

from strangler.adapters.base import Operation
from strangler.adapters.rpc.calls import RpcTarget, declared_operation, modern_operations
from strangler.adapters.rpc.introspection import Discovered, discover
from strangler.adapters.rpc.models import ModelFactory, check_answer
from strangler.adapters.rpc.transport import RpcTransport, TransportOwner
from strangler.adapters.rpc.xmlrpc_codec import (
    CONTENT_TYPE,
    decode_reply,
    encode_call,
    has_method_response,
)
from strangler.errors import SystemLoadError, UnknownOperation
from strangler.spec.rpc import XmlRpcMethod, XmlRpcSystem

__all__ = ["XmlRpcAdapter"]

log = logging.getLogger(__name__)
_NOT_IN_ROUTES = frozenset("/{}?#")


class XmlRpcAdapter(TransportOwner):
    """A legacy XML-RPC service, from introspection and the spec."""

    kind = "xmlrpc"

    def __init__(self, system: str, spec: XmlRpcSystem, *, cache_dir: Path | None = None) -> None:
        self.system = system
        self.spec = spec
        self.transport = RpcTransport(
            system, spec, CONTENT_TYPE, lambda reply: has_method_response(reply.content)
        )
        found = (
            discover(system, spec, self.transport.headers, cache_dir) if spec.introspect else None
        )
        self.introspected = found is not None
        try:
            legacy = self._build(found or {})
        except (TypeError, ValueError, SchemaError) as exc:
            raise SystemLoadError(system, spec.url, f"cannot build models: {exc}") from exc
        if not legacy:
            raise SystemLoadError(system, spec.url, "no methods: none declared, none introspected")
        self._operations, self._shapes = modern_operations(system, spec, spec.methods, legacy)
        self._by_name = {op.name: op for op in self._operations}
        for op in self._operations:  # the legacy names find modern methods too
            self._by_name.setdefault(op.target.method, op)

    def _build(self, found: dict[str, Discovered]) -> list[Operation[RpcTarget]]:
        factory = ModelFactory(self.system, xmlrpc=True)
        operations = []
        for name in dict.fromkeys(itertools.chain(found, self.spec.methods)):
            if _NOT_IN_ROUTES & set(name) or not name:
                log.warning("%s: method %r cannot be a path segment; left out", self.system, name)
                continue
            seen = found.get(name, Discovered(None, None))
            declared = self.spec.methods.get(name, XmlRpcMethod())
            input_model = output_model = None
            if seen.signatures and declared.params is None:
                input_model = factory.signature_params(name, seen.signatures)
            if seen.signatures and "result" not in declared.model_fields_set:
                output_model = factory.signature_result(name, seen.signatures)
            operations.append(
                declared_operation(
                    self.system,
                    "XML-RPC",
                    factory,
                    name,
                    declared,
                    by_position=True,
                    input_model=input_model,
                    output_model=output_model,
                    description=seen.help,
                )
            )
        return operations

    def operations(self) -> Sequence[Operation[RpcTarget]]:
        return self._operations

    @property
    def name(self) -> str:
        return self.system

    def lookup(self, name: str) -> Operation[RpcTarget]:
        """A method by name; unknown ones raise ``UnknownOperation``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownOperation(self.system, name) from None

    def _health_details(self) -> dict[str, Any]:
        return {"operations": len(self._operations), "introspected": self.introspected}

    async def invoke(self, operation: Operation[RpcTarget], payload: BaseModel) -> Any:
        target: RpcTarget = operation.target
        shape = self._shapes.get(operation)
        if shape is not None:
            payload = shape.to_legacy(payload)
        params = target.wire_params(payload, json_mode=False)
        body = encode_call(target.method, params or [])
        reply = await self.transport.call(body, operation=target.method, safe=operation.safe)
        result = decode_reply(
            reply.status,
            reply.content,
            system=self.system,
            operation=target.method,
            spec=self.spec,
        )
        where = {"system": self.system, "operation": target.method}
        if shape is None:
            return {"result": check_answer(operation.output_model, result, json=False, **where)}
        checked = check_answer(shape.legacy_output, result, json=False, **where)
        return shape.to_modern({"result": checked})
