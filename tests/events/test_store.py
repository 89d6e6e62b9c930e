"""The outbox's pending read (the relay's batch) on SQLite and PostgreSQL state databases."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from strangler.events.store import StateStore
from tests.servers import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    sqlite = contextlib.nullcontext(f"sqlite:///{tmp_path / 'state.sqlite'}")
    with postgres_database("strangler_store") if request.param == "postgresql" else sqlite as url:
        made = StateStore(url)
        made.create()
        try:
            yield made
        finally:
            made.dispose()


def _append(store: StateStore, stream: str, count: int, start: int = 0) -> None:
    rows = [
        {
            "stream": stream,
            "event_id": f"{stream}-{n}",
            "topic": f"t.{stream}",
            "msg_key": f"k'{n}",
            "event": f'{{"n": {n}, "s": "ü"}}',
        }
        for n in range(start, start + count)
    ]
    with store.transaction() as connection:
        store.append(connection, rows)


def test_pending_is_the_streams_unsent_events_in_order(store: StateStore) -> None:
    _append(store, "a'b", 5)
    _append(store, "other", 3)
    _append(store, "a'b", 4, start=5)
    first = store.pending("a'b", 3)
    assert [r.event_id for r in first] == ["a'b-0", "a'b-1", "a'b-2"]
    assert [(r.stream, r.topic, r.msg_key, r.event) for r in first[:1]] == [
        ("a'b", "t.a'b", "k'0", '{"n": 0, "s": "ü"}')
    ]
    assert [r.seq for r in first] == sorted(r.seq for r in first)
    with store.transaction() as connection:
        store.mark_sent(connection, [r.seq for r in first])
    rest = store.pending("a'b", 100)
    assert [r.event_id for r in rest] == [f"a'b-{n}" for n in range(3, 9)]
    assert min(r.seq for r in rest) > max(r.seq for r in first)
    assert [r.event_id for r in store.pending("other", 2)] == ["other-0", "other-1"]
    assert store.pending("none", 10) == []
