"""Shadow calls: planted disagreements kept, noise and ignored fields not, safety and shedding."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pydantic import BaseModel

from strangler.errors import SpecError
from strangler.gateway.disagreements import DisagreementStore, disagreements_router
from strangler.gateway.shadow import ShadowRoute, ShadowRunner
from strangler.platform.operations import Operation
from strangler.rest.problems import install_problem_handlers
from strangler.spec.gateway import ShadowSpec
from tests.servers import postgres_database, run_app

PLANTED = {7, 19, 23, 31}  # the skus whose modern answer says the opposite


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DisagreementStore]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'state.sqlite'}"
        else:
            url = stack.enter_context(postgres_database("strangler_test"))
        engine = sa.create_engine(url)
        stack.callback(engine.dispose)
        table = f"strangler_test_{secrets.token_hex(4)}_dis"
        store = DisagreementStore(engine, keep={"advice": 100, "tiny": 5}, table=table)
        try:
            yield store
        finally:
            store.drop()


class Legacy:
    """A rules engine: a request id and a clock reading that change on every call."""

    def __init__(self) -> None:
        self.calls: Counter[int] = Counter()
        self._ids = itertools.count()

    async def answer(self, sku: int) -> dict[str, Any]:
        self.calls[sku] += 1
        return {
            "sku": sku,
            "reorder": sku % 2 == 0,
            "quantity": sku * 1.5,
            "reason": f"rule {sku % 3}",
            "requestId": str(uuid.uuid4()),
            "lines": [{"n": i, "at": next(self._ids)} for i in range(2)],
        }


async def modern_answer(sku: int) -> dict[str, Any]:
    """The model: agrees except on the planted skus; its own reason, ids and clock."""
    return {
        "sku": sku,
        "reorder": (sku % 2 == 0) != (sku in PLANTED),
        "quantity": sku * 1.5 + 1e-9,  # within the tolerance
        "reason": "model",  # ignored by the spec
        "requestId": "m-1",
        "lines": [{"n": i, "at": -1} for i in range(2)],
    }


def sample_value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def shadow_requests(
    runner: ShadowRunner, legacy: Legacy, skus: range, route: str = "advice"
) -> None:
    for sku in skus:
        answer = await legacy.answer(sku)

        async def modern(sku: int = sku) -> Any:
            return await modern_answer(sku)

        async def again(sku: int = sku) -> Any:
            return await legacy.answer(sku)

        runner.submit(route, {"sku": sku}, "legacy", answer, modern, call_legacy=again)
    await runner.drain()


def test_planted_disagreements_are_kept_but_not_ignored_or_noisy_fields(
    store: DisagreementStore,
) -> None:
    spec = ShadowSpec(ignore=("/reason",), tolerance=1e-6, noise_sample=0.05, max_inflight=64)
    legacy = Legacy()
    before = sample_value("strangler_gateway_disagreements_total", route="advice", path="/reorder")

    async def main() -> ShadowRunner:
        runner = ShadowRunner({"advice": ShadowRoute("advice", spec, legacy_safe=True)}, store)
        await shadow_requests(runner, legacy, range(40))
        await runner.close()
        return runner

    runner = asyncio.run(main())
    route = runner.routes["advice"]
    assert set(route.noise.paths) == {"/requestId", "/lines/*/at"}
    assert store.noise is not None and set(store.noise("advice")) == set(route.noise.paths)
    kept = store.recent("advice", limit=100)
    assert sorted(d.request["sku"] for d in kept) == sorted(PLANTED)
    for found in kept:
        sku = found.request["sku"]
        assert [p.as_json() for p in found.paths] == [
            {"path": "/reorder", "change": "changed", "legacy": sku % 2 == 0,
             "modern": sku % 2 != 0}
        ]  # fmt: skip
        assert found.legacy["reason"] == f"rule {sku % 3}" and found.modern["reason"] == "model"
        assert found.answered_by == "legacy" and found.at.tzinfo is not None
    assert route.counts == {"agreed": 40 - len(PLANTED), "disagreed": len(PLANTED)}
    after = sample_value("strangler_gateway_disagreements_total", route="advice", path="/reorder")
    assert after - before == len(PLANTED)
    # the noise estimate asked the (safe) legacy side again: the warmup, then a sample
    assert 10 <= sum(legacy.calls.values()) - 40 < 30


def test_without_the_noise_estimate_the_nondeterministic_fields_would_count(
    store: DisagreementStore,
) -> None:
    legacy = Legacy()

    async def main() -> None:
        spec = ShadowSpec(ignore=("/reason",), noise_sample=0.0)
        runner = ShadowRunner({"advice": ShadowRoute("advice", spec, legacy_safe=True)}, store)
        await shadow_requests(runner, legacy, range(10))
        await runner.close()

    asyncio.run(main())
    kept = store.recent("advice")
    assert len(kept) == 10
    assert {p.path for d in kept for p in d.paths} >= {"/requestId", "/lines/0/at", "/lines/1/at"}
    assert all(n == 1 for n in legacy.calls.values())


class Stock(BaseModel):
    sku: int


def operation(safe: bool) -> Operation[None]:
    return Operation("inventory", "ReserveStock", ("ReserveStock",), Stock, Stock, None, safe=safe)


def test_a_non_safe_legacy_operation_is_never_called_twice(store: DisagreementStore) -> None:
    legacy = Legacy()
    spec = ShadowSpec(noise_sample=1.0)  # would ask for a second answer every time

    async def main() -> ShadowRunner:
        unsafe = ShadowRoute.for_operation("advice", spec, operation(safe=False))
        runner = ShadowRunner({"advice": unsafe}, store)
        await shadow_requests(runner, legacy, range(30))
        # the modern side answered: asking the legacy side in its shadow would do it again
        for sku in range(30, 40):

            async def legacy_call(sku: int = sku) -> Any:
                return await legacy.answer(sku)

            answer = await modern_answer(sku)
            assert not runner.submit("advice", {"sku": sku}, "modern", answer, legacy_call)
        await runner.drain()
        await runner.close()
        return runner

    runner = asyncio.run(main())
    assert legacy.calls == Counter(range(30))  # once each, by the user's own request
    assert runner.routes["advice"].counts["shed_unsafe"] == 10

    safe_legacy = Legacy()  # the same with a safe operation: the check above could fail

    async def safe_run() -> None:
        safe = ShadowRoute.for_operation("advice", spec, operation(safe=True))
        runner = ShadowRunner({"advice": safe}, store)
        await shadow_requests(runner, safe_legacy, range(30))
        await runner.close()

    asyncio.run(safe_run())
    assert safe_legacy.calls == Counter({sku: 2 for sku in range(30)})


def test_a_full_queue_and_a_busy_route_shed_shadow_calls_and_count_them() -> None:
    async def main() -> tuple[list[bool], list[bool], dict[str, int], dict[str, int]]:
        release = asyncio.Event()

        async def stuck() -> Any:
            await release.wait()
            return {}

        busy = ShadowRoute("busy", ShadowSpec(max_inflight=3, timeout_s=30))
        full = ShadowRoute("full", ShadowSpec(max_inflight=100, timeout_s=30))
        roomy = ShadowRunner({"busy": busy}, queue_size=100, tasks=8)
        small = ShadowRunner({"full": full}, queue_size=2, tasks=1)
        to_busy = [roomy.submit("busy", {}, "legacy", {}, stuck) for _ in range(5)]
        to_full = [small.submit("full", {}, "legacy", {}, stuck) for _ in range(5)]
        release.set()
        for runner in (roomy, small):
            await runner.drain()
            await runner.close()
        return to_busy, to_full, dict(busy.counts), dict(full.counts)

    to_busy, to_full, busy, full = asyncio.run(main())
    assert to_busy == [True, True, True, False, False]
    assert busy == {"shed_busy": 2, "agreed": 3}
    assert to_full == [True, True, False, False, False]
    assert full == {"shed_queue_full": 3, "agreed": 2}


def test_disagreements_are_bounded_per_route(store: DisagreementStore) -> None:
    async def main() -> None:
        runner = ShadowRunner({"tiny": ShadowRoute("tiny", ShadowSpec(noise_sample=0))}, store)
        for n in range(12):

            async def modern(n: int = n) -> Any:
                return {"n": -n}

            runner.submit("tiny", {"n": n}, "legacy", {"n": n}, modern)
            await runner.drain()
        await runner.close()

    asyncio.run(main())
    assert store.count("tiny") == 5
    assert [d.request["n"] for d in store.recent("tiny")] == [11, 10, 9, 8, 7]


def test_the_admin_route_lists_recent_disagreements(store: DisagreementStore) -> None:
    async def main() -> None:
        route = ShadowRoute("advice", ShadowSpec(noise_sample=0))
        runner = ShadowRunner({"advice": route}, store, tasks=1)  # kept in the order asked
        for n in range(7):

            async def modern(n: int = n) -> Any:
                return {"n": n, "xml": "<a/>", "extra": n}

            runner.submit("advice", {"n": n}, "legacy", {"n": n, "xml": "<a/>"}, modern)
        await runner.drain()
        await runner.close()

    asyncio.run(main())
    app = FastAPI()
    install_problem_handlers(app)
    named = DisagreementStore(store.engine, routes=["advice"], table=store.table.name)
    app.include_router(disagreements_router(named))
    with run_app(app) as url, httpx.Client(base_url=url) as client:
        page = client.get("/admin/routes/advice/disagreements", params={"limit": 5}).json()
        assert [item["request"] for item in page["items"]] == [{"n": n} for n in (6, 5, 4, 3, 2)]
        assert page["items"][0]["paths"] == [
            {"path": "/extra", "change": "added", "legacy": None, "modern": 6}
        ]
        assert page["noise"] == []
        rest = client.get(
            "/admin/routes/advice/disagreements", params={"before": page["next_before"]}
        ).json()
        assert [item["request"]["n"] for item in rest["items"]] == [1, 0]
        assert rest["next_before"] is None
        missing = client.get("/admin/routes/nope/disagreements")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert client.get("/admin/routes/advice/disagreements?limit=0").status_code == 422


def slow_model(delay_s: float) -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    async def predict(body: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(delay_s)
        return {"sku": body["sku"], "reorder": True}

    return app


def shadowed_service(runner: ShadowRunner, model_url: str) -> FastAPI:
    """A route answered by its legacy side, the slow model asked in the shadow."""
    client: httpx.AsyncClient | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await runner.close()
        if client is not None:
            await client.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/advice")
    async def advice(body: dict[str, Any]) -> dict[str, Any]:
        nonlocal client
        client = client or httpx.AsyncClient(base_url=model_url, timeout=30)
        answer = {"sku": body["sku"], "reorder": body["sku"] % 2 == 0}

        async def modern(http: httpx.AsyncClient = client) -> Any:
            return (await http.post("/predict", json=body)).json()

        runner.submit("advice", body, "legacy", answer, modern)
        return answer

    return app


def latencies(url: str, count: int) -> list[float]:
    times = []
    with httpx.Client(base_url=url) as client:
        for sku in range(count):
            start = time.perf_counter()
            assert client.post("/advice", json={"sku": sku}).status_code == 200
            times.append(time.perf_counter() - start)
    return times


@pytest.mark.parametrize(
    ("timeout_s", "reason"), [(30.0, "shed_busy"), (0.2, "shed_slow")], ids=["busy", "slow"]
)
def test_a_slow_modern_side_does_not_slow_the_answers(timeout_s: float, reason: str) -> None:
    delay_s = 1.0
    spec = ShadowSpec(max_inflight=4, timeout_s=timeout_s, noise_sample=0)
    plain = ShadowRunner()  # no route shadowed: the baseline
    shadowing = ShadowRunner({"advice": ShadowRoute("advice", spec)})
    with run_app(slow_model(delay_s)) as model:
        with run_app(shadowed_service(plain, model)) as url:
            latencies(url, 20)  # warm up
            baseline = latencies(url, 200)
        with run_app(shadowed_service(shadowing, model)) as url:
            latencies(url, 20)
            shadowed = latencies(url, 200)
            counts = shadowing.routes["advice"].counts
            deadline = time.monotonic() + 10
            while reason == "shed_slow" and not counts[reason] and time.monotonic() < deadline:
                time.sleep(0.05)  # the first abandoned call is counted after its timeout
    # No answer waited for the model: each would have taken its whole second.
    assert max(shadowed) < delay_s / 2, (max(shadowed), max(baseline))
    assert counts["shed_busy"] >= 150  # all but the few in flight were dropped, none waited
    assert counts[reason] >= 1
    assert (
        sample_value(
            "strangler_gateway_shadow_shed_total",
            route="advice",
            reason=reason.removeprefix("shed_"),
        )
        >= counts[reason]
    )


def test_an_ignore_pattern_the_diff_cannot_mean_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match=r"routes\.items\.advice\.shadow\.ignore: .*is not a name"):
        ShadowRoute("advice", ShadowSpec(ignore=("//line[@code='x']",)))


def test_a_burst_of_disagreements_is_written_in_few_transactions(
    store: DisagreementStore,
) -> None:
    commits = 0

    def count(conn: Any) -> None:
        nonlocal commits
        commits += 1

    sa.event.listen(store.engine, "commit", count)
    store.create()

    async def main() -> None:
        route = ShadowRoute("advice", ShadowSpec(noise_sample=0, max_inflight=500))
        runner = ShadowRunner({"advice": route}, store, tasks=64)
        for n in range(300):

            async def modern(n: int = n) -> Any:
                return {"n": -n}

            runner.submit("advice", {"n": n}, "legacy", {"n": n}, modern)
        await runner.drain()
        await runner.close()

    asyncio.run(main())
    sa.event.remove(store.engine, "commit", count)
    assert store.count("advice") == 100  # the route keeps 100
    assert commits < 30, commits  # one per batch, not one per disagreement
