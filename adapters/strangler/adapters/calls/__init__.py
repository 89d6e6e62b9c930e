"""The one call policy shared by every HTTP-based legacy adapter (SOAP, XML-RPC, JSON-RPC).

* :mod:`.policy`: :class:`LegacyCaller`, the session, breakers and retries of one system;
* :mod:`.breakers`: circuit breakers by key, refusing calls at no lasting cost;
* :mod:`.wire`: one POST, its size cap, and transport errors translated.
"""

from strangler.adapters.calls.breakers import Breakers
from strangler.adapters.calls.policy import LegacyCaller, basic_auth_header
from strangler.adapters.calls.wire import Reply, Usable

__all__ = ["Breakers", "LegacyCaller", "Reply", "Usable", "basic_auth_header"]
