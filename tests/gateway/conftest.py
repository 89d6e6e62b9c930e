"""Fixtures of the gateway tests: two real HTTP services as the sides, a state database,
and the gateway app served over loopback for a spec text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.servers import Answer, body_service, postgres_database, run_app

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres"


def echo_service(side: str) -> Any:
    """A tiny ASGI service answering ``{"side": side, "got": <the JSON it was sent>}`` (any
    other body as text); ``{"status": 503}`` in the request makes it answer that status."""

    async def handle(body: bytes) -> Answer:
        try:
            got = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            got = body.decode("utf-8", "replace")  # XML, say: echoed as text
        status = got.get("status", 200) if isinstance(got, dict) else 200
        return status, b"application/json", orjson.dumps({"side": side, "got": got})

    return body_service(handle)


@pytest.fixture(scope="module")
def services() -> Iterator[dict[str, str]]:
    """A legacy and a modern echo service, each on its own loopback port."""
    with run_app(echo_service("legacy")) as legacy, run_app(echo_service("modern")) as modern:
        yield {"legacy": legacy, "modern": modern}


@pytest.fixture
def postgres_state() -> Iterator[str]:
    """A fresh PostgreSQL database for the route state; dropped afterwards."""
    with postgres_database("strangler_gw") as url:
        yield url


def tag_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """A response mapping by callable (``tests.gateway.conftest:tag_answer``)."""
    return {"side": answer["side"], "tagged": True}


GatewayRunner = Callable[[str], AbstractContextManager[str]]


@pytest.fixture
def gateway(tmp_path: Path) -> GatewayRunner:
    """Serve the app of a spec text over loopback; yields its base URL."""

    @contextmanager
    def serve(text: str) -> Iterator[str]:
        spec = parse_spec(text, filename="routes.yaml", base_dir=tmp_path, env={})
        with run_app(create_app(spec, cache_dir=tmp_path)) as url:
            yield url

    return serve


def route_spec(
    services: dict[str, str],
    *,
    mode: str = "canary",
    weight: float = 0.0,
    sticky: str = "",
    state: str = "",
    refresh_s: float = 0.1,
    extra: str = "",
) -> str:
    """A spec of one route ``echo`` at ``/api/echo`` over the two echo services."""
    return f"""
routes:
  state: "{state}"
  refresh_s: {refresh_s}
  items:
    echo:
      path: /api/echo
      legacy: {{url: "{services["legacy"]}/legacy"}}
      modern: {{url: "{services["modern"]}/modern"}}
      mode: {mode}
      weight: {weight}
      {f"sticky: {sticky}" if sticky else ""}
{extra}
"""
