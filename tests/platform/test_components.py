"""Components: a part added from outside the edge, lifecycle, readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from strangler.errors import SpecError
from strangler.platform import Health, Part, Platform, register_part
from strangler.platform.registry import unregister
from strangler.rest.app import build_app, create_app
from strangler.spec import parse_spec
from tests.platform import toy

TOY = Part(
    name="toy",
    section="toy",
    spec="tests.platform.toy:ToySpec",
    build="tests.platform.toy:build",
)


@pytest.fixture
def toy_part() -> Iterator[None]:
    register_part(TOY)
    toy.EVENTS.clear()
    try:
        yield
    finally:
        unregister("toy")


def test_a_registered_part_is_served_with_no_edit_to_the_edge(
    toy_part: None, tmp_path: Path
) -> None:
    spec = parse_spec("toy: {greeting: hello}\n", base_dir=tmp_path, env={})
    app = create_app(spec)
    with TestClient(app) as client:
        assert client.get("/toy/greeting").json() == {"greeting": "hello", "open": "True"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["components"]["toy"] == {"status": "ok", "kind": "toy"}
    assert toy.EVENTS == ["start toy", "close toy"]


def test_a_part_section_is_checked_like_the_rest_of_the_spec(
    toy_part: None, tmp_path: Path
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("version: 1\ntoy:\n  greting: hello\n", base_dir=tmp_path, env={})
    fields = {(p.line, p.field) for p in caught.value.problems}
    assert (2, "toy.greeting") in fields and (3, "toy.greting") in fields


def test_without_the_part_its_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="toy"):
        parse_spec("toy: {greeting: hello}\n", base_dir=tmp_path, env={})


def test_a_component_that_fails_to_start_leaves_nothing_open() -> None:
    toy.EVENTS.clear()
    first = toy.Toy("first", toy.ToySpec(greeting="a"))
    broken = toy.Toy("broken", toy.ToySpec(greeting="b", fail_start=True))
    never = toy.Toy("never", toy.ToySpec(greeting="c"))
    platform = Platform([first, broken, never])

    async def start() -> None:
        async with platform.running():
            pytest.fail("the platform started although a component failed")

    with pytest.raises(RuntimeError, match="broken cannot start"):
        asyncio.run(start())
    assert toy.EVENTS == ["start first", "start broken", "close broken", "close first"]
    assert not first.open and not broken.open and not never.open


def test_the_app_does_not_start_when_a_component_fails() -> None:
    toy.EVENTS.clear()
    app = build_app(
        [
            toy.Toy("first", toy.ToySpec(greeting="a")),
            toy.Toy("broken", toy.ToySpec(greeting="b", fail_start=True)),
        ]
    )
    with pytest.raises(RuntimeError, match="broken cannot start"), TestClient(app):
        pass
    assert toy.EVENTS == ["start first", "start broken", "close broken", "close first"]


def test_readyz_is_503_naming_the_component_that_is_down() -> None:
    app = build_app(
        [
            toy.Toy("up", toy.ToySpec(greeting="a")),
            toy.Toy("gone", toy.ToySpec(greeting="b", down=True)),
        ]
    )
    with TestClient(app) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "down"
    assert body["components"]["gone"]["status"] == "down"
    assert body["components"]["up"]["status"] == "ok"


def test_a_health_check_that_raises_counts_as_down() -> None:
    class Broken(toy.Toy):
        async def health(self) -> Health:
            raise OSError("boom")

    with TestClient(build_app([Broken("b", toy.ToySpec(greeting="x"))])) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["components"]["b"] == {"status": "down", "kind": "toy", "error": "OSError"}


def test_component_names_are_unique() -> None:
    spec = toy.ToySpec(greeting="x")
    with pytest.raises(ValueError, match="unique: twice"):
        Platform([toy.Toy("twice", spec), toy.Toy("twice", spec)])


def test_readyz_follows_the_demo_erp_database(tmp_path: Path) -> None:
    """503 while the ERP's file is gone (never silently recreated empty), 200 once back."""
    from strangler.demo.estate import running_estate

    with running_estate(state_dir=tmp_path) as estate, TestClient(create_app(estate.spec)) as c:
        database = tmp_path / "erp.sqlite"
        assert c.get("/readyz").status_code == 200
        assert c.get("/database/erp/orders?limit=1").status_code == 200
        moved = database.rename(tmp_path / "erp.moved")
        down = c.get("/readyz")
        assert down.status_code == 503, down.text
        assert down.json()["components"]["erp"]["status"] == "down"
        assert down.json()["components"]["inventory"]["status"] == "ok"
        assert not database.exists()  # the health check did not create an empty database
        moved.rename(database)
        assert c.get("/readyz").status_code == 200
        assert c.get("/database/erp/orders?limit=1").status_code == 200
