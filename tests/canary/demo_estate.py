"""The demo estate with its rollout on a short schedule, for the demo migration and dashboard tests.

The demo spec is read as it ships, with only the route's rollout figures made
shorter (a step bakes 2 s and judges 20 answers), and served over loopback
with its own gateway state database, while :class:`ReorderTraffic` (the
demo's own traffic) keeps customers asking.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from strangler.demo.estate import DEMO_SPEC, Estate, running_estate
from strangler.demo.features import load_features
from strangler.demo.traffic import ReorderTraffic, SkuFacts, reorder_skus
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.servers import run_app

ROUTE = "reorder-advice"
SHORT = {
    "bake_s: 20 ": "bake_s: 2 ",
    "min_samples: 40 ": "min_samples: 20 ",
    "window_s: 30 ": "window_s: 20 ",
    "interval_s: 2\n": "interval_s: 0.5\n",
}
"""The demo's rollout figures, and what the tests take instead (a step in seconds)."""

T = TypeVar("T")


def short_spec_text(**replace: str) -> str:
    """The demo spec with the short rollout (and ``replace``'s further substitutions)."""
    text = DEMO_SPEC.read_text(encoding="utf-8")
    for old, new in {**SHORT, **replace}.items():
        assert old in text, f"the demo spec no longer has {old!r}"
        text = text.replace(old, new)
    return text


@dataclass
class Demo:
    """A served demo app: its URL, a client, the traffic generator."""

    url: str
    client: httpx.Client
    traffic: ReorderTraffic

    def rollout(self) -> dict[str, Any]:
        response = self.client.get(f"/admin/canary/{ROUTE}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def rollout_in(self, status: str, mode: str) -> dict[str, Any] | None:
        """The rollout once it has ``status`` and the route's live state ``mode`` (the
        status is written first, the live state follows it)."""
        rollout = self.rollout()
        return rollout if (rollout["status"], rollout["mode"]) == (status, mode) else None

    def audit(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.client.get(f"/admin/canary/{ROUTE}/audit").json()[
            "items"
        ]
        return items


@contextlib.contextmanager
def loaded_estate(folder: Path) -> Iterator[tuple[Estate, list[SkuFacts]]]:
    """The demo estate running, its feature tables loaded, and the SKUs traffic asks about."""
    with running_estate(state_dir=folder) as estate:
        load_features(estate.spec)
        yield estate, reorder_skus(estate.env["DEMO_FEATURES_URL"])


@contextlib.contextmanager
def serve_demo(
    estate: Estate,
    skus: list[SkuFacts],
    folder: Path,
    *,
    rate: float = 40.0,
    seed: int = 1,
    replace: dict[str, str] | None = None,
) -> Iterator[Demo]:
    """Serve the demo app of ``estate`` with the short rollout (``replace``: further
    substitutions in the spec's text) and a fresh gateway state in ``folder``, demo
    traffic running."""
    env = {**estate.env, "DEMO_GATEWAY_STATE": f"sqlite:///{folder / 'gateway-state.sqlite'}"}
    text = short_spec_text(**(replace or {}))
    spec = parse_spec(text, filename=str(DEMO_SPEC), base_dir=DEMO_SPEC.parent, env=env)
    with (
        run_app(create_app(spec, cache_dir=folder)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
        ReorderTraffic(url, skus, rate=rate, seed=seed) as traffic,
    ):
        yield Demo(url, client, traffic)


def wait_for(
    what: str, probe: Callable[[], T | None], *, timeout_s: float = 180, every_s: float = 0.25
) -> T:
    """Poll ``probe`` until it gives something (not ``None``/false); fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"{what}: not within {timeout_s} s (last seen: {last!r})")
