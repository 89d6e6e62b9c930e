"""The analysis rule as a table of cases, the fairness ratio, and the merged p99."""

from __future__ import annotations

import pytest

from strangler.canary.analysis import analyse, fairness_reasons, wilson_low
from strangler.canary.model import Measurement, SegmentCounts
from strangler.canary.samples import LATENCY_BOUNDS_S, Tally, quantile
from strangler.canary.source import measurement
from strangler.spec.gateway import FairnessSpec, RolloutSpec, SegmentSpec

ROLLOUT = RolloutSpec.model_validate(
    {
        "steps": ["shadow", 0.1, 1.0],
        "bake_s": 60,
        "min_samples": 100,
        "thresholds": {"error_rate": 0.01, "p99_ms": 250, "disagreement_rate": 0.02},
    }
)

CASES = [
    # step, measurement, seconds on the step, verdict, a reason's words
    (1, Measurement(requests=99, errors=0, p99_s=0.01), 600, "wait", "99 of 100 modern"),
    (1, Measurement(requests=100, errors=0, p99_s=0.01), 30, "wait", "baking"),
    (1, Measurement(requests=100, errors=1, p99_s=0.01), 60, "pass", ""),
    (1, Measurement(requests=100, errors=2, p99_s=0.01), 60, "fail", "error rate 2.00%"),
    # before min_samples: failed at once when clear (the Wilson interval's low end is over)
    (1, Measurement(requests=20, errors=5, p99_s=0.01), 1, "fail", "error rate 25.00%"),
    (1, Measurement(requests=20, errors=1, p99_s=0.01), 1, "wait", "20 of 100"),  # one error
    (1, Measurement(requests=19, errors=19, p99_s=0.01), 1, "wait", "19 of 100"),  # too few
    (1, Measurement(requests=99, errors=0, p99_s=0.3), 1, "wait", "99 of 100"),  # p99: 100
    (1, Measurement(requests=100, errors=0, p99_s=0.3), 1, "fail", "p99 300 ms"),
    (1, Measurement(requests=500, compared=30, disagreements=5), 90, "fail", "disagreement"),
    (1, Measurement(requests=500, compared=30, disagreements=1), 90, "pass", ""),
    (0, Measurement(compared=99, disagreements=0), 600, "wait", "99 of 100 comparisons"),
    (0, Measurement(requests=3, compared=100, disagreements=2), 60, "pass", ""),
    (0, Measurement(requests=25, errors=25, compared=100), 60, "fail", "error rate"),
]


@pytest.mark.parametrize(("step", "measured", "on_step_s", "verdict", "why"), CASES)
def test_the_rule(
    step: int, measured: Measurement, on_step_s: float, verdict: str, why: str
) -> None:
    result = analyse(ROLLOUT, step, measured, on_step_s)
    assert result.verdict == verdict, result.reasons
    assert why in " ".join(result.reasons)
    assert result.weight == (0.0 if step == 0 else ROLLOUT.steps[step])


def test_the_wilson_interval_low_end() -> None:
    assert wilson_low(0, 0) == 0.0
    assert wilson_low(20, 20) == pytest.approx(0.8389, abs=1e-4)
    assert wilson_low(1, 20) == pytest.approx(0.0089, abs=1e-4)
    assert wilson_low(50, 100) == pytest.approx(0.4038, abs=1e-4)


def test_fairness_compares_segments_with_enough_samples_above_a_floor() -> None:
    gate = FairnessSpec(segment=SegmentSpec(body="/s"), max_ratio=1.5, min_samples=50)
    even = {"a": SegmentCounts(100, 2), "b": SegmentCounts(100, 3), "c": SegmentCounts(49, 40)}
    assert fairness_reasons(gate, even) == []  # c has too few samples to count
    near_zero = {"a": SegmentCounts(100, 0), "b": SegmentCounts(100, 1)}
    assert fairness_reasons(gate, near_zero) == []  # 1% over the 1% floor: a ratio of 1
    uneven = {"a": SegmentCounts(100, 0, 100, 1), "b": SegmentCounts(100, 5, 100, 1)}
    (reason,) = fairness_reasons(gate, uneven)
    assert "error rate of segment 'b' (5.00%) is 5.0x that of 'a'" in reason
    lenient = ROLLOUT.thresholds.model_copy(update={"error_rate": 0.1})
    rollout = ROLLOUT.model_copy(update={"fairness": gate, "thresholds": lenient})
    held = analyse(rollout, 1, Measurement(200, 5, 0.01, segments=uneven), 600)
    assert held.verdict == "wait" and held.segments["b"]["error_rate"] == 0.05


def test_p99_from_merged_buckets_of_every_replica() -> None:
    fast, slow = Tally(), Tally()
    for _ in range(990):
        fast.observe(0.003, False)
    for _ in range(10):
        slow.observe(0.4, True)
    merged = measurement({"": fast, "x": slow})
    assert merged.requests == 1000 and merged.errors == 10
    assert merged.p99_s is not None and 0.002 < merged.p99_s <= 0.005
    assert quantile(0.999, [*fast.latency]) == pytest.approx(0.00499, abs=1e-4)
    assert quantile(0.5, [0] * (len(LATENCY_BOUNDS_S)) + [3]) == LATENCY_BOUNDS_S[-1]
    assert quantile(0.99, [0] * (len(LATENCY_BOUNDS_S) + 1)) is None
    assert set(merged.segments) == {"x"}  # the unnamed segment is the route's, not a segment
