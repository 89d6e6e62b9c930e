"""Each side of a route alone: ``POST /_strangler/sides/{route}/legacy|modern``.

A data plane in front of strangler (nginx) carries the split and asks one side;
strangler answers from that side whatever the route's mode, names it in
``X-Strangler-Side``, counts it as the route's, records its samples for the
rollout's analysis, and in shadow mode still hands a legacy answer to the shadow
runner. Over real HTTP against the two real services of the canary tests.
"""

from __future__ import annotations

import httpx

from tests.canary.conftest import Estate, Serve, metric, rollout_spec, wait_for

HOLD = "auto: false"
"""The rollouts here stay on their first step: the tests read what is measured."""
LENIENT = "thresholds: {error_rate: 0.9, p99_ms: 10000}\n        auto: false"
"""...and are not rolled back by the errors a test causes on purpose."""


def sides(url: str, route: str, side: str, n: int, **body: str) -> list[httpx.Response]:
    with httpx.Client(base_url=url, timeout=30) as client:
        return [
            client.post(f"/_strangler/sides/{route}/{side}", json={"customer": f"C{i}", **body})
            for i in range(n)
        ]


def test_each_side_answers_alone_whatever_the_mode(
    estate: Estate, route: str, serve: Serve
) -> None:
    spec = rollout_spec(estate, route, steps="[0.5, 1.0]", rollout=HOLD)
    with serve(spec) as url:
        for side in ("legacy", "modern", "legacy"):
            answers = sides(url, route, side, 10)
            assert {a.status_code for a in answers} == {200}
            assert {a.headers["x-strangler-side"] for a in answers} == {side}
            assert answers[0].json()["customer"] == "C0"
        assert metric(url, "strangler_gateway_requests_total", route=route, side="legacy") == 20
        assert metric(url, "strangler_gateway_requests_total", route=route, side="modern") == 10
        # the route's own path still splits (canary at half)
        through = httpx.post(f"{url}/api/advice", json={"customer": "C1"}, timeout=30)
        assert through.headers["x-strangler-side"] in ("legacy", "modern")


def test_the_modern_sides_answers_are_the_rollouts_samples(
    estate: Estate, route: str, serve: Serve
) -> None:
    spec = rollout_spec(estate, route, steps="[0.5, 1.0]", rollout=LENIENT)
    with serve(spec) as url:
        estate.modern_faults.errors = 0.25
        answers = sides(url, route, "modern", 40)
        assert sorted(a.status_code for a in answers) == [200] * 30 + [503] * 10
        assert {a.headers["x-strangler-side"] for a in answers} == {"modern"}

        def measured() -> dict[str, object] | None:
            last = httpx.get(f"{url}/admin/canary/{route}", timeout=30).json()["last"]
            return last if last and last["samples"] >= 40 else None

        last = wait_for(measured, "an analysis of the 40 modern answers")
        assert last["samples"] == 40 and last["error_rate"] == 0.25


def test_a_legacy_answer_in_shadow_mode_is_still_compared(
    estate: Estate, route: str, serve: Serve
) -> None:
    spec = rollout_spec(estate, route, steps="[shadow, 1.0]", mode="shadow", rollout=HOLD)
    with serve(spec) as url:
        asked = estate.modern_faults.answered
        answers = sides(url, route, "legacy", 20)
        assert {a.headers["x-strangler-side"] for a in answers} == {"legacy"}
        wait_for(lambda: estate.modern_faults.answered >= asked + 20, "the shadow calls")
        wait_for(
            lambda: (
                metric(url, "strangler_gateway_shadow_calls_total", route=route, outcome="agreed")
                >= 20
            ),
            "20 agreeing comparisons",
        )
        # the modern side asked alone is no shadow call: nothing more is compared
        sides(url, route, "modern", 5)
        assert estate.modern_faults.answered == asked + 25


def test_unknown_routes_and_sides_are_not_found(estate: Estate, route: str, serve: Serve) -> None:
    with serve(rollout_spec(estate, route)) as url:
        for path in (f"/_strangler/sides/{route}/both", f"/_strangler/sides/{route}x/legacy"):
            answer = httpx.post(f"{url}{path}", json={}, timeout=30)
            assert answer.status_code == 404, path
            assert answer.headers["content-type"].startswith("application/problem+json")
        document = httpx.get(f"{url}/openapi.json", timeout=30).json()
        for side in ("legacy", "modern"):
            assert "post" in document["paths"][f"/_strangler/sides/{route}/{side}"]
