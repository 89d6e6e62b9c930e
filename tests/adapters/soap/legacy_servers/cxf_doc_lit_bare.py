"""document/literal bare: Apache CXF's ``doc_lit_bare.wsdl``, a little trade book.

The Body holds the part's global element itself, no wrapper: ``x1:in`` for
``PutLastTradedPrice`` (answered by an empty Body), ``x1:inout`` for ``SayHi``,
nothing at all for ``bareNoParam`` and the nillable simple ``x1:inDecimal`` for
``nillableParameter``. Element form is qualified throughout.

``PutLastTradedPrice`` records a trade (a price <= 0 is a Client fault),
``SayHi`` answers the last recorded price of the symbol it is given,
``bareNoParam`` summarises the book, ``nillableParameter`` rounds a decimal to
cents, nil staying nil.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation

from lxml import etree

from tests.adapters.soap.legacy_servers.plumbing import (
    XSI,
    Answer,
    Fault,
    LegacyServer,
    Request,
    el,
    is_nil,
    serve,
    text,
)

WSDL = "cxf_doc_lit_bare/doc_lit_bare.wsdl"
NS = "http://apache.org/hello_world_doc_lit_bare/types"


def _trade(node: etree._Element) -> tuple[str, Decimal]:
    symbol = text(node, f"{{{NS}}}tickerSymbol").strip()
    raw = text(node, f"{{{NS}}}tickerPrice").strip()
    try:
        return symbol, Decimal(raw)
    except InvalidOperation:
        raise Fault("client", f"tickerPrice {raw!r} is not a float") from None


def _trade_out(symbol: str, price: Decimal) -> etree._Element:
    return el(
        f"{{{NS}}}inout",
        el(f"{{{NS}}}tickerSymbol", symbol),
        el(f"{{{NS}}}tickerPrice", str(price)),
    )


class TradeBook:
    """The server's state: the last traded price per symbol, in arrival order."""

    def __init__(self) -> None:
        self.prices: dict[str, Decimal] = {}

    def put(self, request: Request) -> Answer:
        assert request.operation is not None
        symbol, price = _trade(request.operation)
        if price <= 0:
            detail = el(f"{{{NS}}}outString", f"{symbol}: {price}")
            raise Fault("client", "tickerPrice must be positive", detail)
        self.prices.pop(symbol, None)
        self.prices[symbol] = price
        return Answer()

    def say_hi(self, request: Request) -> Answer:
        assert request.operation is not None
        symbol, price = _trade(request.operation)
        return Answer([_trade_out(symbol, self.prices.get(symbol, price))])

    def no_param(self, request: Request) -> Answer:
        if not self.prices:
            summary = "no trades"
        else:
            last = next(reversed(self.prices))
            summary = f"{len(self.prices)} symbols, last {last} at {self.prices[last]}"
        return Answer([el(f"{{{NS}}}stringRespType", summary)])

    def nillable(self, request: Request) -> Answer:
        node = request.operation
        assert node is not None
        out = el(f"{{{NS}}}outString")
        if is_nil(node):
            out.set(f"{{{XSI}}}nil", "true")
        else:
            try:
                out.text = str(Decimal((node.text or "").strip()).quantize(Decimal("0.01")))
            except InvalidOperation:
                raise Fault("client", f"inDecimal {node.text!r} is not a decimal") from None
        return Answer([out])


@contextmanager
def running() -> Iterator[LegacyServer]:
    book = TradeBook()
    operations = {
        f"{{{NS}}}in": book.put,
        f"{{{NS}}}inout": book.say_hi,
        "": book.no_param,
        f"{{{NS}}}inDecimal": book.nillable,
    }
    with serve(operations) as server:
        yield server
