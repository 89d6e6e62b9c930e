"""The rollout lives in the database: a restarted controller resumes its step, and two
replicas sharing PostgreSQL agree on the step and act on each one once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from strangler.canary.store import RolloutStore
from tests.canary.conftest import (
    Estate,
    Serve,
    analyses,
    audit,
    metric,
    rollout_spec,
    status,
    traffic,
    wait_for,
)


def test_a_restarted_controller_resumes_its_step(
    estate: Estate, route: str, serve: Serve, tmp_path: Path
) -> None:
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    spec = rollout_spec(estate, route, steps="[shadow, 0.25, 0.5, 1.0]", state=state)
    with serve(spec, cache="first") as url, traffic(url):
        wait_for(lambda: status(url, route)["step"] >= 1, "a canary step")
    engine = sa.create_engine(state)
    try:
        before = RolloutStore(engine).get(route)  # as the stopped controller left it
    finally:
        engine.dispose()
    assert before.status == "running" and before.step >= 1 and before.holder is None
    with serve(spec, cache="second") as url:
        after = status(url, route)
        assert after["step"] >= before.step  # carried on, not started again
        if after["step"] == before.step:
            assert after["step_started_at"] == before.step_started_at.isoformat()
        with traffic(url):
            wait_for(lambda: status(url, route)["status"] == "promoted", "promotion")
        rows = audit(url, route)
    assert [(r["action"], r["to"]) for r in rows] == [
        ("start", "shadow"),
        ("promote", "25%"),
        ("promote", "50%"),
        ("promote", "100%"),
        ("promote", "promoted"),
    ]
    first = rows[1]["actor"]  # the first controller promoted up to the stored step...
    assert {r["actor"] for r in rows[1 : before.step + 1]} == {first}
    assert first not in {r["actor"] for r in rows[before.step + 1 :]}  # ...the second the rest


def test_two_replicas_sharing_postgresql_agree_and_act_once(
    estate: Estate, route: str, serve: Serve, postgres_url: str
) -> None:
    spec = rollout_spec(estate, route, steps="[shadow, 0.25, 0.5, 1.0]", state=postgres_url)
    with serve(spec, cache="one") as one, serve(spec, cache="two") as two:
        views = [status(one, route), status(two, route)]
        assert views[0]["version"] == views[1]["version"] == 1
        with traffic(one, two, threads=4) as seen:
            while (view := status(one, route))["status"] != "promoted":
                other = status(two, route)  # each step: both answer the same state
                assert other["step"] >= view["step"] - 1
                wait_for(lambda: status(two, route)["version"] >= view["version"], "agreement")
            sent = seen.sent
            wait_for(lambda: seen.sent > sent + 20, "answers after the promotion")
        wait_for(
            lambda: status(two, route)["mode"] == status(one, route)["mode"] == "modern", "modern"
        )
        rows = audit(one, route)
        assert rows == audit(two, route)
        promoted = metric(one, "strangler_canary_promotions_total", route=route)
        steps = {a["step"] for a in analyses(one, route)}
    assert [(r["action"], r["to"]) for r in rows] == [
        ("start", "shadow"),
        ("promote", "25%"),
        ("promote", "50%"),
        ("promote", "100%"),
        ("promote", "promoted"),
    ]
    assert promoted == 4  # the two apps share this process's counters: once each step
    assert steps == {0, 1, 2, 3}
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            replicas = conn.execute(
                sa.text(
                    "SELECT count(DISTINCT replica) FROM strangler_canary_samples WHERE route = :r"
                ),
                {"r": route},
            ).scalar()
            starts = conn.execute(
                sa.text(
                    "SELECT count(*) FROM strangler_canary_audit "
                    "WHERE route = :r AND action = 'start'"
                ),
                {"r": route},
            ).scalar()
    finally:
        engine.dispose()
    assert replicas == 2  # both replicas' traffic was measured
    assert starts == 1


def test_a_lease_left_by_a_replica_that_died_runs_out(
    estate: Estate, route: str, serve: Serve, tmp_path: Path
) -> None:
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    engine = sa.create_engine(state)
    try:
        store = RolloutStore(engine)
        store.create()
        store.ensure(route, "shadow", "gone:1:dead", "the rollout begins")
        assert store.lease(route, "gone:1:dead", 5.0)  # it died holding this
        until = store.get(route).lease_until
    finally:
        engine.dispose()
    assert until is not None
    spec = rollout_spec(estate, route, steps="[shadow, 1.0]", state=state)
    with serve(spec) as url, traffic(url):
        wait_for(lambda: status(url, route)["status"] == "promoted", "promotion")
        rows = audit(url, route)
        found = analyses(url, route)
    assert [r["action"] for r in rows] == ["start", "promote", "promote"]
    assert "gone:1:dead" not in {r["actor"] for r in rows[1:]}
    assert found and all(dt.datetime.fromisoformat(a["at"]) >= until for a in found)  # waited
