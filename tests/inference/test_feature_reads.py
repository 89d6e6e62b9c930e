"""Feature reads coalesced: concurrent by-entity lookups of one view share one read of
the real feature tables (SQLite, loaded from the demo estate), each gets its own row,
and an entity that fails a shared read fails alone."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from strangler.demo.estate import DEMO_SPEC, running_estate
from strangler.demo.features import load_features
from strangler.errors import InvalidInput
from strangler.etl.serving import FeatureReader
from strangler.inference.feature_reads import CoalescedReads
from strangler.spec import load_spec

VIEW = "item_features"
SKUS = [f"SKU-{n}" for n in range(1001, 1015)]


class Counted:
    """The real reader's ``latest``, counting its calls; ``gate`` holds the first."""

    def __init__(self, reader: FeatureReader) -> None:
        self.reader = reader
        self.calls: list[int] = []
        self.gate = threading.Event()

    def __call__(self, view: str, entities: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        self.calls.append(len(entities))
        if len(self.calls) == 1:
            self.gate.wait(30)
        return self.reader.latest(view, entities)


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeatureReader]:
    folder: Path = tmp_path_factory.mktemp("reads")
    url = f"sqlite:///{folder / 'features.sqlite'}"
    with running_estate(state_dir=folder) as estate:
        spec = load_spec(DEMO_SPEC, env={**estate.env, "DEMO_FEATURES_URL": url})
        load_features(spec)
    section = spec.section("features")
    assert section is not None
    made = FeatureReader(section, url)
    asyncio.run(made.start())
    yield made
    asyncio.run(made.close())


def test_concurrent_reads_share_one_read(reader: FeatureReader) -> None:
    counted = Counted(reader)
    reads = CoalescedReads(counted)

    async def scenario() -> list[dict[str, Any]]:
        first = asyncio.ensure_future(reads.latest(VIEW, {"sku": SKUS[0]}))
        while not counted.calls:  # the first read has started and is held
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(reads.latest(VIEW, {"sku": s})) for s in SKUS[1:]]
        await asyncio.sleep(0)  # every request queued behind the held read
        counted.gate.set()
        return await asyncio.gather(first, *rest)

    rows = asyncio.run(scenario())
    assert counted.calls == [1, len(SKUS) - 1]  # the lone first, then all the others at once
    assert [row["sku"] for row in rows] == SKUS
    assert rows == reader.latest(VIEW, [{"sku": s} for s in SKUS])


def test_an_entity_that_fails_a_shared_read_fails_alone(reader: FeatureReader) -> None:
    counted = Counted(reader)
    reads = CoalescedReads(counted)
    asked: list[dict[str, Any]] = [{"sku": SKUS[0]}, {"sku": ["not", "a", "key"]}, {"sku": SKUS[1]}]

    async def scenario() -> list[Any]:
        first = asyncio.ensure_future(reads.latest(VIEW, {"sku": SKUS[2]}))
        while not counted.calls:
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(reads.latest(VIEW, e)) for e in asked]
        await asyncio.sleep(0)
        counted.gate.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    first, good, bad, other = asyncio.run(scenario())
    assert isinstance(bad, InvalidInput)
    assert (first["sku"], good["sku"], other["sku"]) == (SKUS[2], SKUS[0], SKUS[1])
    assert counted.calls == [1, 3, 1, 1, 1]  # the shared read failed: each alone


def test_a_cancelled_request_does_not_stop_the_others(reader: FeatureReader) -> None:
    counted = Counted(reader)
    reads = CoalescedReads(counted)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        first = asyncio.ensure_future(reads.latest(VIEW, {"sku": SKUS[0]}))
        while not counted.calls:
            await asyncio.sleep(0.001)
        gone = asyncio.ensure_future(reads.latest(VIEW, {"sku": SKUS[1]}))
        kept = asyncio.ensure_future(reads.latest(VIEW, {"sku": SKUS[2]}))
        await asyncio.sleep(0)
        gone.cancel()
        counted.gate.set()
        return await asyncio.gather(first, kept)

    first, kept = asyncio.run(scenario())
    assert (first["sku"], kept["sku"]) == (SKUS[0], SKUS[2])
    assert counted.calls == [1, 1]  # the cancelled request was not read
