"""The spyne ``InventoryService``: four document/literal wrapped operations.

Every operation accepts the optional :class:`RequestContext` SOAP header;
``GetStock`` and ``AdjustStock`` report the warehouse of the header's tenant
and the header's ``correlationId`` (if made of at most 128 letters, digits and
``._:/+=-``) is echoed in the ``X-Correlation-ID`` HTTP response header.
Errors are the declared :class:`StockFault`:

============================  =========================  ============================
situation                     SOAP 1.1 faultcode         detail ``code``
============================  =========================  ============================
SKU not in the catalogue      ``Client.UnknownSku``      ``UNKNOWN_SKU``
adjustment below zero         ``Client.NegativeStock``   ``NEGATIVE_STOCK``
out-of-range advice inputs    ``Client.InvalidRequest``  ``INVALID_REQUEST``
SKU ``ERR-BACKEND``           ``Server.Backend``         ``BACKEND_UNAVAILABLE``
============================  =========================  ============================

(SOAP 1.2 maps ``Client``/``Server`` to ``Sender``/``Receiver`` plus a subcode.)
"""

from __future__ import annotations

import re
from decimal import Decimal as PyDecimal
from typing import Any

from spyne import ServiceBase, rpc
from spyne.model.primitive import Int, Unicode

from strangler.demo.inventory import rules
from strangler.demo.inventory.data import (
    BACKEND_ERROR_SKU,
    NegativeStockError,
    StockLedger,
    StockRecord,
    UnknownSkuError,
    warehouse_for,
)
from strangler.demo.inventory.models import (
    FiniteDecimal,
    Item,
    ReorderAdvice,
    RequestContext,
    StockFault,
    StockLevel,
)

__all__ = ["CORRELATION_HEADER", "InventoryService"]

CORRELATION_HEADER = "X-Correlation-ID"
"""HTTP response header that echoes ``RequestContext/correlationId``."""

_CORRELATION_RE = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")  # never echo CR/LF or spaces
_Req = {"min_occurs": 1, "nillable": False}
_StockLevelOut = StockLevel.customize(min_occurs=1, nillable=False)
_AdviceOut = ReorderAdvice.customize(min_occurs=1, nillable=False)


def _ledger(ctx: Any) -> StockLedger:
    ledger: StockLedger = ctx.app.user_data
    return ledger


def _context(ctx: Any) -> RequestContext | None:
    """The request header, echoing a well-formed correlation id into the HTTP response."""
    header: RequestContext | None = ctx.in_header
    if (
        header is not None
        and header.correlationId
        and _CORRELATION_RE.fullmatch(header.correlationId)
    ):
        ctx.transport.resp_headers[CORRELATION_HEADER] = header.correlationId
    return header


def _check_backend(sku: str) -> None:
    if sku == BACKEND_ERROR_SKU:
        raise StockFault("Server.Backend", "stock back end unavailable", "BACKEND_UNAVAILABLE", sku)


def _unknown(sku: str) -> StockFault:
    return StockFault("Client.UnknownSku", f"unknown SKU {sku!r}", "UNKNOWN_SKU", sku)


def _level(record: StockRecord, header: RequestContext | None) -> StockLevel:
    return StockLevel(
        sku=record.sku,
        warehouse=warehouse_for(header and header.tenant),
        quantity=record.quantity,
        reorderPoint=record.reorder_point,
        updatedAt=record.updated_at,
    )


class InventoryService(ServiceBase):  # type: ignore[misc]
    """Stock levels, catalogue and reorder advice of the demo retailer."""

    __in_header__ = RequestContext

    @rpc(Unicode(**_Req), _returns=_StockLevelOut, _throws=[StockFault])  # type: ignore[untyped-decorator]
    def GetStock(ctx: Any, sku: str) -> StockLevel:
        """Stock on hand of one SKU."""
        header = _context(ctx)
        _check_backend(sku)
        try:
            return _level(_ledger(ctx).get(sku), header)
        except UnknownSkuError:
            raise _unknown(sku) from None

    @rpc(
        Unicode(min_occurs=0, nillable=False),  # type: ignore[untyped-decorator]
        _returns=Item.customize(max_occurs="unbounded", nillable=False),
        _out_variable_name="item",
        _throws=[StockFault],
    )
    def ListItems(ctx: Any, category: str | None) -> list[Item]:
        """The catalogue, or one category of it; an unknown category gives an empty list."""
        _context(ctx)
        return [
            Item(
                sku=i.sku, name=i.name, category=i.category, unitPrice=i.unit_price, status=i.status
            )
            for i in StockLedger.items(category)
        ]

    @rpc(
        Unicode(**_Req),
        Unicode(**_Req),
        Int(**_Req),  # type: ignore[untyped-decorator]
        FiniteDecimal(**_Req),
        Int(**_Req),
        _returns=_AdviceOut,
        _throws=[StockFault],
    )
    def GetReorderAdvice(
        ctx: Any,
        customerId: str,
        sku: str,
        quantityOnHand: int,
        averageDailySales: PyDecimal,
        leadTimeDays: int,
    ) -> ReorderAdvice:
        """Whether (and how much) to reorder; see :mod:`strangler.demo.inventory.rules`."""
        _context(ctx)
        _check_backend(sku)
        try:
            advice = rules.advise(
                StockLedger.item(sku),
                customerId,
                quantityOnHand,
                PyDecimal(averageDailySales),
                leadTimeDays,
            )
        except UnknownSkuError:
            raise _unknown(sku) from None
        except rules.InvalidAdviceRequest as exc:
            raise StockFault("Client.InvalidRequest", str(exc), "INVALID_REQUEST", sku) from None
        return ReorderAdvice(
            reorder=advice.reorder,
            quantity=advice.quantity,
            reason=advice.reason,
            ruleId=advice.rule_id,
        )

    @rpc(
        Unicode(**_Req),
        Int(**_Req),
        Unicode(**_Req),  # type: ignore[untyped-decorator]
        _returns=_StockLevelOut,
        _throws=[StockFault],
    )
    def AdjustStock(ctx: Any, sku: str, delta: int, reason: str) -> StockLevel:
        """Add ``delta`` to the stock on hand (``reason`` is recorded by real systems only)."""
        header = _context(ctx)
        _check_backend(sku)
        try:
            return _level(_ledger(ctx).adjust(sku, delta), header)
        except UnknownSkuError:
            raise _unknown(sku) from None
        except NegativeStockError as exc:
            raise StockFault("Client.NegativeStock", str(exc), "NEGATIVE_STOCK", sku) from None
