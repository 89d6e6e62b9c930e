"""An operation passed on unchanged: the client's envelope goes to the legacy system as it came.

When the shim answers an operation from the legacy system itself (no gateway
route) and nothing changes its shape (no mapping, no defaults for its answer),
re-writing the request would only risk changing it: a value read into a
python ``float`` comes out ``-1.0`` where the client wrote ``-1``, a date in
another lexical form, a decimal with other digits. So the request, once
checked against the WSDL as every request is, goes on as the client wrote it:
its Body, and its Header less the blocks the shim consumed (its own
WS-Security) or dropped (undeclared ones), with the adapter's own WS-Security,
plugins and HTTP headers added as zeep adds them to the envelopes it writes
(:func:`~strangler.adapters.soap.zeep_api.forward_envelope`). The legacy reply
comes back the same way, header blocks included, after it has been read and
checked as the adapter reads every reply (its Faults raised, its values
checked against the WSDL); only its SOAP version changes, when the client
spoke another than the binding's.

The call keeps the SOAP adapter's call policy (timeout, breaker, retries for
safe operations, its basic auth) and the platform's path for in-process calls
(the source's bulkhead, the operation metrics, the observers, which are told
the answer's values).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from lxml import etree
from pydantic import BaseModel

from strangler.errors import LegacyUnavailable
from strangler.shim.catalog import ShimOperation
from strangler.shim.envelope import Incoming, in_version

if TYPE_CHECKING:
    from strangler.platform.core import Platform

__all__ = ["forward", "passes_through"]


def passes_through(op: ShimOperation, adapter: Any, defaults: dict[str, Any]) -> bool:
    """Whether ``op`` is passed on as the client wrote it (see the module)."""
    return op.route is None and op.shape is None and not defaults and adapter is not None


def request_body(op: ShimOperation, incoming: Incoming) -> Any:
    """The Body to read the request's values from: a SOAP-encoded one is read from a
    copy (reading resolves its references and reorders its members in place)."""
    if not op.legacy.target.encoded:
        return incoming.body
    # a copy of the whole envelope: the prefixes its types are named by are declared above
    envelope = copy.deepcopy(incoming.envelope)
    return envelope.find(incoming.body.tag)


async def forward(
    platform: Platform,
    adapter: Any,
    op: ShimOperation,
    incoming: Incoming,
    request: BaseModel,
) -> tuple[bytes | None, Any]:
    """Pass ``incoming`` on to the legacy operation: the reply envelope (bytes, in the
    client's SOAP version; None for a one-way operation) and the answer's values."""
    from strangler.adapters.soap.exchange import check_answer, read_reply_document, to_json_ready
    from strangler.adapters.soap.loading import override_address
    from strangler.adapters.soap.zeep_api import forward_envelope

    target = op.legacy.target
    address = override_address(target.address or "", adapter.spec.address)
    if not address:
        raise LegacyUnavailable(
            f"{adapter.system}: port {target.port} has no address; set 'address' in the spec",
            system=adapter.system,
            operation=target.operation,
        )
    replied: list[Any] = []

    async def call(_op: Any, _payload: BaseModel) -> Any:
        envelope = incoming.envelope
        if incoming.version != op.version:
            envelope = in_version(envelope, op.version)
        envelope, headers = forward_envelope(
            target.binding, target.operation, envelope, client=adapter.client, address=address
        )
        data = etree.tostring(envelope, encoding="utf-8", xml_declaration=True)
        reply = await adapter.calls.post(
            address,
            data,
            key=target.port,
            operation=target.operation,
            safe=op.legacy.safe,
            headers=headers,
        )
        body, _, document = read_reply_document(
            adapter.client, target, reply, system=adapter.system
        )
        answer = to_json_ready(body, target.simple_reply)
        if op.binding_operation.output is not None:
            check_answer(
                op.legacy.output_model, answer, system=adapter.system, operation=target.operation
            )
        replied.append(document)
        return answer

    answer = await platform.invoke(op.served, request, call=call)
    document = replied[0] if replied else None
    if op.binding_operation.output is None or document is None:
        return None, answer
    if incoming.version != op.version:
        document = in_version(document, incoming.version)
    return etree.tostring(document, encoding="utf-8", xml_declaration=True), answer
