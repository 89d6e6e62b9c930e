"""The SOAP adapter: any WSDL 1.1 service as JSON operations with typed models."""

from strangler.adapters.soap.adapter import SoapAdapter

__all__ = ["SoapAdapter"]
