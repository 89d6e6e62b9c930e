"""The SOAP adapter: a WSDL's operations as async calls with JSON in and out.

Calls follow the shared legacy-call policy (:mod:`strangler.adapters.calls`):
a pooled keep-alive session, a circuit breaker per port, retries only for the
operations the spec declares safe. Where the spec declares a modern shape
(``naming``, ``unwrap``, ``operations``), operations are served in it and each
call is converted both ways by :mod:`strangler.mapping.operation`; the legacy
names still find them (:meth:`SoapAdapter.lookup`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from strangler.adapters.base import Operation
from strangler.adapters.calls import LegacyCaller, Reply
from strangler.adapters.soap import zeep_api
from strangler.adapters.soap.catalog import HEADER_FIELD, SoapTarget, build_operations
from strangler.adapters.soap.exchange import build_request, read_answer
from strangler.adapters.soap.loading import load_errors, open_wsdl, override_address
from strangler.errors import LegacyUnavailable, SystemLoadError, UnknownOperation
from strangler.mapping.operation import OperationShape, shape_operations
from strangler.platform.component import Health
from strangler.spec.soap import SoapSystem

__all__ = ["SoapAdapter"]


def has_fault(reply: Reply) -> bool:
    """Whether a 5xx answer carries a SOAP Fault (read as a fault, not as unavailability)."""
    return b"Fault" in reply.content


class SoapAdapter:
    """A legacy SOAP service, from its WSDL."""

    kind = "soap"

    def __init__(self, system: str, spec: SoapSystem, *, cache_dir: Path | None = None) -> None:
        self.system = system
        self.spec = spec
        started = time.perf_counter()
        zeep_api.install_fixes()  # in force only while this adapter parses a reply
        with load_errors(system, spec.wsdl):
            self.client, schema, self.from_cache = open_wsdl(spec, cache_dir)
            legacy = build_operations(system, self.client, schema, safe=spec.safe_operations)
        self._operations, self._shapes = self._shaped(legacy)
        self._legacy = {op: legacy[i] for i, op in enumerate(self._operations)}
        self.load_seconds = time.perf_counter() - started
        self._by_route = {op.route: op for op in self._operations}
        for op in self._operations:
            for alias in op.aliases:
                self._by_route.setdefault(alias, op)
        for op, old in self._legacy.items():  # the WSDL's names find modern operations too
            for route in (old.route, *old.aliases):
                self._by_route.setdefault(route, op)
        self.calls = LegacyCaller(system, spec, has_fault)

    def _shaped(
        self, legacy: list[Operation[SoapTarget]]
    ) -> tuple[list[Operation[SoapTarget]], dict[Operation[SoapTarget], OperationShape]]:
        spec = self.spec
        if not (spec.mapped or spec.operations):
            return legacy, {}
        try:
            return shape_operations(
                self.system,
                legacy,
                spec.operations,
                naming=spec.naming,
                unwrap=spec.unwrap,
                keep=frozenset({HEADER_FIELD}),
            )
        except ValueError as exc:
            raise SystemLoadError(self.system, spec.wsdl, f"operations: {exc}") from None

    def operations(self) -> Sequence[Operation[SoapTarget]]:
        return self._operations

    def legacy_forms(
        self,
    ) -> list[tuple[Operation[SoapTarget], Operation[SoapTarget], OperationShape | None]]:
        """Each operation as the WSDL has it, as it is served, and the shape between the
        two (None when they are the same); the SOAP shim reads calls in the first form."""
        return [(old, op, self._shapes.get(op)) for op, old in self._legacy.items()]

    @property
    def name(self) -> str:
        return self.system

    def lookup(self, name: str) -> Operation[SoapTarget]:
        """``Operation`` (first port that has it) or ``Service.Port.Operation``."""
        route = tuple(name.split(".")) if name.count(".") == 2 else (name,)
        found = self._by_route.get(route)
        if found is None:
            raise UnknownOperation(self.system, name)
        return found

    def operation(self, service: str, port: str, name: str) -> Operation[SoapTarget]:
        """Look an operation up by its route; unknown ones raise ``UnknownOperation``."""
        return self.lookup(f"{service}.{port}.{name}")

    async def start(self) -> None:
        await self.calls.start()

    async def close(self) -> None:
        await self.calls.close()

    async def health(self) -> Health:
        """Fetch nothing: report the breakers' states (per port) and what was loaded."""
        ports = [op.target.port for op in self._operations]
        return await self.calls.health(ports, kind=self.kind, operations=len(self._operations))

    async def invoke(self, operation: Operation[SoapTarget], payload: BaseModel) -> Any:
        target: SoapTarget = operation.target
        shape = self._shapes.get(operation)
        if shape is not None:
            payload = shape.to_legacy(payload)
        data = payload.model_dump(by_alias=True, exclude_unset=True)
        header = data.pop(HEADER_FIELD, None) if target.has_header else None
        address = override_address(target.address or "", self.spec.address)
        if not address:
            raise LegacyUnavailable(
                f"{self.system}: port {target.port} has no address; set 'address' in the spec",
                system=self.system,
                operation=target.operation,
            )
        envelope, headers = build_request(self.client, target, data, header, address, self.system)
        reply = await self.calls.post(
            address,
            envelope,
            key=target.port,
            operation=target.operation,
            safe=operation.safe,
            headers=headers,
        )
        legacy = self._legacy.get(operation, operation)
        answer = await read_answer(self.client, legacy, reply, system=self.system)
        return shape.to_modern(answer) if shape is not None else answer
