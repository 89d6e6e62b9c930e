"""The gateway: public routes split between a legacy and a modern side.

The route table (:mod:`strangler.gateway.table`) reads the ``routes:`` section;
the live mode and weight of each route sit in a state database
(:mod:`strangler.gateway.state`) that every replica reads; the request path
(:mod:`strangler.gateway.routing`) decides the side per request and maps the
answer so that clients see one contract.
"""
