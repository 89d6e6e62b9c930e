"""Fixtures for the demo estate's legacy servers: real servers on loopback ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import zeep

from strangler.demo.inventory import InventoryServer, start_inventory_server

_USER, _PASSWORD = "legacy-user", "s3cret-Pa55"


@pytest.fixture(scope="session")
def inventory_credentials() -> tuple[str, str]:
    """The ``(username, password)`` the :func:`inventory` server accepts."""
    return _USER, _PASSWORD


@pytest.fixture(scope="module")
def inventory() -> Iterator[InventoryServer]:
    """An inventory server with credentials, shared by one test module."""
    with start_inventory_server(username=_USER, password=_PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def inventory_zeep(inventory: InventoryServer) -> zeep.Client:
    """A zeep client built from the WSDL the server serves."""
    return zeep.Client(inventory.wsdl_url)  # type: ignore[no-untyped-call]
