"""The outbox on SQLite and PostgreSQL state databases: the relay's pending read, marking
events sent, queueing one again, and the retention's purge."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from strangler.events.store import OutboxRow, StateStore, now
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
        store.mark_sent(connection, "a'b", [r.seq for r in first])
    rest = store.pending("a'b", 100)
    assert [r.event_id for r in rest] == [f"a'b-{n}" for n in range(3, 9)]
    assert min(r.seq for r in rest) > max(r.seq for r in first)
    assert [r.event_id for r in store.pending("other", 2)] == ["other-0", "other-1"]
    assert store.pending("none", 10) == []


def _ids(rows: list[OutboxRow]) -> list[str]:
    return [r.event_id for r in rows]


def test_marked_events_stay_sent_and_a_requeued_one_is_sent_again(store: StateStore) -> None:
    _append(store, "a", 6)
    _append(store, "other", 2)
    first = store.pending("a", 4)
    with store.transaction() as connection:
        store.mark_sent(connection, "a", [r.seq for r in first[:2]])
    with store.transaction() as connection:
        store.mark_sent(connection, "a", [r.seq for r in first[2:]])
    assert _ids(store.pending("a", 100)) == ["a-4", "a-5"]
    assert store.pending_count("a") == 2
    assert store.pending_count("other") == 2
    with store.transaction() as connection:
        assert store.requeue(connection, "a-1")
        assert not store.requeue(connection, "gone")
    assert sorted(_ids(store.pending("a", 100))) == ["a-1", "a-4", "a-5"]
    assert store.pending_count("a") == 3
    with store.transaction() as connection:
        store.mark_sent(connection, "a", [r.seq for r in store.pending("a", 100)])
    assert store.pending("a", 100) == []
    assert store.pending_count("a") == 0
    assert _ids(store.pending("other", 100)) == ["other-0", "other-1"]
    assert len(store.read("a", 0, 100)) == 6  # the REST read: sent or not


def test_purge_removes_published_events_only(store: StateStore) -> None:
    _append(store, "a", 5)
    _append(store, "other", 3)
    first = store.pending("a", 3)
    with store.transaction() as connection:
        store.mark_sent(connection, "a", [r.seq for r in first])
    with store.transaction() as connection:
        store.mark_sent(connection, "a", [r.seq for r in store.pending("a", 100)])
    assert store.purge("a", now() - timedelta(hours=1)) == 0  # published just now
    later = now() + timedelta(hours=1)
    removed = store.purge("a", later)
    removed += store.purge("a", later)  # SQLite: the checkpoint set by the first purge
    assert removed == 5
    assert store.read("a", 0, 100) == []
    assert _ids(store.pending("other", 100)) == ["other-0", "other-1", "other-2"]


def test_a_seq_is_never_given_again_after_a_purge(store: StateStore) -> None:
    _append(store, "a", 3)
    with store.transaction() as connection:
        store.mark_sent(connection, "a", [r.seq for r in store.pending("a", 100)])
    highest = max(r.seq for r in store.read("a", 0, 100))
    later = now() + timedelta(hours=1)
    store.purge("a", later)
    store.purge("a", later)
    kept = _ids(store.read("a", 0, 100))
    assert kept == (["a-2"] if store.ordered else [])  # SQLite keeps the highest seq
    _append(store, "a", 2, start=3)
    new = store.pending("a", 100)
    assert _ids(new) == ["a-3", "a-4"]
    assert min(r.seq for r in new) > highest
