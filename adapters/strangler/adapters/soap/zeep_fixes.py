"""One correction to zeep's parsing, applied when the SOAP adapter is imported.

zeep reads an empty element of a simple type as ``None`` whatever the type. For
``xsd:string`` and the types derived from it, an empty element is the empty
string; only ``xsi:nil="true"`` means no value. Without this, ``""`` sent by a
legacy system came back as ``null``, and empty strings inside SOAP-ENC arrays
were dropped, shifting the positions of the others.
"""

from __future__ import annotations

from typing import Any

from zeep.xsd.types import builtins

__all__ = ["apply"]

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_MARK = "_strangler_empty_string"


def apply() -> None:
    """Make zeep read empty string elements as ``""`` (idempotent)."""
    string = builtins.String
    if getattr(string, _MARK, False):
        return
    original = string.parse_xmlelement

    def parse_xmlelement(self: Any, xmlelement: Any, *args: Any, **kwargs: Any) -> Any:
        if xmlelement.text is None and len(xmlelement) == 0:
            return None if xmlelement.get(_XSI_NIL) in ("true", "1") else ""
        return original(self, xmlelement, *args, **kwargs)

    string.parse_xmlelement = parse_xmlelement  # type: ignore[method-assign]  # the fix itself
    setattr(string, _MARK, True)
