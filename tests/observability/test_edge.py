"""The edge's own observation of requests: the route label is the template (one series for
every key), a path no route takes is ``unmatched``, refusals are counted, and the last-resort
500 answer names the same request id the caller gave."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from strangler.rest.app import build_app


def _app() -> FastAPI:
    app = build_app([])

    @app.get("/things/{key}")
    async def thing(key: str) -> dict[str, str]:
        return {"key": key}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("the route failed")

    return app


async def _calls(app: FastAPI, calls: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        return [await client.get(path, headers=headers) for path, headers in calls]


def _count(route: str, status: str) -> float:
    labels = {"route": route, "method": "GET", "status": status}
    return REGISTRY.get_sample_value("strangler_http_requests_total", labels) or 0.0


def test_routes_are_counted_by_template_and_unmatched_paths_as_one() -> None:
    before = _count("/things/{key}", "200"), _count("unmatched", "404")
    answers = asyncio.run(
        _calls(_app(), [("/things/1", {}), ("/things/2", {}), ("/no/such/path", {})])
    )
    assert [a.status_code for a in answers] == [200, 200, 404]
    assert all(a.headers["x-request-id"] for a in answers)
    assert _count("/things/{key}", "200") - before[0] == 2
    assert _count("unmatched", "404") - before[1] == 1
    assert (
        REGISTRY.get_sample_value(
            "strangler_http_requests_total",
            {"route": "/things/1", "method": "GET", "status": "200"},
        )
        is None
    )


def test_the_500_answer_names_the_callers_request_id() -> None:
    (answer,) = asyncio.run(_calls(_app(), [("/broken", {"x-request-id": "req-500"})]))
    body: dict[str, Any] = answer.json()
    assert answer.status_code == 500 and body["request_id"] == "req-500"


def test_a_request_id_that_is_not_a_short_token_is_replaced() -> None:
    (answer,) = asyncio.run(_calls(_app(), [("/things/1", {"x-request-id": "a b\tc" * 40})]))
    assert answer.headers["x-request-id"] != "a b\tc" * 40
    assert len(answer.headers["x-request-id"]) == 32
