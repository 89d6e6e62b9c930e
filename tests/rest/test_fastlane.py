"""The fast lane: a component's hot routes answered ahead of the app's routing, inside
the request limits, their errors still problem+json."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from strangler.errors import BadQuery, NotFound
from strangler.platform import FastRoutes, Health, RouteSource
from strangler.rest.app import build_app
from strangler.spec.models import LimitsSpec
from tests.servers import run_app


class Hot:
    """A component serving ``/hot/{word}`` both ways: fast and through its router."""

    name = "hot"
    kind = "toy"
    prefix = ""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def health(self) -> Health:
        return Health()

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.post("/hot/{word}")
        async def slow(word: str) -> Response:
            return PlainTextResponse(f"router {word}")

        return router

    def fast_routes(self) -> list[Route]:
        async def fast(request: Request) -> Response:
            word = request.path_params["word"]
            if word == "missing":
                raise NotFound("no such word")
            if word == "bad":
                raise BadQuery("a bad word")
            if word == "boom":
                raise RuntimeError("unexpected")
            body = await request.body()
            return PlainTextResponse(f"fast {word} {len(body)}")

        return [Route("/hot/{word}", fast, methods=["POST"])]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    component = Hot()
    assert isinstance(component, FastRoutes) and isinstance(component, RouteSource)
    app = build_app([component], limits=LimitsSpec(max_body_bytes=1000))
    with run_app(app) as base:
        yield base


def test_the_fast_route_answers_before_the_router(url: str) -> None:
    answer = httpx.post(f"{url}/hot/tea", content=b"12345")
    assert answer.status_code == 200 and answer.text == "fast tea 5"
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    assert "/hot/{word}" in paths  # documented by the router


def test_other_methods_and_paths_go_on_to_the_app(url: str) -> None:
    wrong = httpx.get(f"{url}/hot/tea")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}


def test_errors_of_fast_routes_are_problems(url: str) -> None:
    missing = httpx.post(f"{url}/hot/missing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"] == "no such word"
    assert missing.json()["instance"] == "/hot/missing"
    assert httpx.post(f"{url}/hot/bad").json()["type"] == "urn:strangler:problem:bad-query"
    boom = httpx.post(f"{url}/hot/boom")
    assert boom.status_code == 500 and boom.json()["request_id"]


def test_the_body_limit_holds_in_the_fast_lane(url: str) -> None:
    large = httpx.post(f"{url}/hot/tea", content=b"x" * 1001)
    assert large.status_code == 413
    assert large.headers["content-type"] == "application/problem+json"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(5):
            yield b"y" * 300

    streamed = httpx.post(f"{url}/hot/tea", content=chunks())
    assert streamed.status_code == 413
    assert httpx.post(f"{url}/hot/tea", content=b"x" * 1000).text == "fast tea 1000"
