"""Shared fixtures: the demo legacy servers and the REST API, over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from strangler.demo.inventory import InventoryServer, start_inventory_server
from strangler.rest.app import create_app
from strangler.spec import Spec, parse_spec
from tests.servers import run_app

DEMO_USER = "app"
DEMO_PASSWORD = "s3cret-pass"


@pytest.fixture(scope="session")
def inventory() -> Iterator[InventoryServer]:
    """The demo InventoryService, with credentials for its /wsse and /basic paths."""
    with start_inventory_server(username=DEMO_USER, password=DEMO_PASSWORD) as server:
        yield server


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wsdl-cache")


SpecRunner = Callable[[str], AbstractContextManager[str]]


@pytest.fixture
def api(cache_dir: Path, tmp_path: Path) -> SpecRunner:
    """Serve the REST API for a spec text; yields the base URL."""

    @contextmanager
    def serve(text: str) -> Iterator[str]:
        spec: Spec = parse_spec(text, filename="test.yaml", base_dir=tmp_path, env={})
        with run_app(create_app(spec, cache_dir=cache_dir)) as url:
            yield url

    return serve
