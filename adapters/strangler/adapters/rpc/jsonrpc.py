"""The JSON-RPC 2.0 adapter: the spec's methods as JSON POSTs, plus batches.

* ``POST /jsonrpc/{system}/{method}`` with the declared parameters as named
  fields (sent by name, or by position when the method says ``by_position``),
  or ``{"params": [...] | {...}}`` when none are declared; answers
  ``{"result": value}``.
* Methods declared ``notification: true`` are sent without an id and answered
  202 Accepted with no body.
* ``POST /jsonrpc/{system}/_batch`` takes ``[{"method": ..., "params": ...}, ...]``
  and answers one item per call, in order (see :meth:`JsonRpcAdapter.batch`; the
  routes are built beside the REST edge, in :mod:`strangler.rest.jsonrpc`).

Errors the legacy system answers are mapped as :mod:`.jsonrpc_codec` documents.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic_core import SchemaError

from strangler.adapters.base import Operation
from strangler.adapters.rpc.calls import RpcTarget, declared_operation, modern_operations
from strangler.adapters.rpc.jsonrpc_codec import (
    CONTENT_TYPE,
    fault,
    is_error_object,
    outcome,
    read_answer,
    request_object,
    same_id,
    usable,
)
from strangler.adapters.rpc.models import ModelFactory, check_answer
from strangler.adapters.rpc.transport import RpcTransport, TransportOwner
from strangler.errors import (
    LegacyProtocolError,
    StranglerError,
    SystemLoadError,
    UnknownOperation,
)
from strangler.spec.rpc import JsonRpcSystem

__all__ = ["JsonRpcAdapter"]

BATCH = "_batch"


class JsonRpcAdapter(TransportOwner):
    """A legacy JSON-RPC 2.0 service whose methods the spec declares."""

    kind = "jsonrpc"

    def __init__(self, system: str, spec: JsonRpcSystem, *, cache_dir: Path | None = None) -> None:
        self.system = system
        self.spec = spec
        self.factory = ModelFactory(system, xmlrpc=False)
        self.transport = RpcTransport(system, spec, CONTENT_TYPE, usable)
        self._ids = itertools.count(1)
        try:
            self.methods = {
                name: declared_operation(
                    system,
                    "JSON-RPC" + (" notification" if method.notification else ""),
                    self.factory,
                    name,
                    method,
                    by_position=method.by_position,
                    notification=method.notification,
                )
                for name, method in spec.methods.items()
            }
        except (TypeError, ValueError, SchemaError) as exc:
            raise SystemLoadError(system, spec.url, f"cannot build models: {exc}") from exc
        shaped, self._shapes = modern_operations(
            system, spec, spec.methods, list(self.methods.values())
        )
        self.methods = {op.name: op for op in shaped}
        self._by_name = {**{_target(op).method: op for op in shaped}, **self.methods}
        self._operations = [op for op in self.methods.values() if not _target(op).notification]

    def operations(self) -> Sequence[Operation[RpcTarget]]:
        return self._operations

    @property
    def name(self) -> str:
        return self.system

    def lookup(self, name: str) -> Operation[RpcTarget]:
        """A method (notifications included) by name; ``UnknownOperation`` otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownOperation(self.system, name) from None

    def notifications(self) -> list[Operation[RpcTarget]]:
        """The methods called as notifications (served by :meth:`router`)."""
        return [op for op in self.methods.values() if _target(op).notification]

    def _health_details(self) -> dict[str, Any]:
        return {"operations": len(self.methods)}

    async def invoke(self, operation: Operation[RpcTarget], payload: BaseModel) -> Any:
        """Call a method (``{"result": ...}``); a notification is sent and answers None."""
        target = _target(operation)
        if target.notification:
            await self.notify(operation, payload)
            return None
        request_id = next(self._ids)
        params = target.wire_params(self._legacy(operation, payload), json_mode=True)
        body = orjson.dumps(request_object(target.method, params, request_id))
        reply = await self.transport.call(body, operation=target.method, safe=operation.safe)
        answer = read_answer(reply, system=self.system, operation=target.method)
        result = outcome(answer, request_id, **self._where(target.method))
        return self._answer(operation, result)

    async def notify(self, operation: Operation[RpcTarget], payload: BaseModel) -> None:
        """Send a notification; only transport trouble or an error answer raise."""
        target = _target(operation)
        params = target.wire_params(self._legacy(operation, payload), json_mode=True)
        body = orjson.dumps(request_object(target.method, params, None))
        reply = await self.transport.call(body, operation=target.method, safe=operation.safe)
        answer = read_answer(reply, system=self.system, operation=target.method, empty_ok=True)
        if is_error_object(answer):
            raise fault(answer["error"], **self._where(target.method))

    async def batch(
        self, calls: Sequence[tuple[Operation[RpcTarget], Any]]
    ) -> list[dict[str, Any]]:
        """Send ``(operation, params)`` calls as one batch; one outcome per call, in order.

        Each outcome is ``{"method", "status": "ok", "result"}``, ``{"method",
        "status": "sent"}`` for a notification, or ``{"method", "status":
        "error", "error": StranglerError}``. Transport trouble, an unreadable
        answer or one error for the whole batch raise.
        """
        ids = [None if _target(op).notification else next(self._ids) for op, _ in calls]
        requests = [
            request_object(
                _target(op).method, _target(op).wire_params(self._legacy(op, v), json_mode=True), i
            )
            for (op, v), i in zip(calls, ids, strict=True)
        ]
        safe = all(op.safe for op, _ in calls)
        reply = await self.transport.call(orjson.dumps(requests), operation=BATCH, safe=safe)
        only_notes = all(i is None for i in ids)
        answer = read_answer(reply, system=self.system, operation=BATCH, empty_ok=only_notes)
        if is_error_object(answer):
            raise fault(answer["error"], **self._where(BATCH))
        answers, orphans = self._match(answer, ids, only_notes)
        items: list[dict[str, Any]] = []
        for (op, _), request_id in zip(calls, ids, strict=True):
            if request_id is None:
                items.append({"method": op.name, "status": "sent"})
                continue
            item = answers.get(request_id) or (orphans.pop(0) if orphans else None)
            try:
                if item is None:
                    raise LegacyProtocolError(
                        f"{self.system} sent no answer to this call",
                        system=self.system,
                        operation=op.name,
                    )
                answer = self._answer(op, outcome(item, request_id, **self._where(op.name)))
                result = answer.get("result", answer)  # unwrapped by the spec: the whole answer
                items.append({"method": op.name, "status": "ok", "result": result})
            except StranglerError as exc:
                items.append({"method": op.name, "status": "error", "error": exc})
        return items

    def _match(
        self, answer: Any, ids: list[int | None], only_notes: bool
    ) -> tuple[dict[int, Any], list[Any]]:
        """Answers by request id, and error answers with a null id (unmatchable)."""
        if answer is None or only_notes:
            return {}, []
        if not isinstance(answer, list):
            raise LegacyProtocolError(
                f"{self.system} answered a batch with something that is not a list",
                system=self.system,
                operation=BATCH,
            )
        matched: dict[int, Any] = {}
        orphans = []
        for item in answer:
            item_id = item.get("id") if isinstance(item, dict) else None
            if item_id is None and is_error_object(item):
                orphans.append(item)
                continue
            known = [i for i in ids if i is not None and same_id(i, item_id)]
            if not known or known[0] in matched:
                raise LegacyProtocolError(
                    f"{self.system} answered a batch with an unknown or repeated id {item_id!r}",
                    system=self.system,
                    operation=BATCH,
                )
            matched[known[0]] = item
        return matched, orphans

    def _legacy(self, operation: Operation[RpcTarget], payload: Any) -> Any:
        """A modern request as the legacy method takes it (unchanged when unmapped)."""
        shape = self._shapes.get(operation)
        return shape.to_legacy(payload) if shape is not None else payload

    def _answer(self, operation: Operation[RpcTarget], result: Any) -> dict[str, Any]:
        """``{"result": result}`` (in modern shape where the spec declares one), or a
        protocol error when ``result`` breaks the documented type."""
        shape = self._shapes.get(operation)
        model = shape.legacy_output if shape is not None else operation.output_model
        where = {"system": self.system, "operation": _target(operation).method}
        answer = {"result": check_answer(model, result, json=True, **where)}
        return answer if shape is None else dict(shape.to_modern(answer))

    def _where(self, operation: str) -> dict[str, Any]:
        return {"system": self.system, "operation": operation, "spec": self.spec}


def _target(operation: Operation[RpcTarget]) -> RpcTarget:
    target: RpcTarget = operation.target
    return target
