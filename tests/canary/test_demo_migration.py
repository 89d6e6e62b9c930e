"""The demo's migration of ``GetReorderAdvice`` from the rules engine to the ``reorder`` model.

The demo estate as it ships (SOAP rules engine, ERP, feature tables loaded by
its ETL, the model served in-process), its route's rollout on a short schedule,
the demo's own traffic asking: a healthy model is promoted step by step to all
customers; a model broken on purpose mid-rollout (``strangler demo break``, the
model server's fault switch) is rolled back by the controller by itself, for
errors and for latency.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from strangler.demo.estate import Estate
from strangler.demo.rollout import set_fault
from strangler.demo.traffic import SkuFacts
from tests.canary.demo_estate import ROUTE, Demo, loaded_estate, serve_demo, wait_for

pytestmark = pytest.mark.timeout(600)

ASK = {
    "customerId": "C-0001",
    "sku": "SKU-1001",
    "quantityOnHand": 3,
    "averageDailySales": "4.3929",
    "leadTimeDays": 7,
}


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Estate, list[SkuFacts]]]:
    with loaded_estate(Path(tmp_path_factory.mktemp("demo-migration"))) as loaded:
        yield loaded


@pytest.fixture
def demo(estate: tuple[Estate, list[SkuFacts]], tmp_path: Path) -> Iterator[Demo]:
    with serve_demo(*estate, tmp_path) as served:
        try:
            yield served
        finally:
            set_fault(served.url, "reorder")  # healthy again for the next test


def strangler(*args: str) -> str:
    """Run the ``strangler`` command; its output (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", "strangler.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def legacy_answer(demo: Demo, customer: str) -> httpx.Response | None:
    """The route's answer to ``customer`` if the rules engine gave it."""
    answer = demo.client.post("/api/reorder-advice", json={**ASK, "customerId": customer})
    assert answer.status_code == 200, answer.text
    return answer if answer.headers["x-strangler-side"] == "legacy" else None


def at_step(demo: Demo, step: int) -> dict[str, Any] | None:
    rollout = demo.rollout()
    assert rollout["status"] == "running", rollout  # a healthy model is never rolled back
    return rollout if rollout["step"] >= step else None


def test_a_healthy_model_takes_over_step_by_step(demo: Demo) -> None:
    first = demo.rollout()
    assert first["steps"] == ["shadow", 0.1, 0.5, 1.0] and first["step"] == 0
    assert first["mode"] == "shadow"

    def promoted() -> dict[str, Any] | None:
        rollout = demo.rollout()
        assert rollout["status"] in ("running", "promoted"), rollout
        return demo.rollout_in("promoted", "modern")

    done = wait_for("the rollout promoted to every customer", promoted)
    assert (done["mode"], done["weight"]) == ("modern", 1.0)
    audit = list(reversed(demo.audit()))  # oldest first
    moves = [(row["action"], row["from"], row["to"]) for row in audit]
    assert moves == [
        ("start", "", "shadow"),
        ("promote", "shadow", "10%"),
        ("promote", "10%", "50%"),
        ("promote", "50%", "100%"),
        ("promote", "100%", "promoted"),
    ], moves
    assert {row["actor"] for row in audit[1:]} == {done["holder"] or audit[-1]["actor"]}
    for row in audit[1:]:  # each promotion kept the analysis that passed it
        figures = row["figures"]
        assert figures["verdict"] == "pass" and figures["samples"] >= 20, figures
    # every step's analyses are kept for the charts
    analyses = demo.client.get(f"/admin/canary/{ROUTE}/analyses?limit=5000").json()["items"]
    assert {a["step"] for a in analyses} == {0, 1, 2, 3}
    # the route now answers from the model, and the customers asked never saw an error
    answer = demo.client.post("/api/reorder-advice", json=ASK)
    assert answer.status_code == 200 and answer.headers["x-strangler-side"] == "modern"
    assert answer.json()["ruleId"].startswith("MODEL-reorder-")
    counts = demo.traffic.counts()
    assert counts.get("200 modern", 0) > 0 and counts.get("200 legacy", 0) > 0, counts
    assert all(key.startswith("200 ") for key in counts), counts


@pytest.mark.parametrize(
    ("fault", "crossed"),
    [({"error_rate": 0.5}, "error rate"), ({"delay_ms": 1500}, "p99")],
    ids=["errors", "latency"],
)
def test_a_model_broken_mid_rollout_is_rolled_back_by_itself(
    demo: Demo, fault: dict[str, float], crossed: str
) -> None:
    wait_for("the canary on 10% of the customers", lambda: at_step(demo, 1))
    if "error_rate" in fault:  # as a newcomer does it
        broken = strangler("demo", "break", "reorder", "--errors", "0.5", "--url", demo.url)
        assert "reorder: 50% of runs fail" in broken
    else:
        set_fault(demo.url, "reorder", **fault)

    def rolled_back() -> dict[str, Any] | None:
        rollout = demo.rollout()
        assert rollout["status"] in ("running", "rolled_back"), rollout
        return demo.rollout_in("rolled_back", "legacy")

    back = wait_for("the rollback", rolled_back)
    assert (back["mode"], back["weight"]) == ("legacy", 0.0)
    assert back["step"] in (1, 2, 3)  # on a canary step, never promoted
    newest = demo.audit()[0]
    assert newest["action"] == "rollback" and newest["to"] == "legacy"
    assert newest["actor"] not in ("admin-api", "dashboard")  # the controller itself
    assert crossed in newest["reason"], newest
    assert newest["figures"]["verdict"] == "fail"
    # everyone is back on the rules engine, whatever the model does
    for customer in ("C-0001", "C-0002", "C-0003", "C-0150"):
        answer = wait_for(
            "the legacy side answering", partial(legacy_answer, demo, customer), timeout_s=10
        )
        assert answer.json()["ruleId"].startswith("R")
    # mended and resumed, the rollout starts again from its first step
    assert "reorder: healthy" in strangler("demo", "repair", "--url", demo.url)
    resumed = demo.client.post(f"/admin/canary/{ROUTE}/resume", json={"reason": "model mended"})
    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["status"], resumed.json()["step"]) == ("running", 0)
