"""The RPC adapters: XML-RPC (introspected or declared) and JSON-RPC 2.0 (declared).

Each remote method becomes ``POST /{kind}/{system}/{method}`` with a typed JSON
body and a ``{"result": ...}`` answer; JSON-RPC adds notifications (202) and
``POST /jsonrpc/{system}/_batch``. Calls go over a pooled aiohttp session
through a circuit breaker; methods the spec marks ``safe`` are retried.
"""

from strangler.adapters.rpc.jsonrpc import JsonRpcAdapter
from strangler.adapters.rpc.xmlrpc import XmlRpcAdapter

__all__ = ["JsonRpcAdapter", "XmlRpcAdapter"]
