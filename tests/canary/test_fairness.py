"""The fairness gate over real traffic: a step is held while one segment's error or
disagreement rate is more than ``max_ratio`` of another's, and goes on once they are even."""

from __future__ import annotations

from tests.canary.conftest import Estate, Serve, analyses, rollout_spec, status, traffic, wait_for

FAIRNESS = """thresholds: {error_rate: 0.5, disagreement_rate: 0.5, p99_ms: 10000}
        fairness: {segment: {body: /segment}, max_ratio: 1.5, min_samples: 5}"""


def _spec(estate: Estate, route: str, steps: str) -> str:
    """The rollout with the gate, looking at the last three seconds only."""
    spec = rollout_spec(estate, route, steps=steps, rollout=FAIRNESS)
    return spec.replace("window_s: 5", "window_s: 3")


def _held(url: str, route: str, what: str) -> list[dict[str, object]]:
    """Wait for five analyses in a row holding the step on ``what``; all analyses so far."""

    def held() -> list[dict[str, object]] | None:
        found = analyses(url, route)
        tail = found[-5:]
        if len(tail) == 5 and all(
            a["verdict"] == "wait" and any(what in r for r in a["reasons"]) for a in tail
        ):
            return found
        return None

    try:
        result: list[dict[str, object]] = wait_for(held, f"step held on {what}")
    except AssertionError as exc:
        last = [(a["verdict"], a["reasons"], a["segments"]) for a in analyses(url, route)[-3:]]
        raise AssertionError(f"{exc}; the last analyses: {last}; {status(url, route)}") from None
    return result


def test_the_gate_holds_a_step_while_one_segment_fails_more(
    estate: Estate, route: str, serve: Serve
) -> None:
    estate.modern_faults.errors, estate.modern_faults.segments = 0.2, {"trade"}
    spec = _spec(estate, route, "[1.0]")
    with serve(spec) as url, traffic(url):
        found = _held(url, route, "fairness: error rate of segment 'trade'")
        held = status(url, route)
        assert (held["status"], held["step"]) == ("running", 0)  # held, not rolled back
        last = found[-1]
        segments = last["segments"]
        assert isinstance(segments, dict) and set(segments) == {"retail", "trade"}
        assert segments["retail"]["error_rate"] == 0.0
        assert segments["trade"]["error_rate"] > 0.1
        assert all(a["verdict"] != "pass" for a in found)
        estate.modern_faults.reset()  # the segments even out: the window moves past the errors
        done = wait_for(
            lambda: (s := status(url, route))["status"] == "promoted" and s, "promotion"
        )
    assert done["last"]["verdict"] == "pass"


def test_the_gate_holds_the_shadow_step_while_one_segment_disagrees_more(
    estate: Estate, route: str, serve: Serve
) -> None:
    estate.modern_faults.disagree, estate.modern_faults.segments = 0.3, {"retail"}
    spec = _spec(estate, route, "[shadow, 1.0]")
    with serve(spec) as url, traffic(url) as seen:
        _held(url, route, "fairness: disagreement rate of segment 'retail'")
        held = status(url, route)
        assert (held["status"], held["step"], held["mode"]) == ("running", 0, "shadow")
    assert seen.sides == {"legacy": seen.sent}
