"""The pieces on their own: key hashes, the JWKS cache (against the real JWKS server,
with a clock of the test's own), scope names and patterns, the spec section, the CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, WebSocket
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from typer.testing import CliRunner
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from strangler.cli import app as cli
from strangler.demo.estate import DEMO_SPEC, Estate
from strangler.errors import SpecError
from strangler.platform import BuildContext, Component, Health, Part, register_part
from strangler.platform.operations import Operation
from strangler.platform.registry import unregister
from strangler.rest.app import create_app
from strangler.security.jwks import JwksCache
from strangler.security.keys import KeyRing, hash_key, new_key
from strangler.security.scopes import grants
from strangler.spec import Spec, parse_spec
from tests.rest.conftest import serving
from tests.security.conftest import JwksServer, Signer


def test_keys_are_checked_by_hash_only() -> None:
    generated, chosen = new_key(), "correct horse battery staple"
    ring = KeyRing({"a": hash_key(generated), "b": hash_key(chosen, "scrypt")})
    assert ring.match(generated) == "a"
    assert ring.match(chosen) == "b"
    assert ring.match(chosen) == "b"  # remembered by its SHA-256
    assert ring.match(chosen + "x") is None
    assert ring.match("") is None
    assert hash_key(chosen, "scrypt") != hash_key(chosen, "scrypt")  # salted


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_unknown_kids_refetch_at_most_every_refetch_min_s(
    jwks: JwksServer, signers: dict[str, Signer]
) -> None:
    clock = Clock()
    cache = JwksCache(url=jwks.url, cache_s=300, refetch_min_s=30, clock=clock)
    jwks.keys = [signers["rsa"].jwk()]

    async def run() -> None:
        assert (await cache.key("rsa-1")) is not None
        assert cache.fetches == 1
        for _ in range(20):  # made-up kids: one fetch per 30 s at most
            assert (await cache.key("made-up")) is None
        assert cache.fetches == 1
        clock.now += 31
        jwks.keys = [signers["rsa"].jwk(), signers["rotated"].jwk()]
        assert (await cache.key("rsa-2")) is not None  # rotated in: fetched again
        assert cache.fetches == 2
        assert (await cache.key("rsa-1")) is not None  # known: no fetch
        clock.now += 301
        jwks.keys = [signers["rotated"].jwk()]
        assert (await cache.key("rsa-2")) is not None  # stale: fetched again
        assert cache.fetches == 3
        assert (await cache.key("rsa-1")) is None  # retired

    asyncio.run(run())


def test_a_jwks_file_and_what_it_may_hold(tmp_path: Path, signers: dict[str, Signer]) -> None:
    file = tmp_path / "jwks.json"
    keys = [
        signers["ec"].jwk(),
        {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},  # symmetric: never taken
        {**signers["ed"].jwk(), "use": "enc"},  # not for signatures
    ]
    file.write_text(json.dumps({"keys": keys}))
    cache = JwksCache(file=str(file))

    async def run() -> list[bool]:
        return [(await cache.key(k)) is not None for k in ("ec-1", "shared", "ed-1")]

    assert asyncio.run(run()) == [True, False, False]
    file.write_text("not json")
    broken = JwksCache(file=str(file))
    assert asyncio.run(broken.key("ec-1")) is None  # logged, no keys


@pytest.mark.parametrize(
    ("granted", "required", "expected"),
    [
        ("db:erp:orders:read", "db:erp:orders:read", True),
        ("db:erp:*", "db:erp:orders:read", True),
        ("db:*:*:read", "db:erp:orders:read", True),
        ("db:*:*:read", "db:erp:orders:delete", False),
        ("db:erp", "db:erp:orders:read", False),
        ("db:erp:orders:read:x", "db:erp:orders:read", False),
        ("*", "admin", True),
        ("admin:*", "admin", False),
        ("model:*:infer", "model:a%3Ab:infer", True),
        ("soap:inventory:Get*", "soap:inventory:GetStock", False),  # * is a whole segment
    ],
)
def test_scope_patterns(granted: str, required: str, expected: bool) -> None:
    assert grants([granted], required) is expected


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("  keys: {a: {hash: 'md5:abc'}}", "not a key hash"),
        ("  keys: {a: {hash: 'sha256:" + "0" * 64 + "', scopes: ['bad scope']}}", "scope"),
        (
            "  jwt: {issuer: i, audience: a, jwks_file: f, algorithms: [HS256]}",
            "jwt.algorithms",
        ),
        ("  jwt: {issuer: i, audience: a, jwks_file: f, algorithms: [none]}", "jwt.algorithms"),
        ("  jwt: {issuer: i, audience: a, jwks_file: f, leeway_s: 3600}", "less than or equal"),
        ("  jwt: {issuer: i, audience: a}", "exactly one of jwks_url and jwks_file"),
        ("  scopes: {'GET': x}", "METHOD /path"),
    ],
)
def test_bad_security_sections_are_refused_at_load(section: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(f"version: 1\nsecurity:\n{section}\n", filename="s.yaml", env={})
    text = str(caught.value)
    assert message in text and "s.yaml:" in text


def test_hash_key_prints_a_key_and_its_entry() -> None:
    result = CliRunner().invoke(cli, ["security", "hash-key", "--name", "ci-bot"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    key = lines[0]
    assert key.startswith("sk_") and len(key) > 40
    assert lines[-1] == f'ci-bot: {{hash: "{hash_key(key)}", scopes: []}}'
    chosen = CliRunner().invoke(
        cli, ["security", "hash-key", "--stdin", "--algorithm", "scrypt"], input="pw\n"
    )
    assert chosen.exit_code == 0
    stored = chosen.stdout.split('"')[1]
    assert stored.startswith("scrypt:") and KeyRing({"k": stored}).match("pw") == "k"


class SelfChecking:
    """A component with a path whose callers it checks itself (as the SOAP shim does)."""

    name = kind = "selfcheck"

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def health(self) -> Health:
        return Health()

    def authenticated_paths(self) -> list[str]:
        return ["/legacy/Service"]

    def fast_routes(self) -> list[Route]:
        async def answer(request: Request) -> PlainTextResponse:
            return PlainTextResponse("checked by the component")

        return [Route("/legacy/Service", answer, methods=["POST"])]


def build_self_checking(spec: Spec, context: BuildContext) -> list[Component]:
    return [SelfChecking()]


def test_paths_a_component_authenticates_itself_are_left_to_it(tmp_path: Path) -> None:
    register_part(
        Part(name="selfcheck", build="tests.security.test_pieces:build_self_checking", order=500)
    )
    try:
        text = f"version: 1\nsecurity:\n  audit: {{database: 'sqlite:///{tmp_path}/a.sqlite'}}\n"
        app = create_app(parse_spec(text, filename="s.yaml", env={}), cache_dir=tmp_path)
        with serving(app) as url:
            assert httpx.post(f"{url}/legacy/Service").text == "checked by the component"
            assert httpx.post(f"{url}/legacy/Other").status_code == 401
    finally:
        unregister("selfcheck")


class Talking:
    """A component with a WebSocket route of its own."""

    name = kind = "talking"
    prefix = ""

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def health(self) -> Health:
        return Health()

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.websocket("/talk")
        async def talk(socket: WebSocket) -> None:
            await socket.accept()
            await socket.send_text("hello " + await socket.receive_text())
            await socket.close()

        return router


def build_talking(spec: Spec, context: BuildContext) -> list[Component]:
    return [Talking()]


def test_websockets_need_credentials_too(tmp_path: Path) -> None:
    key = new_key()
    register_part(Part(name="talking", build="tests.security.test_pieces:build_talking", order=500))
    try:
        text = (
            f"version: 1\nsecurity:\n  keys: {{k: {{hash: '{hash_key(key)}', scopes: []}}}}\n"
            f"  audit: {{database: 'sqlite:///{tmp_path}/a.sqlite'}}\n"
        )
        app = create_app(parse_spec(text, filename="s.yaml", env={}), cache_dir=tmp_path)
        with serving(app) as url:
            ws_url = url.replace("http://", "ws://") + "/talk"
            with pytest.raises(InvalidStatus) as refused, connect(ws_url):
                pass
            assert refused.value.response.status_code == 403
            with connect(ws_url, additional_headers={"X-API-Key": key}) as socket:
                socket.send("you")
                assert socket.recv() == "hello you"
    finally:
        unregister("talking")


def test_scopes_lists_every_operation_of_a_spec(estate: Estate) -> None:
    result = CliRunner().invoke(
        cli, ["security", "scopes", "-c", str(DEMO_SPEC)], env=dict(estate.env)
    )
    assert result.exit_code == 0, result.output
    rows = {tuple(line.split()) for line in result.stdout.splitlines()}
    assert ("GET", "/database/erp/orders", "db:erp:orders:read") in rows
    assert ("POST", "/soap/inventory/GetStock", "soap:inventory:GetStock") in rows
    assert ("PUT", "/admin/routes/{route}", "admin") in rows
    assert ("GET", "/healthz", "public") in rows
    assert len(rows) > 90


def test_scopes_lists_command_topics_with_their_operations_scope(tmp_path: Path) -> None:
    from strangler.demo.inventory import WSDL_PATH

    spec = tmp_path / "commands.yaml"
    spec.write_text(
        f"""
