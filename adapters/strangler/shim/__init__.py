"""The SOAP shim: old clients keep calling the original WSDL; the gateway answers them.

Each service of the spec's ``shim:`` section is a legacy SOAP system served at
its legacy path: its WSDL and schemas (``?wsdl``, ``?xsd=N``, ``?singleWsdl``)
with ``soap:address`` pointing at the shim, and ``POST`` for SOAP 1.1 and 1.2
envelopes. Each operation is answered by the gateway route the spec names for
it (in-process, so canary splits, shadow calls and metrics apply) or by the
legacy operation itself; answers are put back into the legacy shape and
serialised with zeep into envelopes that validate against the WSDL.
"""
