"""Whole rollouts over real HTTP: a healthy modern side promoted step by step, a failing or
slow one rolled back, one that disagrees in shadow never served, too few samples never
passing, and the fairness gate holding a step."""

from __future__ import annotations

import httpx
import pytest

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


def test_a_healthy_modern_side_is_promoted_step_by_step(
    estate: Estate, route: str, serve: Serve
) -> None:
    spec = rollout_spec(estate, route, steps="[shadow, 0.25, 0.5, 1.0]")
    with serve(spec) as url:
        first = status(url, route)
        assert (first["status"], first["step"], first["mode"]) == ("running", 0, "shadow")
        with traffic(url) as seen:
            done = wait_for(
                lambda: (s := status(url, route))["status"] == "promoted" and s, "promotion"
            )
            sent = seen.sent
            wait_for(lambda: seen.sent > sent + 20, "answers after the promotion")
        assert (done["mode"], done["weight"], done["step"]) == ("modern", 1.0, 3)
        rows = audit(url, route)
        assert [(r["action"], r["from"], r["to"]) for r in rows] == [
            ("start", "", "shadow"),
            ("promote", "shadow", "25%"),
            ("promote", "25%", "50%"),
            ("promote", "50%", "100%"),
            ("promote", "100%", "promoted"),
        ]
        for row in rows[1:]:  # each promotion rests on a passed analysis with enough samples
            assert row["figures"]["verdict"] == "pass"
            assert row["figures"]["samples"] >= 20
            assert row["actor"] == first["holder"]
        assert rows[1]["figures"]["disagreement_rate"] == 0.0  # shadow: compared, all agreed
        steps = [a["step"] for a in analyses(url, route)]
        assert steps == sorted(steps) and set(steps) == {0, 1, 2, 3}
        assert seen.sides.get("modern", 0) > 0 and set(seen.statuses) == {200}
        assert metric(url, "strangler_canary_promotions_total", route=route) == 4
        assert metric(url, "strangler_canary_weight", route=route) == 1.0
        assert metric(url, "strangler_canary_step", route=route) == 3


def _rolled_back_mid_rollout(
    estate: Estate, route: str, serve: Serve, fault: tuple[str, float], thresholds: str
) -> tuple[dict[str, object], list[dict[str, object]]]:
    """Run a rollout until its first canary step, switch the modern side's ``fault`` on
    (a field of :class:`Faults` and its value), wait for the rollback; the last status and
    the audit rows."""
    threads = 8
    spec = rollout_spec(
        estate, route, steps="[shadow, 0.5, 1.0]", rollout=f"thresholds: {thresholds}"
    )
    spec = spec.replace("bake_s: 0.3", "bake_s: 3")  # time to break it on the canary step
    with serve(spec) as url, traffic(url, threads=threads) as seen:
        wait_for(lambda: status(url, route)["step"] >= 1, "canary step")
        setattr(estate.modern_faults, *fault)
        final = wait_for(
            lambda: (s := status(url, route))["status"] == "rolled_back" and s, "rollback", 60
        )
        before = seen.sides.get("modern", 0)
        sent = seen.sent
        wait_for(lambda: seen.sent > sent + 40, "answers after the rollback")
        after_rollback = seen.sides.get("modern", 0) - before
        rows = audit(url, route)
        assert metric(url, "strangler_canary_rollbacks_total", route=route) == 1
    assert after_rollback <= threads  # at most one under way per sender as the state changed
    assert (final["mode"], final["weight"]) == ("legacy", 0.0)
    return final, rows


def test_a_modern_side_that_starts_failing_is_rolled_back(
    estate: Estate, route: str, serve: Serve
) -> None:
    _, rows = _rolled_back_mid_rollout(
        estate, route, serve, ("errors", 1.0), "{error_rate: 0.05, p99_ms: 10000}"
    )
    last = rows[-1]
    assert (last["action"], last["to"]) == ("rollback", "legacy")
    assert last["from"] in ("50%", "100%")  # a canary step, never after the whole promotion
    assert "error rate" in str(last["reason"])
    figures = last["figures"]
    assert isinstance(figures, dict) and figures["verdict"] == "fail"
    assert figures["error_rate"] > 0.05
    assert figures["samples"] >= 20
    assert [r["action"] for r in rows].count("rollback") == 1


