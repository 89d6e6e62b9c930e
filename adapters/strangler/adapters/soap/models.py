"""Pydantic models generated from a WSDL's XSD types, walking zeep's own types.

The JSON shape of a model is exactly the keyword shape zeep takes and gives,
so a validated request can be handed to zeep as it is:

* a complex type is an object whose fields are its elements and attributes;
* ``maxOccurs > 1`` is an array; ``minOccurs=0`` is optional; ``nillable`` may be null;
* a ``choice`` is a set of optional fields of which exactly one is given
  (``oneOf`` in the schema), a repeated group is an array of objects;
* ``xsd:any`` is a free-form value (an XML string on the way in);
* an extension is flattened: the fields of the base come first, as in XML.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    create_model,
    model_validator,
)
from zeep.xsd import Any as XsdAny
from zeep.xsd import AnyAttribute, Choice, ComplexType, Element, Group

from strangler.adapters.soap.facets import FacetReader
from strangler.adapters.soap.simple_types import Facets, python_type
from strangler.adapters.soap.xml_content import parse_xml_content
from strangler.adapters.soap.zeep_api import OrderIndicator, array_type
from strangler.platform.naming import model_name

__all__ = ["ModelBuilder", "SoapModel"]

_UNBOUNDED = "unbounded"
_RESERVED = set(dir(BaseModel))


_XML_CONTENT = Annotated[
    Any,
    BeforeValidator(parse_xml_content),  # hostile XML refused (xml_content.py)
    WithJsonSchema({"type": "string", "contentMediaType": "application/xml"}),
]


class SoapModel(BaseModel):
    """Base of every generated model: unknown fields are refused."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        val_json_bytes="base64",
        ser_json_bytes="base64",
        arbitrary_types_allowed=True,
        field_title_generator=lambda name, info: info.alias or name,
    )


def _python_name(name: str) -> str:
    candidate = re.sub(r"\W", "_", name)
    if (
        not candidate
        or candidate[0].isdigit()
        or candidate[0] == "_"
        or keyword.iskeyword(candidate)
        or candidate in _RESERVED
    ):
        candidate = "f_" + candidate
    return candidate


def _repeated(max_occurs: Any) -> bool:
    return max_occurs == _UNBOUNDED or (isinstance(max_occurs, int) and max_occurs > 1)


class _Choice:
    """Runtime check for a choice: exactly one branch (or none, if optional)."""

    def __init__(self, names: list[str], optional: bool, output: bool = False) -> None:
        self.names, self.optional, self.output = names, optional, output

    def check(self, given: set[str], null: set[str]) -> None:
        # zeep gives every branch of a choice it read, the ones not taken as None.
        present = [n for n in self.names if n in given and not (self.output and n in null)]
        if len(present) > 1:
            raise ValueError(f"choose one of {self.names}, not {present}")
        if not present and not self.optional:
            raise ValueError(f"one of {self.names} is required")


