"""Entity keys: the quick paths for one-column keys write what key_text writes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from strangler.adapters.db.rows import key_text
from strangler.events.rows import entity_key

VALUES: list[Any] = [
    0, 101880, -3, True, 2.5, "A", "SKU-00001", "x y", "", "a,b", 'say "hi"', "a\nb", "a\rb",
    "ü", None,
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_one_column_keys_are_written_as_key_text_writes_them(value: Any) -> None:
    table: Any = SimpleNamespace(key=("id",))
    assert entity_key(table, {"id": value, "other": 1}) == key_text([value])


def test_composite_keys_are_key_text() -> None:
    table: Any = SimpleNamespace(key=("a", "b"))
    assert entity_key(table, {"a": "A,1", "b": 2}) == key_text(["A,1", 2]) == '"A,1",2'