systems:
  inventory: {{kind: soap, wsdl: {WSDL_PATH}, address: "http://127.0.0.1:9/soap"}}
events:
  state: sqlite:///{tmp_path / "state.sqlite"}
  kafka: {{bootstrap: "127.0.0.1:9"}}
  commands:
    adjust: {{topic: commands.adjust, operation: inventory.AdjustStock}}
security:
  scopes: {{"/soap/inventory/AdjustStock": stock:adjust}}
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["security", "scopes", "-c", str(spec)])
    assert result.exit_code == 0, result.output
    rows = {tuple(line.split()) for line in result.stdout.splitlines()}
    assert ("COMMAND", "commands.adjust", "stock:adjust") in rows  # as its REST route
    assert ("POST", "/soap/inventory/AdjustStock", "stock:adjust") in rows


def test_a_json_rpc_batch_needs_every_method_of_its_system() -> None:
    from strangler.security.scopes import route_rules

    class Calc:
        def operations(self) -> list[Operation[Any]]:
            return [Operation("calc", "add", ("add",), BaseModel, BaseModel, None)]

    paths = ("/jsonrpc/calc/add", "/jsonrpc/calc/_batch", "/jsonrpc/calc/log")
    document = {"paths": {path: {"post": {}} for path in paths}}
    rules = {r.template: r.scope for r in route_rules(document, [("jsonrpc", "calc", Calc())])}  # type: ignore[list-item]
    assert rules == {
        "/jsonrpc/calc/add": "jsonrpc:calc:add",
        "/jsonrpc/calc/_batch": "jsonrpc:calc:*",
        "/jsonrpc/calc/log": "jsonrpc:calc:log",
    }
    assert not grants(["jsonrpc:calc:add"], "jsonrpc:calc:*")
    assert grants(["jsonrpc:calc:*"], "jsonrpc:calc:*") and grants(["*"], "jsonrpc:calc:*")
