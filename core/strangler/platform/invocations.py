"""Observers of successful operation calls: one path for the REST edge and in-process calls.

Both the REST edge's operation routes and :meth:`Platform.invoke
<strangler.platform.core.Platform.invoke>` call a legacy operation through
:func:`invoke`, which tells the observers registered on the operation's source
(for instance the event side's outbox, recording each successful
``AdjustStock``) once the call has succeeded. A failed call tells nobody.
Every call is counted and timed (:func:`~strangler.observability.metrics.observe_operation`).

Observers are kept per source component (not per :class:`Platform`, of which
a build makes several over the same components). An observer that fails is
logged and does not fail the call: the legacy system has already done it.

A source may also be put behind a :class:`~strangler.platform.bulkhead.Bulkhead`
(:func:`limit`): every call on this path then holds one of its slots.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from strangler.observability.metrics import observe_operation
from strangler.platform.bulkhead import Bulkhead
from strangler.platform.operations import Operation, OperationSource

__all__ = ["Call", "InvocationObserver", "invoke", "limit", "observe"]

log = logging.getLogger(__name__)

InvocationObserver = Callable[[Operation[Any], BaseModel, Any], Awaitable[None]]
"""Called with the operation, its validated input and the answer, after success."""

_OBSERVERS: weakref.WeakKeyDictionary[object, list[InvocationObserver]] = (
    weakref.WeakKeyDictionary()
)
_BULKHEADS: weakref.WeakKeyDictionary[object, Bulkhead] = weakref.WeakKeyDictionary()


def observe(source: OperationSource, observer: InvocationObserver) -> Callable[[], None]:
    """Tell ``observer`` of every successful call of ``source``; returns the undo."""
    observers = _OBSERVERS.setdefault(source, [])
    observers.append(observer)

    def undo() -> None:
        if observer in observers:
            observers.remove(observer)

    return undo


def limit(source: OperationSource, bulkhead: Bulkhead) -> Callable[[], None]:
    """Put every call of ``source`` behind ``bulkhead``; returns the undo."""
    _BULKHEADS[source] = bulkhead

    def undo() -> None:
        if _BULKHEADS.get(source) is bulkhead:
            del _BULKHEADS[source]

    return undo


Call = Callable[[Operation[Any], BaseModel], Awaitable[Any]]
"""How a call is made: ``source.invoke``, or another way to the same operation."""


async def invoke(
    source: OperationSource,
    operation: Operation[Any],
    payload: BaseModel,
    call: Call | None = None,
) -> Any:
    """``source.invoke(operation, payload)`` (in a slot of its bulkhead, if it has one),
    then each observer of ``source``. ``call`` makes the call instead of ``source.invoke``
    (the SOAP shim passing a client's envelope on as it came), on the same terms."""
    bulkhead = _BULKHEADS.get(source)
    make = source.invoke if call is None else call
    async with observe_operation(operation.system, operation.name):
        if bulkhead is None:
            result = await make(operation, payload)
        else:
            async with bulkhead.slot(operation.name):
                result = await make(operation, payload)
    for observer in tuple(_OBSERVERS.get(source, ())):
        try:
            await observer(operation, payload, result)
        except Exception:
            log.exception("an observer of %s failed after the call succeeded", operation.ref)
    return result
