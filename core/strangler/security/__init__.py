"""Security of the REST edge: the ``security:`` section of the spec at work.

* :mod:`.keys`: API keys made at random and stored hashed;
* :mod:`.jwks` and :mod:`.tokens`: bearer JWTs checked against a provider's keys;
* :mod:`.scopes`: the scope each operation needs, and what a granted scope covers;
* :mod:`.ratelimit`: token buckets, in-process or in Redis;
* :mod:`.audit`: the audit trail of writes and configuration changes;
* :mod:`.guard`: the component that puts them in front of every route.
"""
