"""Small but real SOAP servers for WSDLs of the corpus (tests/data/wsdl).

Each module implements the operations of one corpus WSDL by hand, the way a
legacy system would: the request envelope is parsed with lxml, the answer is
built element by element following the WSDL, faults are real SOAP faults. No
zeep on this side, so a round trip checks the adapter against an independent
reading of the WSDL. :mod:`.plumbing` has the HTTP and envelope machinery.
"""