class ModelBuilder:
    """Builds (and caches) pydantic models for zeep types.

    ``prefix`` keeps model names apart between systems; ``output`` builds the
    lenient response variant, where anything optional may come back as null.
    """

    def __init__(self, prefix: str, facets: FacetReader, *, max_depth: int = 40) -> None:
        self.prefix = prefix
        self.facets = facets
        self.max_depth = max_depth
        self._cache: dict[tuple[int, bool, bool], type[BaseModel]] = {}
        self._encoded = False  # building an rpc/encoded reply: every accessor may be omitted
        self._building: set[int] = set()
        self._names: set[str] = set()

    # -- public -----------------------------------------------------------------

    def message_model(
        self,
        name: str,
        element: Element | None,
        *,
        output: bool,
        xs_element: Any = None,
        encoded: bool = False,
    ) -> type[BaseModel]:
        """The model of a SOAP body or header: the fields of ``element``'s type.

        ``encoded``: the parts of an rpc/encoded call, each of which may be left out
        or null (SOAP 1.1 section 5.1: an omitted accessor is null or the default).
        """
        if element is None:
            return self._make(name, {}, [], doc=None)
        xsd_type = element.type
        if encoded and isinstance(xsd_type, ComplexType):
            # In a reply, any accessor may be omitted, however deep (read as null).
            self._encoded = output
            try:
                return self._encoded_parts(xsd_type, name, output=output)
            finally:
                self._encoded = False
        if isinstance(xsd_type, ComplexType):
            xs_type = getattr(xs_element, "type", None)
            return self._complex(xsd_type, name, output=output, xs_type=xs_type, depth=0)
        # A bare simple-typed body part: one field named after the element.
        field = self._element_field(element, output=output, xs_element=xs_element, depth=0)
        return self._make(name, {str(element.name): field}, [], doc=None)

    def xs_element_for(self, element: Element | None) -> Any:
        """The ``xmlschema`` element for a global zeep element, if known."""
        if element is None or element.qname is None:
            return None
        return self.facets.global_element(element.qname.text)

    def _encoded_parts(self, wrapper: ComplexType, name: str, *, output: bool) -> type[BaseModel]:
        fields: dict[str, Any] = {}
        for part_name, part in wrapper.elements:
            annotation, options = self._element_field(part, output=output, xs_element=None, depth=0)
            fields[part_name] = _optional((annotation, options), nullable=True)
        return self._make(name, fields, [], doc=None)

    # -- types ------------------------------------------------------------------

    def _complex(
        self, xsd_type: ComplexType, hint: str, *, output: bool, xs_type: Any, depth: int
    ) -> type[BaseModel]:
        key = (id(xsd_type), output, self._encoded)
        if key in self._cache:
            return self._cache[key]
        if xs_type is None and xsd_type.qname is not None:
            xs_type = self.facets.global_type(xsd_type.qname.text)
        name = xsd_type.qname.localname if xsd_type.qname is not None else hint
        self._building.add(id(xsd_type))
        try:
            fields: dict[str, Any] = {}
            choices: list[_Choice] = []
            for item_name, item in xsd_type.elements_nested:
                self._item(item_name, item, fields, choices, output, xs_type, depth, name)
            for attr_name, attr in xsd_type.attributes:
                if isinstance(attr, AnyAttribute):
                    # xsd:anyAttribute: zeep gives the other attributes as a dict (and would
                    # take one, of qualified names: no request field for it).
                    if output:
                        fields[attr_name] = self._field(
                            dict[str, str], required=False, nullable=True
                        )
                    continue
                xs_attr = self.facets.attribute(xs_type, attr_name)
                facets = self.facets.facets(xs_attr)
                annotation = python_type(attr.type, facets)
                required = getattr(attr, "required", False) and not output
                fields[attr_name] = self._field(
                    annotation, required=required, nullable=output, facets=facets
                )
            model = self._make(name, fields, choices, doc=_doc(self.facets.facets(xs_type)))
        finally:
            self._building.discard(id(xsd_type))
        self._cache[key] = model
        return model

    def _item(
        self,
        name: str | None,
        item: Any,
        fields: dict[str, Any],
        choices: list[_Choice],
        output: bool,
        xs_type: Any,
        depth: int,
        owner: str,
    ) -> None:
        """Add the fields of one entry of zeep's ``elements_nested``."""
        if isinstance(item, Element) and not isinstance(item, XsdAny):
            xs_child = self.facets.child_element(xs_type, str(item.name))
            fields[item.attr_name] = self._element_field(
                item, output=output, xs_element=xs_child, depth=depth + 1
            )
        elif isinstance(item, XsdAny):
            fields[name or "_value_1"] = self._any_field(item, output)
        elif isinstance(item, OrderIndicator | Group) and _repeated(item.max_occurs):
            sub_fields: dict[str, Any] = {}
            sub_choices: list[_Choice] = []
            for sub_name, sub in _nested(item):
                self._item(sub_name, sub, sub_fields, sub_choices, output, xs_type, depth, owner)
            group = self._make(f"{owner}Group", sub_fields, sub_choices, doc=None)
            fields[name or "_value_1"] = self._field(
                list[group],  # type: ignore[valid-type]
                required=item.min_occurs > 0 and not output,
                nullable=output,
            )
        elif isinstance(item, Choice):
            before = set(fields)
            for sub_name, sub in _nested(item):
                self._item(sub_name, sub, fields, choices, output, xs_type, depth, owner)
            branches = [n for n in fields if n not in before]
            for branch in branches:  # every branch is optional on its own
                fields[branch] = _optional(fields[branch], nullable=output)
            choices.append(
                _Choice(branches, optional=item.min_occurs == 0 or output, output=output)
            )
        elif isinstance(item, OrderIndicator | Group):
            for sub_name, sub in _nested(item):
                self._item(sub_name, sub, fields, choices, output, xs_type, depth, owner)

    def _element_field(self, element: Element, *, output: bool, xs_element: Any, depth: int) -> Any:
        xsd_type = element.type
        facets: Facets | None = None
        annotation: Any
        if isinstance(xsd_type, ComplexType) and array_type(xsd_type):  # a SOAP-ENC array
            item: Any = self._array_item(xsd_type, output=output, depth=depth)
            annotation = list[item]
        elif isinstance(xsd_type, ComplexType):
            if id(xsd_type) in self._building or depth > self.max_depth:
                annotation = dict[str, Any]  # a recursive type: free-form below here
            else:
                xs_type = getattr(xs_element, "type", None)
                local = str(element.name)
                hint = f"{local[:1].upper()}{local[1:]}"
                annotation = self._complex(
                    xsd_type, hint, output=output, xs_type=xs_type, depth=depth
                )
        else:
            facets = self.facets.facets(xs_element)
            annotation = python_type(xsd_type, facets)
        if _repeated(element.max_occurs):
            limit = None if element.max_occurs == _UNBOUNDED else int(element.max_occurs)
            annotation = Annotated[
                list[annotation],
                Field(min_length=element.min_occurs or None, max_length=limit),
            ]
        nullable = element.nillable or (output and (element.min_occurs == 0 or self._encoded))
        return self._field(
            annotation,
            required=element.min_occurs > 0 and not output,
            nullable=nullable,
            facets=facets,
        )

    def _array_item(self, xsd_type: ComplexType, *, output: bool, depth: int) -> Any:
        """The item type of a SOAP-ENC array: zeep takes and gives the array as a plain list."""
        items = [element for _, element in xsd_type.elements]
        item = items[0] if len(items) == 1 else None
        item_type = getattr(item, "restrict", None) if isinstance(item, XsdAny) else None
        if isinstance(item, Element) and not isinstance(item, XsdAny):
            item_type = item.type
        if item_type is None:
            return Any  # no wsdl:arrayType: items of any type
        if not isinstance(item_type, ComplexType):
            return python_type(item_type, None)
        if id(item_type) in self._building or depth > self.max_depth:
            return dict[str, Any]
        hint = item_type.qname.localname if item_type.qname is not None else "Item"
        return self._complex(item_type, hint, output=output, xs_type=None, depth=depth)

    def _any_field(self, item: XsdAny, output: bool) -> Any:
        annotation: Any = Any if output else _XML_CONTENT
        if _repeated(item.max_occurs):
            annotation = list[annotation]
        description = "Any XML content (xsd:any), as an XML string."
        return self._field(
            annotation,
            required=item.min_occurs > 0 and not output,
            nullable=True,
            description=description,
        )

    # -- plumbing ---------------------------------------------------------------

    @staticmethod
    def _field(
        annotation: Any,
        *,
        required: bool,
        nullable: bool,
        facets: Facets | None = None,
        description: str | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """A field as (annotation, ``Field`` keywords); the alias is added by ``_make``."""
        if nullable:
            annotation = annotation | None
        options: dict[str, Any] = {
            "description": description or (facets.documentation if facets else None)
        }
        if not required:
            options.update(default=None, json_schema_extra=_no_default)
        return (annotation, options)

    def _make(
        self, name: str, fields: dict[str, Any], choices: list[_Choice], doc: str | None
    ) -> type[BaseModel]:
        model_name = self._unique(name)
        definitions = {}
        for xml_name, (annotation, options) in fields.items():
            definitions[_python_name(xml_name)] = (annotation, Field(alias=xml_name, **options))
        extra: dict[str, Any] = {}
        if choices:
            extra["json_schema_extra"] = _choice_schema(choices)
        model: type[BaseModel] = create_model(  # type: ignore[call-overload]
            model_name,
            __base__=SoapModel if not extra else _with_extra(extra),
            __doc__=doc,
            __validators__=_choice_validators(choices) if choices else None,
            **definitions,
        )
        return model

    def unique_name(self, name: str) -> str:
        """A model name not given before: ``"inventory.GetStockRequest"`` for
        ``"GetStockRequest"`` (see :func:`strangler.platform.naming.model_name`),
        numbered from 2 when taken."""
        return self._unique(name)

    def _unique(self, name: str) -> str:
        base = model_name(self.prefix, name)
        candidate, n = base, 2
        while candidate in self._names:
            candidate, n = f"{base}{n}", n + 1
        self._names.add(candidate)
        return candidate


def _nested(item: Any) -> list[tuple[str | None, Any]]:
    if isinstance(item, Group):
        return [(None, item.child)]
    return list(item.elements_nested)


def _optional(field: tuple[Any, dict[str, Any]], *, nullable: bool) -> tuple[Any, dict[str, Any]]:
    annotation, options = field
    options = {**options, "default": None, "json_schema_extra": _no_default}
    return (annotation | None if nullable else annotation, options)


def _no_default(schema: dict[str, Any]) -> None:
    """Optional XSD content has no default value: drop pydantic's ``default: null``."""
    schema.pop("default", None)


def _doc(facets: Facets | None) -> str | None:
    return facets.documentation if facets else None


def _choice_schema(choices: list[_Choice]) -> Any:
    def extra(schema: dict[str, Any]) -> None:
        groups = [
            {"oneOf": [{"required": [n]} for n in c.names]}
            for c in choices
            if not c.optional and c.names
        ]
        if len(groups) == 1:
            schema.update(groups[0])
        elif groups:
            schema["allOf"] = groups

    return extra


def _with_extra(extra: dict[str, Any]) -> type[SoapModel]:
    class _Model(SoapModel):
        model_config = ConfigDict(**extra)  # type: ignore[typeddict-item]

    return _Model


def _choice_validators(choices: list[_Choice]) -> dict[str, Any]:
    def check(model: BaseModel) -> BaseModel:
        given, null = set(), set()
        for name, info in type(model).model_fields.items():
            if name in model.model_fields_set:
                given.add(info.alias or name)
                if getattr(model, name) is None:
                    null.add(info.alias or name)
        for choice in choices:
            choice.check(given, null)
        return model

    return {"_choice": model_validator(mode="after")(check)}
