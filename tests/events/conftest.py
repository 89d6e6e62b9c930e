"""Fixtures of the event tests: one Kafka-protocol broker per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.events.broker import Broker, running_broker


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """A tansu broker shared by the session's tests (topics are unique per test)."""
    with running_broker() as started:
        yield started


@pytest.fixture
def own_broker() -> Iterator[Broker]:
    """A broker of the test's own, for tests that pause, stop or restart it."""
    with running_broker() as started:
        yield started
