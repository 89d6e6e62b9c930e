"""The operations of a WSDL: one :class:`~strangler.adapters.base.Operation` per
service, port and operation, with request and response models.

A request is the body's fields plus, when the binding declares ``soap:header``
parts, a ``soapHeader`` object with them. A response is the body's fields.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

from pydantic import BaseModel, Field, create_model
from zeep import Client
from zeep.wsdl.bindings import Soap11Binding, Soap12Binding
from zeep.xsd import ComplexType

from strangler.adapters.base import Operation
from strangler.adapters.soap.encoded import encoded_operations
from strangler.adapters.soap.facets import FacetReader
from strangler.adapters.soap.models import ModelBuilder

__all__ = ["HEADER_FIELD", "SoapTarget", "build_operations"]

HEADER_FIELD = "soapHeader"
_SOAP_BINDINGS = (Soap11Binding, Soap12Binding)


@dataclass(frozen=True)
class SoapTarget:
    """Where and how one operation is called (the ``target`` of its :class:`Operation`)."""

    service: str
    port: str
    operation: str
    address: str | None
    soap_version: str
    style: str
    binding: Any
    has_header: bool
    simple_body: str | None = None
    simple_reply: str | None = None
    encoded: bool = False


def _soap_version(binding: Any) -> str:
    return "1.2" if isinstance(binding, Soap12Binding) else "1.1"


def build_operations(
    system: str, client: Client, schema: Any, *, safe: frozenset[str] = frozenset()
) -> list[Operation[SoapTarget]]:
    """Every SOAP operation the WSDL's services expose, with generated models.

    ``schema`` is the ``xmlschema`` reading of the WSDL's types (for facets), or None.
    """
    builder = ModelBuilder(system, FacetReader(schema))
    rpc = any(
        op.style == "rpc"
        for service in client.wsdl.services.values()
        for port in service.ports.values()
        if isinstance(port.binding, _SOAP_BINDINGS)
        for op in port.binding.all().values()
    )
    encoded = encoded_operations(client.wsdl) if rpc else set()  # SOAP encoding is rpc-only
    operations: list[Operation[SoapTarget]] = []
    named: set[str] = set()  # operations whose models have their plain names
    for service in client.wsdl.services.values():
        for port in service.ports.values():
            binding = port.binding
            if not isinstance(binding, _SOAP_BINDINGS):
                continue  # an HTTP GET/POST binding: not SOAP
            for op in binding.all().values():
                is_encoded = (binding.name.text, op.name) in encoded
                # GetStockRequest for the first port with GetStock, GetStock{Port}Request after
                base = op.name if op.name not in named else f"{op.name}_{port.name}"
                named.add(op.name)
                operations.append(
                    _operation(system, builder, base, service, port, binding, op, safe, is_encoded)
                )
    # The first port that has an operation also answers at the short path /{operation}.
    taken: set[str] = set()
    result = []
    for operation in operations:
        if operation.name not in taken:
            taken.add(operation.name)
            operation = replace(operation, aliases=((operation.name,),))
        result.append(operation)
    return result


def _operation(
    system: str,
    builder: ModelBuilder,
    base: str,
    service: Any,
    port: Any,
    binding: Any,
    op: Any,
    safe: frozenset[str],
    encoded: bool,
) -> Operation[SoapTarget]:
    has_header = _has_header(op.input)
    body = f"{base}_RequestBody" if has_header else f"{base}_Request"
    body_in = _body_model(builder, body, op.input, output=False, encoded=encoded)
    body_out = _body_model(builder, f"{base}_Response", op.output, output=True, encoded=encoded)
    if has_header:
        header_model = builder.message_model(f"{base}_RequestHeader", op.input.header, output=False)
        body_in = create_model(
            builder.unique_name(f"{base}_Request"),
            __base__=body_in,
            soap_header=(
                cast(Any, header_model | None),
                Field(default=None, alias=HEADER_FIELD, description="SOAP header parts."),
            ),
        )
    documentation = getattr(op.abstract, "documentation", None) if op.abstract else None
    return Operation(
        system=system,
        name=op.name,
        route=(service.name, port.name, op.name),
        input_model=body_in,
        output_model=body_out,
        summary=f"{op.name} ({port.name}, SOAP {_soap_version(binding)}, {op.style})",
        description=documentation,
        safe=op.name in safe,
        tags=(system,),
        target=SoapTarget(
            service=service.name,
            port=port.name,
            operation=op.name,
            address=port.binding_options.get("address"),
            soap_version=_soap_version(binding),
            style=op.style or "document",
            binding=binding,
            has_header=has_header,
            simple_body=_simple_body(op.input),
            simple_reply=_simple_body(op.output),
            encoded=encoded,
        ),
    )


def _body_model(
    builder: ModelBuilder, name: str, message: Any, *, output: bool, encoded: bool
) -> type[BaseModel]:
    element = getattr(message, "body", None) if message is not None else None
    xs_element = builder.xs_element_for(element)
    return builder.message_model(
        name, element, output=output, xs_element=xs_element, encoded=encoded
    )


def _has_header(message: Any) -> bool:
    header = getattr(message, "header", None)
    if header is None:
        return False
    return bool(getattr(header.type, "elements", None))


def _simple_body(message: Any) -> str | None:
    """The element name when the body is one element of simple type (bare style)."""
    element = getattr(message, "body", None) if message is not None else None
    if element is None or isinstance(element.type, ComplexType):
        return None
    return str(element.name)
