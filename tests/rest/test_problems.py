"""The edge's own answers: problem+json for what never reaches an operation."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Annotated, Any

import pytest
from fastapi import Body, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from strangler.rest.app import build_app
from strangler.rest.problems import MEDIA_TYPE, PROBLEM_TYPES

TITLES = {t.type: t.title for t in PROBLEM_TYPES.values()}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


def toy_app() -> FastAPI:
    """The edge with no components and a few toy routes of its own."""
    app = build_app([])

    @app.post("/echo")
    async def echo(body: Annotated[Any, Body()]) -> Any:
        return body

    @app.get("/things/{key}")
    async def get_thing(key: str) -> str:
        return key

    @app.delete("/things/{key}")
    async def delete_thing(key: str) -> None:
        return None

    @app.post("/strict")
    async def strict(body: Strict) -> str:
        return body.name

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the toy route failed")

    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(toy_app(), raise_server_exceptions=False)


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == MEDIA_TYPE
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


def test_a_deeply_nested_body_is_invalid_input_not_a_bad_request(client: TestClient) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    answer = client.post("/echo", content=deep, headers={"content-type": "application/json"})
    body = problem(answer, 422)
    assert body["type"] == "urn:strangler:problem:invalid-input"
    assert body["title"] == "The request does not fit the operation"
    assert "nested too deeply" in body["detail"]


def test_a_body_that_is_not_utf8_is_invalid_input(client: TestClient) -> None:
    answer = client.post(
        "/echo", content=b'{"a": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    body = problem(answer, 422)
    assert body["type"] == "urn:strangler:problem:invalid-input"


def test_a_body_that_is_not_json_is_invalid_input(client: TestClient) -> None:
    answer = client.post("/echo", content=b"{", headers={"content-type": "application/json"})
    assert problem(answer, 422)["type"] == "urn:strangler:problem:invalid-input"


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "POST"])
def test_405_carries_allow_with_every_documented_method_of_the_path(
    client: TestClient, method: str
) -> None:
    answer = client.request(method, "/things/7")
    body = problem(answer, 405)
    assert answer.headers["allow"] == "DELETE, GET, HEAD"
    assert body["type"] == "urn:strangler:problem:method-not-allowed"
    assert method in body["detail"]


def test_titles_are_fixed_per_type_and_what_is_particular_goes_in_detail(
    client: TestClient,
) -> None:
    answers = [
        client.get("/nowhere/at/all"),
        client.put("/things/7"),
        client.post("/echo", content=b"{", headers={"content-type": "application/json"}),
        client.get("/boom"),
        client.get("/healthz?" + "q=" + "x" * 40_000),
    ]
    by_type: dict[str, set[str]] = {}
    for answer in answers:
        assert answer.headers["content-type"] == MEDIA_TYPE, answer.text
        body = answer.json()
        by_type.setdefault(body["type"], set()).add(body["title"])
        for particular in ("/nowhere", "PUT", "40000", "toy route"):
            assert particular not in body["title"]
    assert len(by_type) == len(answers)
    assert all(len(titles) == 1 for titles in by_type.values())
    assert by_type["urn:strangler:problem:internal"] == {TITLES["internal"]}


def test_an_unexpected_error_is_500_with_a_request_id_logged_with_the_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="strangler.rest"):
        answer = client.get("/boom")
    body = problem(answer, 500)
    assert body["type"] == "urn:strangler:problem:internal"
    assert "the toy route failed" not in answer.text  # nothing internal leaks
    request_id = body["request_id"]
    logged = [r for r in caplog.records if r.name == "strangler.rest" and request_id in r.message]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], RuntimeError)
    assert "the toy route failed" in caplog.text  # the traceback is in the log


def test_the_document_lists_every_status_the_edge_can_answer() -> None:
    document = toy_app().openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert {"414", "500"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert "413" in statuses, (method, path)
            for status, response in operation["responses"].items():
                if status[0] in "45" and "content" in response:
                    assert set(response["content"]) == {MEDIA_TYPE}, (method, path, status)
    json.dumps(document)  # still plain JSON


def test_text_that_is_not_unicode_is_a_problem_not_a_dropped_connection(
    client: TestClient,
) -> None:
    raw = b'{"name": "x", "\\ud800": 1}'
    answer = client.post("/strict", content=raw, headers={"content-type": "application/json"})
    assert problem(answer, 422)["type"] == "urn:strangler:problem:invalid-input"
    # An untyped body takes it; the answer echoing it is still JSON, not a 500.
    echoed = client.post(
        "/echo", content=b'["\\udfff"]', headers={"content-type": "application/json"}
    )
    assert echoed.status_code == 200 and echoed.json() == ["\udfff"]


def test_answers_json_cannot_encode_fast_are_still_written() -> None:
    """orjson refuses lone surrogates and integers past 64 bits; the answer is still JSON."""
    from strangler.rest.encoding import dumps

    value = {"key\ud800": ["\udfff", 2**70, Decimal("1.10")]}
    assert json.loads(dumps(value)) == {"key\ud800": ["\udfff", 2**70, "1.10"]}
    assert json.loads(dumps({"n": 1})) == {"n": 1}
