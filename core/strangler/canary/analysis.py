"""One analysis of a rollout's current step: pass, fail or wait, and why.

:func:`analyse` is a pure function of the rollout spec, the step, how long
the route has been on it and one :class:`~strangler.canary.model.Measurement`
of the modern side. The rule, in order:

1. **fail** when a threshold is crossed: the error rate or the p99 latency
   of the modern answers, or the disagreement rate of the comparisons. This
   holds before the bake time, and before the sample minimum when the
   evidence is clear already: with at least ``min(min_samples, 20)`` answers
   (comparisons), a rate fails when even the lower end of its 95 % Wilson
   interval is over the threshold (all 20 failing, say, but not 1 of 20);
   from ``min_samples`` on, when the rate itself is. The p99 is judged from
   ``min(min_samples, 100)`` answers (below 100 it is the slowest one). A
   modern side that fails is rolled back at once, not after the bake.
2. **wait** while the step has fewer than ``min_samples`` samples (modern
   answers on a canary step, comparisons on the shadow step): an analysis
   with too few samples never passes.
3. **wait** while the route has been on the step less than ``bake_s``.
4. **wait** while the fairness gate does not hold: per segment with at least
   ``fairness.min_samples``, ``max(rate) / max(min(rate), floor)`` (each rate
   at least ``floor``) must stay within ``max_ratio``, for the error rate and
   for the disagreement rate. An unfair step is held, not rolled back.
5. **pass** otherwise.

On the shadow step the modern answers are those the shadow runner asked for,
so a modern side that fails or is slow in shadow never gets traffic either.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from strangler.canary.model import Measurement, SegmentCounts
from strangler.spec.gateway import FairnessSpec, RolloutSpec, Step

__all__ = [
    "FAIL_FLOOR",
    "P99_FLOOR",
    "Analysis",
    "Verdict",
    "analyse",
    "fairness_reasons",
    "step_label",
    "step_weight",
    "wilson_low",
]

Verdict = Literal["pass", "fail", "wait"]
FAIL_FLOOR = 20
"""Before ``min_samples``, a rate is judged from this many samples (or ``min_samples``)."""
P99_FLOOR = 100
"""Before ``min_samples``, the p99 is judged from this many answers (or ``min_samples``)."""
Z95 = 1.959964
"""The normal quantile of a two-sided 95 % interval."""


@dataclass(frozen=True)
class Analysis:
    """The verdict on one step over one window, with the figures it rests on."""

    at: dt.datetime
    step: int
    weight: float
    samples: int
    error_rate: float | None
    p99_ms: float | None
    disagreement_rate: float | None
    verdict: Verdict
    reasons: tuple[str, ...] = ()
    segments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "step": self.step,
            "weight": self.weight,
            "samples": self.samples,
            "error_rate": self.error_rate,
            "p99_ms": self.p99_ms,
            "disagreement_rate": self.disagreement_rate,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "segments": {name: dict(figures) for name, figures in self.segments.items()},
        }


def step_weight(step: Step) -> float:
    """The modern share a step sends (none on the shadow step)."""
    return 0.0 if step == "shadow" else float(step)


def step_label(step: Step) -> str:
    """``shadow``, or the modern share as a percentage (``5%``)."""
    return "shadow" if step == "shadow" else f"{float(step) * 100:g}%"


def analyse(
    rollout: RolloutSpec,
    step: int,
    measured: Measurement,
    on_step_s: float,
    at: dt.datetime | None = None,
) -> Analysis:
    """The verdict on ``step`` after ``on_step_s`` seconds on it (see the module)."""
    current = rollout.steps[step]
    shadow = current == "shadow"
    limits = rollout.thresholds
    samples = measured.samples(shadow)
    p99_ms = measured.p99_s * 1000 if measured.p99_s is not None else None
    crossed: list[str] = []
    error_rate = measured.error_rate
    if _over(measured.errors, measured.requests, limits.error_rate, rollout.min_samples):
        crossed.append(
            f"error rate {error_rate:.2%} over {limits.error_rate:.2%} "
            f"({measured.errors} of {measured.requests})"
        )
    judged = min(rollout.min_samples, P99_FLOOR)
    if p99_ms is not None and measured.requests >= judged and p99_ms > limits.p99_ms:
        crossed.append(f"p99 {p99_ms:.0f} ms over {limits.p99_ms:g} ms")
    disagreement = measured.disagreement_rate
    limit = limits.disagreement_rate
    if _over(measured.disagreements, measured.compared, limit, rollout.min_samples):
        crossed.append(
            f"disagreement rate {disagreement:.2%} over {limit:.2%} "
            f"({measured.disagreements} of {measured.compared})"
        )
    reasons: list[str] = []
    verdict: Verdict
    if crossed:
        verdict, reasons = "fail", crossed
    elif samples < rollout.min_samples:
        what = "comparisons" if shadow else "modern answers"
        verdict, reasons = "wait", [f"{samples} of {rollout.min_samples} {what}"]
    elif on_step_s < rollout.bake_s:
        verdict, reasons = "wait", [f"baking: {on_step_s:.0f} of {rollout.bake_s:g} s"]
    else:
        unfair = fairness_reasons(rollout.fairness, measured.segments)
        verdict, reasons = ("wait", unfair) if unfair else ("pass", [])
    return Analysis(
        at=at or dt.datetime.now(dt.UTC),
        step=step,
        weight=step_weight(current),
        samples=samples,
        error_rate=error_rate,
        p99_ms=p99_ms,
        disagreement_rate=disagreement,
        verdict=verdict,
        reasons=tuple(reasons),
        segments={name: _figures(counts) for name, counts in measured.segments.items()},
    )


def wilson_low(hits: int, total: int, z: float = Z95) -> float:
    """The lower end of the Wilson score interval of ``hits / total``."""
    if total == 0:
        return 0.0
    p = hits / total
    z2 = z * z
    centre = p + z2 / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return max(0.0, (centre - spread) / (1 + z2 / total))


def _over(hits: int, total: int, threshold: float, min_samples: int) -> bool:
    """Whether ``hits / total`` is over ``threshold`` clearly enough to fail now."""
    if total >= min_samples:
        return hits / total > threshold
    if total >= min(min_samples, FAIL_FLOOR):
        return wilson_low(hits, total) > threshold
    return False


def fairness_reasons(
    fairness: FairnessSpec | None, segments: Mapping[str, SegmentCounts]
) -> list[str]:
    """Why the segments' rates are not within ``max_ratio`` of each other (empty: they are)."""
    if fairness is None:
        return []
    reasons = []
    for what, hits, totals in (
        ("error rate", {n: c.errors for n, c in segments.items()},
         {n: c.requests for n, c in segments.items()}),
        ("disagreement rate", {n: c.disagreements for n, c in segments.items()},
         {n: c.compared for n, c in segments.items()}),
    ):  # fmt: skip
        rates = {
            name: hits[name] / total
            for name, total in totals.items()
            if total >= fairness.min_samples
        }
        if len(rates) < 2:
            continue
        high = max(rates, key=lambda n: rates[n])
        low = min(rates, key=lambda n: rates[n])
        ratio = max(rates[high], fairness.floor) / max(rates[low], fairness.floor)
        if ratio > fairness.max_ratio:
            reasons.append(
                f"fairness: {what} of segment {high!r} ({rates[high]:.2%}) is {ratio:.1f}x "
                f"that of {low!r} ({rates[low]:.2%}), over {fairness.max_ratio:g}x"
            )
    return reasons


def _figures(counts: SegmentCounts) -> dict[str, Any]:
    return {
        "requests": counts.requests,
        "errors": counts.errors,
        "compared": counts.compared,
        "disagreements": counts.disagreements,
        "error_rate": counts.errors / counts.requests if counts.requests else None,
        "disagreement_rate": (counts.disagreements / counts.compared if counts.compared else None),
    }