def test_a_modern_side_that_turns_slow_is_rolled_back(
    estate: Estate, route: str, serve: Serve
) -> None:
    _, rows = _rolled_back_mid_rollout(
        estate, route, serve, ("delay_s", 2.0), "{error_rate: 0.05, p99_ms: 1000}"
    )
    last = rows[-1]
    assert (last["action"], last["to"]) == ("rollback", "legacy")
    assert last["from"] in ("50%", "100%")
    assert "p99" in str(last["reason"])
    figures = last["figures"]
    assert isinstance(figures, dict) and figures["p99_ms"] > 1000


@pytest.mark.parametrize(
    ("fault", "share", "crossed"),
    [("disagree", 0.2, "disagreement rate"), ("errors", 1.0, "error rate")],
)
def test_a_modern_side_that_disagrees_or_fails_in_shadow_never_gets_traffic(
    estate: Estate, route: str, serve: Serve, fault: str, share: float, crossed: str
) -> None:
    setattr(estate.modern_faults, fault, share)
    spec = rollout_spec(
        estate,
        route,
        rollout="thresholds: {error_rate: 0.05, disagreement_rate: 0.05, p99_ms: 10000}",
    )
    with serve(spec) as url, traffic(url) as seen:
        final = wait_for(
            lambda: (s := status(url, route))["status"] == "rolled_back" and s, "rollback"
        )
        sent = seen.sent
        wait_for(lambda: seen.sent > sent + 20, "answers after the rollback")
        rows = audit(url, route)
    assert seen.sides == {"legacy": seen.sent}  # the modern side never answered anyone
    assert final["step"] == 0 and final["mode"] == "legacy"
    assert [(r["action"], r["from"], r["to"]) for r in rows] == [
        ("start", "", "shadow"),
        ("rollback", "shadow", "legacy"),
    ]
    assert crossed in rows[-1]["reason"]
    figures = rows[-1]["figures"]
    assert figures[crossed.replace(" ", "_")] > 0.05 and figures["samples"] >= 20


def test_a_canary_that_disagrees_is_rolled_back_when_legacy_can_be_asked_again(
    estate: Estate, route: str, serve: Serve
) -> None:
    spec = rollout_spec(
        estate,
        route,
        steps="[0.5, 1.0]",
        legacy_safe=True,
        rollout="thresholds: {error_rate: 0.05, disagreement_rate: 0.05, p99_ms: 10000}",
    )
    estate.modern_faults.disagree = 0.3
    with serve(spec) as url, traffic(url) as seen:
        final = wait_for(
            lambda: (s := status(url, route))["status"] == "rolled_back" and s, "rollback"
        )
        rows = audit(url, route)
    assert seen.sides.get("modern", 0) > 0  # the canary served some before it was judged
    assert final["mode"] == "legacy"
    assert [(r["action"], r["from"], r["to"]) for r in rows] == [
        ("start", "", "50%"),
        ("rollback", "50%", "legacy"),
    ]
    assert "disagreement rate" in rows[-1]["reason"]


def test_too_few_samples_never_pass(estate: Estate, route: str, serve: Serve) -> None:
    spec = rollout_spec(estate, route, steps="[1.0]")  # every answer is a modern one
    with serve(spec) as url, httpx.Client(base_url=url, timeout=30) as client:

        def ask(count: int) -> None:
            for n in range(count):
                response = client.post("/api/advice", json={"customer": f"C{n}"})
                assert response.headers["x-strangler-side"] == "modern"

        ask(19)  # one fewer than min_samples
        counted = wait_for(
            lambda: [a for a in analyses(url, route) if a["samples"] == 19], "analysis of 19"
        )
        wait_for(lambda: len(analyses(url, route)) >= len(counted) + 10, "ten more analyses")
        held = status(url, route)
        seen = analyses(url, route)
        assert (held["status"], held["step"]) == ("running", 0)
        assert {a["verdict"] for a in seen} == {"wait"}
        assert "19 of 20 modern answers" in seen[-1]["reasons"]
        ask(1)
        done = wait_for(
            lambda: (s := status(url, route))["status"] == "promoted" and s, "promotion"
        )
    assert done["last"]["samples"] == 20 and done["last"]["verdict"] == "pass"
