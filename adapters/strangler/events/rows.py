"""A table row as an event sees it: its entity key and the hash of its version.

Both come from the row *as answered* (modern names and types, the same dict the
REST side returns), so a change recorded by the outbox and the same row version
read again by polling capture have the same key and hash, and give one event.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import orjson

from strangler.adapters.db.meta import TableInfo
from strangler.adapters.db.rows import key_text

__all__ = ["data_hash", "entity_key"]


_QUOTED = re.compile(r'[,"\r\n]')
"""Characters that make :func:`key_text` quote a key value."""


def entity_key(table: TableInfo, data: Mapping[str, Any]) -> str:
    """The row's key as in its REST path (``101880``, ``"A,1",2``): subject and message key."""
    if len(table.key) == 1:  # the common keys, as key_text writes them, without its loop
        value = data.get(table.key[0])
        if type(value) is int:
            return str(value)
        if type(value) is str and value and _QUOTED.search(value) is None:
            return value
    return key_text([data.get(name) for name in table.key])


def data_hash(data: Mapping[str, Any]) -> str:
    """A stable hash of the answered row (key order does not matter)."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
