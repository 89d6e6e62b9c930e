"""Which operation a request calls: by the Body's first element, then by its action.

Every operation of every SOAP port of the WSDL is listed under the SOAP
version of its binding and the qualified name its request's Body starts
with: the wrapper element (document/literal wrapped), the first part's
element (bare), ``{namespace}Operation`` (rpc), or nothing (an empty Body).
When several share that name (two ports of one version, bare operations
taking the same element) the action (``SOAPAction`` or the content type's
``action``) decides; when the Body names no operation the action alone may.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lxml import etree

from strangler.errors import InvalidInput, UnknownOperation
from strangler.mapping.operation import OperationShape
from strangler.platform.operations import Operation
from strangler.shim.envelope import Incoming

__all__ = ["Catalog", "ShimOperation"]


@dataclass(frozen=True)
class ShimOperation:
    """One WSDL operation as the shim serves it."""

    legacy: Operation[Any]
    """The operation as the WSDL has it (its models are the legacy shapes)."""
    served: Operation[Any]
    """The operation as the adapter serves it (the modern shape, the route's public one)."""
    shape: OperationShape | None
    route: Any | None
    """The gateway route's ASGI app that answers it; None: the legacy operation itself."""

    @property
    def name(self) -> str:
        return str(self.legacy.target.operation)

    @cached_property
    def binding_operation(self) -> Any:
        """zeep's operation of the binding (its input, output and fault messages)."""
        target = self.legacy.target
        return target.binding.get(target.operation)

    @cached_property
    def answer_plan(self) -> Any:
        """How its reply is written without zeep, or None (:mod:`.answers`)."""
        from strangler.shim.answers import answer_plan

        target = self.legacy.target
        if target.encoded or target.simple_reply is not None:
            return None
        operation = self.binding_operation
        prefixes = getattr(getattr(operation.binding.wsdl, "types", None), "_prefix_map_custom", {})
        return answer_plan(operation.output, dict(prefixes or {}))

    @cached_property
    def request_plan(self) -> Any:
        """How its request is read without zeep's value objects, or None (:mod:`.answers`)."""
        from strangler.shim.answers import request_plan

        target = self.legacy.target
        if target.encoded or target.style != "document" or target.simple_body is not None:
            return None
        return request_plan(self.binding_operation.input)

    @property
    def version(self) -> str:
        return str(self.legacy.target.soap_version)

    @property
    def action(self) -> str | None:
        return self.binding_operation.soapaction or None


def body_key(operation: Any, style: str) -> str:
    """The qualified name (Clark notation) a request for ``operation`` starts its Body with."""
    message = operation.input
    element = getattr(message, "body", None) if message is not None else None
    if element is None:
        return ""
    if style != "rpc" and getattr(message, "_is_body_wrapped", False):
        children = list(getattr(element.type, "elements", ()))
        if not children:
            return ""
        return str(children[0][1].qname.text)
    return str(element.qname.text)


class Catalog:
    """The operations of one service, found by version, Body and action."""

    def __init__(self, system: str, operations: list[ShimOperation]) -> None:
        self.system = system
        self.operations = operations
        self._by_body: dict[tuple[str, str], list[ShimOperation]] = defaultdict(list)
        self._by_action: dict[tuple[str, str], list[ShimOperation]] = defaultdict(list)
        self.versions = {op.version for op in operations}
        for op in operations:
            key = body_key(op.binding_operation, op.legacy.target.style)
            self._by_body[(op.version, key)].append(op)
            if op.action:
                self._by_action[(op.version, op.action)].append(op)

    def find(self, request: Incoming) -> ShimOperation:
        """The operation ``request`` calls; ``UnknownOperation`` or ``InvalidInput`` if none."""
        version = request.version
        if version not in self.versions:
            if version != "1.1" or not self.versions:
                have = " and ".join(sorted(self.versions)) or "no SOAP version"
                raise InvalidInput(f"{self.system} speaks SOAP {have}, not SOAP {version}")
            # A SOAP 1.2 node answers a SOAP 1.1 envelope in SOAP 1.1 (SOAP 1.2 part 2,
            # appendix A), as the legacy servers do: its operations are the 1.2 binding's.
            version = "1.2"
        first = request.first
        key = etree.QName(first).text if first is not None else ""
        found = self._by_body.get((version, key), [])
        if len(found) > 1 and request.action:
            by_action = [op for op in found if op.action == request.action]
            found = by_action or found
        if found:
            return found[0]
        by_action = self._by_action.get((version, request.action or ""), [])
        if by_action and not key:
            return by_action[0]
        what = f"the Body's {key}" if key else "an empty Body"
        if request.action:
            what += f" (action {request.action!r})"
        raise UnknownOperation(self.system, what)
