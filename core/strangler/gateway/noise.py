"""Which paths of an answer vary by themselves: learnt by asking the legacy side twice.

A legacy answer may carry a timestamp, a request id or a random choice: two
answers to the same request differ there, so the modern side differing there
says nothing. As Diffy does, a sample of shadowed requests asks the legacy side
a second time (only when its operation is safe, i.e. has no side effects) and
every path where the two legacy answers differ becomes *noise*: generalised over
list positions (``/items/3/ts`` → ``/items/*/ts``) and never counted as a
disagreement again on that route.

The first :data:`WARMUP` shadowed requests of a route are all sampled, so
noise is known before the first disagreements are kept; after that, the
spec's ``noise_sample`` share is. A share of 0 switches the estimate off.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable

from strangler.gateway.diff import Difference
from strangler.gateway.paths import PathPatterns, generalise

__all__ = ["WARMUP", "NoiseEstimate"]

WARMUP = 10
"""Shadowed requests of a route sampled before ``noise_sample`` takes over."""


class NoiseEstimate:
    """The noisy paths of one route, and when to sample again."""

    def __init__(
        self, sample: float, *, warmup: int = WARMUP, rng: random.Random | None = None
    ) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError(f"noise sample {sample} is not a share between 0 and 1")
        self.sample = sample
        self._warmup = warmup if sample > 0 else 0
        self._rng = rng or random.Random()
        self._patterns = PathPatterns()
        self._lock = threading.Lock()
        self.samples = 0

    def due(self) -> bool:
        """Whether this shadowed request should ask the legacy side twice."""
        if self.sample <= 0:
            return False
        with self._lock:
            if self._warmup > 0:
                self._warmup -= 1
                return True
        return self._rng.random() < self.sample

    def learn(self, differences: Iterable[Difference]) -> list[str]:
        """Take the differences between two legacy answers; the patterns that are new."""
        new: list[str] = []
        with self._lock:
            self.samples += 1
            for difference in differences:
                pattern = generalise(difference.path)
                if pattern != "/" and self._patterns.add(pattern):
                    new.append(pattern)
        return new

    def covers(self, path: str) -> bool:
        """Whether ``path`` is (under) a path known to vary between two legacy answers."""
        return bool(self._patterns) and self._patterns.matches(path)

    @property
    def paths(self) -> tuple[str, ...]:
        return self._patterns.patterns
