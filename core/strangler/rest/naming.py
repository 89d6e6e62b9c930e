"""Short, stable operation ids and component names in the OpenAPI document.

Client generators name functions after ``operationId`` and classes after the
component's key, so both are kept short: the long form only where a short one
would clash.

Operation ids. A route offers its candidates, shortest first, in the extension
:data:`CANDIDATES` (see :func:`operation_ids`); the document keeps the first
candidate that no other route also wants at the same or an earlier rank. For
an operation at ``route`` below its system's prefix these are (see
:func:`route_candidates`)::

    /soap/inventory/GetStock                              getStock
    /soap/inventory/InventoryService/InventorySoap12/GetStock
        getStockInventorySoap12, getStockInventoryServiceInventorySoap12, ...
    /xmlrpc/pricing/pricing.list_price                    listPrice, pricingListPrice, ...

so a name is qualified by its port, then its service, then its system, only as
far as needed. Routes without candidates keep their ``operationId`` and win.

Component names. A model named ``system.Local`` (see
:func:`strangler.platform.naming.model_name`; the name is the schema's
``title``, whatever key the schema generator chose) is served as ``Local``
unless another system has a ``Local`` too, then as ``SystemLocal``. Schemas
of models without a system (``Problem``) keep their key, and win.

Both depend only on the set of routes and models, never on their order, so the
same spec gives the same names.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

from strangler.platform.naming import camel, pascal, split_model_name, strip_system

__all__ = ["CANDIDATES", "name_document", "operation_ids", "resolve", "route_candidates"]

CANDIDATES = "x-strangler-operation-ids"
"""The extension in which a route offers its operation ids (removed from the document)."""

_REF = "#/components/schemas/"
_MODES = ("Input", "Output")
K = TypeVar("K", bound=Hashable)


def route_candidates(system: str, route: Sequence[str]) -> tuple[str, ...]:
    """Operation ids for the operation at ``route`` of ``system``, shortest first."""
    *scope, last = route
    short = strip_system(system, last)
    options = [camel(short)] if not scope else []
    options += [camel(short, *scope[len(scope) - i :]) for i in range(1, len(scope) + 1)]
    options += [camel(last, *scope), camel(system, last, *scope)]
    return tuple(dict.fromkeys(options))


def operation_ids(*candidates: str) -> dict[str, Any]:
    """The ``openapi_extra`` of a route offering ``candidates`` (shortest first)."""
    return {CANDIDATES: list(dict.fromkeys(candidates))}


def resolve(candidates: Mapping[K, Sequence[str]], fixed: Sequence[str] = ()) -> dict[K, str]:
    """A unique name per key: each key's first candidate that no other key wants at
    the same or an earlier rank. ``fixed`` names are taken before any candidate.
    A key whose candidates run out is numbered after its last (``name2``...), in
    the order of the keys' ``repr`` (so the result never depends on mapping order).
    """
    lists = {key: list(names) for key, names in candidates.items() if names}
    last = {key: names[-1] for key, names in lists.items()}
    rank = dict.fromkeys(lists, 0)
    taken = set(fixed)
    while True:
        wanted: dict[str, list[K]] = defaultdict(list)
        for key, names in lists.items():
            wanted[names[rank[key]]].append(key)
        losers: list[K] = []
        for name, keys in wanted.items():
            if name in taken:
                losers += keys
                continue
            first = min(rank[key] for key in keys)
            ahead = [key for key in keys if rank[key] == first]
            losers += [key for key in keys if rank[key] > first]
            if len(ahead) > 1:
                exhausted = all(rank[key] + 1 == len(lists[key]) for key in ahead)
                losers += sorted(ahead, key=repr)[1:] if exhausted else ahead
        if not losers:
            return {key: names[rank[key]] for key, names in lists.items()}
        for key in losers:
            if rank[key] + 1 == len(lists[key]):
                number = len(lists[key]) - len(candidates[key]) + 2
                lists[key].append(f"{last[key]}{number}")
            rank[key] += 1


def name_document(document: dict[str, Any]) -> None:
    """Give ``document`` its operation ids and component names, in place."""
    _name_operations(document)
    _name_components(document)


def _name_operations(document: dict[str, Any]) -> None:
    offered: dict[tuple[str, str], list[str]] = {}
    fixed: list[str] = []
    operations: dict[tuple[str, str], dict[str, Any]] = {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            operations[(path, method)] = operation
            names = operation.pop(CANDIDATES, None)
            if names:
                offered[(path, method)] = names
            elif "operationId" in operation:
                fixed.append(operation["operationId"])
    for key, name in resolve(offered, fixed).items():
        operations[key]["operationId"] = name


def _name_components(document: dict[str, Any]) -> None:
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    offered: dict[str, list[str]] = {}
    fixed: list[str] = []
    for key, schema in schemas.items():
        title = schema.get("title") if isinstance(schema, dict) else None
        system, local = split_model_name(title if isinstance(title, str) else key)
        if system is None:
            fixed.append(key)
            continue
        local = re.sub(r"[^A-Za-z0-9_]", "_", local)
        mode = key.rpartition("-")[2]
        if mode in _MODES:  # pydantic's separate input and output schemas of one model
            local += mode
        offered[key] = [local, pascal(system) + local]
    names = resolve(offered, fixed)
    if not names:
        return
    renamed = {}
    for key, schema in schemas.items():
        new = names.get(key, key)
        if key in names and isinstance(schema, dict) and "title" in schema:
            schema["title"] = new
        renamed[new] = schema
    document["components"]["schemas"] = renamed
    refs = {_REF + old: _REF + new for old, new in names.items()}
    _rewrite_refs(document, refs)


def _rewrite_refs(node: Any, refs: Mapping[str, str]) -> None:
    """Point every ``$ref`` (and discriminator mapping) at the renamed components."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                if key == "$ref" or value.startswith(_REF):
                    node[key] = refs.get(value, value)
            else:
                _rewrite_refs(value, refs)
    elif isinstance(node, list):
        for item in node:
            _rewrite_refs(item, refs)
