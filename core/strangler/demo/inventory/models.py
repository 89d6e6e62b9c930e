"""The spyne types of ``InventoryService``: messages, the header and the fault.

Every type lives in :data:`TNS` and elements are qualified, as the WSDL says.
Mandatory fields carry ``min_occurs=1`` and ``nillable=False`` so the schema
reads the way a hand-written legacy contract would.
"""

from __future__ import annotations

from typing import Any, Final

from lxml import etree
from spyne import ComplexModel, Fault
from spyne.model.primitive import Boolean, DateTime, Decimal, Int, Unicode

__all__ = [
    "ITEM_STATUSES",
    "TNS",
    "FiniteDecimal",
    "Item",
    "ItemStatus",
    "ReorderAdvice",
    "RequestContext",
    "StockFault",
    "StockLevel",
]

TNS: Final = "urn:strangler:demo:inventory"
"""Target namespace of the service, its types and its elements."""

ITEM_STATUSES: Final = ("ACTIVE", "DISCONTINUED")

# Field helpers: required vs optional, never nillable.
_Text = Unicode(min_occurs=1, nillable=False)
_Int = Int(min_occurs=1, nillable=False)
_Stamp = DateTime(min_occurs=1, nillable=False, timezone=True)

ItemStatus = Unicode(
    values=list(ITEM_STATUSES),
    type_name="ItemStatus",
    __namespace__=TNS,
    min_occurs=1,
    nillable=False,
)
"""``xs:string`` restricted to :data:`ITEM_STATUSES`."""


class FiniteDecimal(Decimal):  # type: ignore[misc]
    """``xs:decimal`` that refuses ``NaN`` and infinities.

    spyne 2.14 compares incoming decimals with its range bounds, which raises
    (instead of failing validation) for ``NaN``; this turns that into a
    ``Client.ValidationError`` fault.
    """

    __type_name__ = "decimal"
    __namespace__ = "http://www.w3.org/2001/XMLSchema"

    @staticmethod
    def validate_native(cls: Any, value: Any) -> bool:
        finite = value is None or bool(value.is_finite())
        return finite and bool(Decimal.validate_native(cls, value))


class _Base(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS


class RequestContext(_Base):
    """SOAP header sent by callers: who is asking, and the id to trace the call by."""

    tenant = Unicode(min_occurs=0, nillable=False)
    correlationId = Unicode(min_occurs=0, nillable=False)


class StockLevel(_Base):
    """Stock of one SKU in the warehouse serving the caller's tenant."""

    sku = _Text
    warehouse = _Text
    quantity = _Int
    reorderPoint = _Int
    updatedAt = _Stamp


class Item(_Base):
    """A catalogue entry."""

    sku = _Text
    name = _Text
    category = _Text
    unitPrice = Decimal(min_occurs=1, nillable=False, fraction_digits=2)
    status = ItemStatus


class ReorderAdvice(_Base):
    """The rules engine's verdict (see :mod:`strangler.demo.inventory.rules`)."""

    reorder = Boolean(min_occurs=1, nillable=False)
    quantity = _Int
    reason = _Text
    ruleId = _Text


class StockFault(Fault):  # type: ignore[misc]
    """The declared fault. Its detail is ``<tns:StockFault><tns:code/><tns:sku/>``.

    The two members describe that detail element to the WSDL. Instances carry
    them as :attr:`code` / :attr:`sku`, and the protocol classes in
    :mod:`strangler.demo.inventory.protocols` write :meth:`detail_element`
    into the fault's ``detail`` (SOAP 1.1) or ``Detail`` (SOAP 1.2).
    """

    __namespace__ = TNS
    __type_name__ = "StockFault"

    code = _Text
    sku = Unicode(min_occurs=0, nillable=False)

    def __init__(
        self,
        faultcode: str = "Server",
        faultstring: str = "",
        code: str = "",
        sku: str | None = None,
    ) -> None:
        super().__init__(faultcode=faultcode, faultstring=faultstring)
        self.code = code
        self.sku = sku

    def detail_element(self) -> Any:
        """A new ``<tns:StockFault>`` element holding :attr:`code` and :attr:`sku`."""
        root = etree.Element(f"{{{TNS}}}StockFault", nsmap={"tns": TNS})
        etree.SubElement(root, f"{{{TNS}}}code").text = self.code
        if self.sku is not None:
            etree.SubElement(root, f"{{{TNS}}}sku").text = self.sku
        return root
