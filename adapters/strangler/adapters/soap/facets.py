"""Read what zeep drops (enumerations, patterns, bounds, documentation) from the schema.

zeep keeps the structure of the XSD types but not their facets, so the
schemas are read a second time with ``xmlschema`` and walked in step with
zeep's types. When ``xmlschema`` cannot read a WSDL, facets are simply absent:
the structure, which is what calls depend on, still comes from zeep.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from strangler.adapters.soap.simple_types import Facets
from strangler.errors.redact import mask_url, mask_urls
from strangler.spec.common import TlsSpec

__all__ = ["FacetReader", "read_schema"]

log = logging.getLogger(__name__)


def read_schema(wsdl_source: str, tls: TlsSpec | None = None) -> Any:
    """The WSDL's schemas as ``xmlschema`` reads them (over ``tls`` when given), or None
    if it cannot."""
    try:
        from xmlschema.extras.wsdl import Wsdl11Document

        remote = "://" in wsdl_source
        source = wsdl_source if remote else str(Path(wsdl_source).resolve())
        options: dict[str, Any] = {}
        if remote and tls is not None:
            from strangler.adapters.calls.tls import tls_opener

            options["opener"] = tls_opener(tls)
        # Remote WSDLs may import remote XSDs; local ones only local files. No DTDs.
        # What xmlschema warns about (an import it may not fetch) only costs facets too.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            document = Wsdl11Document(
                source, allow="all" if remote else "local", defuse="always", **options
            )
        for warning in caught:
            log.info("facets for %s: %s", wsdl_source, warning.message)
        _keep_documentation(document.schema)
        return document.schema
    except Exception as exc:  # any failure only costs the facets
        log.info("facets unavailable for %s: %s", mask_url(wsdl_source), mask_urls(str(exc)))
        return None


class FacetReader:
    """Looks up the ``xmlschema`` component beside each zeep type."""

    def __init__(self, schema: Any) -> None:
        self._maps: Any = schema.maps if schema is not None else None

    def global_type(self, qname: str | None) -> Any:
        if self._maps is None or not qname:
            return None
        return self._maps.types.get(qname)

    def global_element(self, qname: str | None) -> Any:
        if self._maps is None or not qname:
            return None
        return self._maps.elements.get(qname)

    @staticmethod
    def child_element(xs_type: Any, name: str) -> Any:
        """The local element ``name`` inside complex type ``xs_type``."""
        content = getattr(xs_type, "content", None)
        if content is None or not hasattr(content, "iter_elements"):
            return None
        for element in content.iter_elements():
            if getattr(element, "local_name", None) == name:
                return element
        return None

    @staticmethod
    def attribute(xs_type: Any, name: str) -> Any:
        attributes = getattr(xs_type, "attributes", None)
        if not attributes:
            return None
        for key, attr in attributes.items():
            if key is not None and key.split("}")[-1] == name:
                return attr
        return None

    def facets(self, xs_component: Any) -> Facets | None:
        """Facets of an element's or attribute's simple type (or of a simple type)."""
        if xs_component is None:
            return None
        xs_type = getattr(xs_component, "type", xs_component)
        if not getattr(xs_type, "is_simple", lambda: False)():
            return Facets(documentation=_doc(xs_component)) if _doc(xs_component) else None
        enumeration = tuple(str(v) for v in (getattr(xs_type, "enumeration", None) or ()))
        return Facets(
            enumeration=enumeration,
            pattern=_pattern(xs_type),
            min_length=getattr(xs_type, "min_length", None),
            max_length=getattr(xs_type, "max_length", None),
            minimum=_number(getattr(xs_type, "min_value", None)),
            maximum=_number(getattr(xs_type, "max_value", None)),
            documentation=_doc(xs_component) or _doc(xs_type),
        )


_DOC = "strangler_documentation"


def _keep_documentation(schema: Any) -> None:
    """Store each component's documentation as a plain attribute.

    ``xmlschema`` computes annotations lazily and leaves them out when pickled,
    so the text is kept where the on-disk cache preserves it.
    """
    for component in schema.maps.iter_components():
        with contextlib.suppress(AttributeError, TypeError):
            object.__setattr__(component, _DOC, _annotation_text(component))


def _doc(component: Any) -> str | None:
    kept: str | None = getattr(component, _DOC, None)
    if kept is not None or hasattr(component, _DOC):
        return kept
    return _annotation_text(component)


def _annotation_text(component: Any) -> str | None:
    annotation = getattr(component, "annotation", None)
    docs = getattr(annotation, "documentation", None) if annotation is not None else None
    if not docs:
        return None
    text = " ".join((d.text or "").strip() for d in docs).strip()
    return text or None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    return None


def _pattern(xs_type: Any) -> str | None:
    """One anchored pattern that both Python and pydantic accept, or none."""
    patterns = getattr(xs_type, "patterns", None)
    regexps = getattr(patterns, "regexps", None) if patterns is not None else None
    if not regexps or len(regexps) != 1:
        return None
    candidate = f"^(?:{regexps[0]})$"
    with contextlib.suppress(Exception):  # XSD regex dialects beyond Python's: no pattern
        re.compile(candidate)
        TypeAdapter(Annotated[str, Field(pattern=candidate)])
        return candidate
    return None
