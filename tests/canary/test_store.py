"""The rollout table on PostgreSQL: one lease holder at a time, and a change decided on a
row that has moved on is refused, however many try at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from strangler.canary.store import RolloutStore
from tests.canary.conftest import wait_for


def _change(store: RolloutStore, row: Any, actor: str) -> Any:
    return store.change(
        row, step=row.step + 1, status="running", action="promote", from_state="a",
        to_state="b", reason="passed", actor=actor, figures={"samples": 1}, new_step=True,
    )  # fmt: skip


def test_one_holder_and_one_change_per_version(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        store = RolloutStore(engine)
        store.create()
        first = store.ensure("r", "shadow", "a", "begins")
        assert store.ensure("r", "shadow", "b", "begins") == first  # written once
        assert store.lease("r", "a", 0.5) and store.lease("r", "a", 0.5)  # taken, renewed
        assert not store.lease("r", "b", 0.5)
        wait_for(lambda: store.lease("r", "b", 30), "lease after expiry", 10)
        assert not store.lease("r", "a", 30)
        store.release("r", "a")  # not a's to give up
        assert store.get("r").holder == "b"
        store.release("r", "b")
        assert store.get("r").holder is None

        with ThreadPoolExecutor(8) as pool:  # eight deciders on the same version
            results = list(pool.map(lambda n: _change(store, first, f"c{n}"), range(8)))
        done = [r for r in results if r is not None]
        assert len(done) == 1 and done[0].step == 1 and done[0].version == first.version + 1
        assert _change(store, first, "late") is None
        rows = store.audit("r")
        assert [r["action"] for r in rows] == ["promote", "start"]  # newest first
        assert rows[0]["actor"] in {f"c{n}" for n in range(8)} and rows[1]["actor"] == "a"
        assert rows[0]["figures"] == {"samples": 1}
    finally:
        engine.dispose()
