"""Command topics with ``security:`` on: a command's credential header must name a caller
that holds the operation's scope, on a real broker, calling the demo's real SOAP server.

Credentials travel as Kafka record headers beside the CloudEvent (structured and binary
mode alike): ``X-API-Key`` or ``Authorization: Bearer <JWT>``. JWTs are signed here with
a real EC key published in a JWKS file. Refused commands get a 401 or 403 problem reply
with their correlation id and never reach the legacy system; the credentials sent are
then searched for in every reply, dead letter, outbox event, audit row and log record.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from strangler.demo.inventory import InventoryServer
from strangler.events.commands import REASON_HEADER, envelope
from strangler.events.store import OUTBOX
from strangler.platform.callers import GatedCalls
from strangler.security.calls import GuardGate
from strangler.security.guard import SecurityGuard
from strangler.security.keys import hash_key, new_key
from tests.events.broker import Broker
from tests.events.test_commands import Estate, command, event_of, produce, run, running

ISSUER = "https://idp.test/"
AUDIENCE = "strangler-commands"
ADJUST_SCOPE = "soap:inventory:AdjustStock"


class Idp:
    """An EC signing key and its JWKS file."""

    def __init__(self, folder: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        public = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = folder / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [{**public, "kid": "ec-1", "use": "sig"}]}))

    def token(self, scope: str, *, expires_in: int = 300) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ops-bot", "scope": scope}
        claims |= {"iat": now - 600, "exp": now + expires_in}
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": "ec-1"})


def secured_estate(
    inventory: InventoryServer, broker: Broker, folder: Path
) -> tuple[Estate, dict[str, str], Idp, Path]:
    keys = {"adjuster": new_key(), "reader": new_key()}
    idp = Idp(folder)
    audit = folder / "audit.sqlite"
    section = f"""
  keys:
    adjuster: {{hash: "{hash_key(keys["adjuster"])}", scopes: ["{ADJUST_SCOPE}"]}}
    reader: {{hash: "{hash_key(keys["reader"])}", scopes: ["soap:inventory:GetStock"]}}
  jwt: {{issuer: "{ISSUER}", audience: {AUDIENCE}, jwks_file: "{idp.jwks}", leeway_s: 5}}
  audit: {{database: "sqlite:///{audit}"}}
"""
    return Estate(inventory, broker, folder, security=section), keys, idp, audit


def key(value: str) -> list[tuple[str, bytes]]:
    return [("X-API-Key", value.encode())]


def bearer(token: str) -> list[tuple[str, bytes]]:
    return [("Authorization", f"Bearer {token}".encode())]


def test_commands_need_credentials_that_hold_the_operations_scope(
    inventory: InventoryServer, broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # kafka-python's DEBUG lines dump whole produce requests
    caplog.set_level(logging.DEBUG, logger="strangler")
    estate, keys, idp, audit = secured_estate(inventory, broker, tmp_path)
    guard = estate.platform.component("security")
    assert isinstance(guard, SecurityGuard)
    sku = "SKU-2003"  # no other test of tests/events adjusts it
    good_jwt = idp.token(ADJUST_SCOPE)
    expired = idp.token(ADJUST_SCOPE, expires_in=-120)
    binary = [("ce_specversion", b"1.0"), ("ce_id", b"jwt-ok"), ("ce_source", b"/tests")]
    binary += [("ce_type", b"com.example.stock.adjust"), ("content-type", b"application/json")]
    sent: list[tuple[bytes, list[tuple[str, bytes]]]] = [
        (command("none", {"sku": sku, "delta": 100, "reason": "r"}), []),
        (command("bad-key", {"sku": sku, "delta": 100, "reason": "r"}), key("sk_not-a-key")),
        (command("expired", {"sku": sku, "delta": 100, "reason": "r"}), bearer(expired)),
        (command("scope", {"sku": sku, "delta": 100, "reason": "r"}), key(keys["reader"])),
        (command("garbled", {"sku": sku, "delta": 100, "reason": "r"}), bearer("a.b.c")),
        (command("key-ok", {"sku": sku, "delta": 3, "reason": "r"}), key(keys["adjuster"])),
        (orjson.dumps({"sku": sku, "delta": 4, "reason": "binary"}), [*binary, *bearer(good_jwt)]),
        (b"{not json", key(keys["adjuster"])),  # malformed: a dead letter
    ]
    consumer, relay = estate.replica()
    assert isinstance(consumer, GatedCalls)
    consumer.gate_calls(GuardGate(guard))

    async def body() -> None:
        async with estate.platform.running():
            before = await estate.stock(sku)
        produce(
            broker.bootstrap,
            estate.command.topic,
            [value for value, _ in sent],
            [headers for _, headers in sent],
        )
        async with running(estate.platform, [consumer, relay]):
            replies = await estate.replies(7)
            dead = await estate.dead_letters(1)
            after = await estate.stock(sku)
        assert after == before + 7  # the two admitted commands, once each
        assert consumer.stats.calls == 2 and consumer.stats.refused == 5
        by_id = {event_of(r)["correlationid"]: event_of(r) for r in replies}
        assert len(replies) == 7 and len(by_id) == 7  # one reply per command
        for ident, status in (("none", 401), ("bad-key", 401), ("expired", 401), ("garbled", 401)):
            problem = by_id[ident]
            assert problem["type"] == "strangler.inventory.AdjustStock.problem", problem
            assert problem["data"]["status"] == status
            assert problem["data"]["type"] == "urn:strangler:problem:unauthenticated"
        assert "expired" in by_id["expired"]["data"]["detail"]
        assert by_id["scope"]["data"]["status"] == 403
        assert by_id["scope"]["data"]["required_scope"] == ADJUST_SCOPE
        assert by_id["key-ok"]["data"]["AdjustStockResult"]["quantity"] == before + 3
        assert by_id["jwt-ok"]["type"] == "strangler.inventory.AdjustStock.reply"
        (letter,) = dead
        names = {name.lower() for name, _ in letter.headers}
        assert REASON_HEADER in names and "x-api-key" not in names
        await until_audited(audit, 7)
        rows = audited(audit)
        assert sorted((r["actor"], r["status"]) for r in rows) == sorted(
            [("anonymous", 401)] * 4
            + [("key:reader", 403), ("key:adjuster", 200), ("jwt:ops-bot", 200)]
        )
        assert {(r["method"], r["path"], r["scope"]) for r in rows} == {
            ("COMMAND", estate.command.topic, ADJUST_SCOPE)
        }
        with estate.hub.store.engine.connect() as connection:
            stored = [row.event for row in connection.execute(sa.select(OUTBOX.c.event))]
        # the credentials sent are nowhere: replies, dead letters, events, audit, logs
        seen = [r.value for r in [*replies, *dead]]
        seen += [repr(r.headers).encode() for r in [*replies, *dead]]
        seen += [e.encode() for e in stored] + [repr(rows).encode()]
        seen += [f"{r.getMessage()} {r.exc_text or ''}".encode() for r in caplog.records]
        for secret in [keys["adjuster"], keys["reader"], good_jwt, expired]:
            leaks = [text[:300] for text in seen if secret.encode() in text]
            assert not leaks, f"a credential leaked: {leaks}"
            signature = secret.rsplit(".", 1)[-1].encode()
            assert not any(signature in text for text in seen), "a signature leaked"

    run(body)


def audited(path: Path) -> list[dict[str, Any]]:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT * FROM strangler_audit WHERE action = 'command'")
            return [dict(r._mapping) for r in connection.execute(query)]
    finally:
        engine.dispose()


async def until_audited(path: Path, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(await asyncio.to_thread(audited, path)) < count:
        assert time.monotonic() < deadline, "the audit rows were not written in time"
        await asyncio.sleep(0.05)


def test_credentials_beside_the_event_are_no_attribute_of_it() -> None:
    """In binary mode the attributes are the ce_* headers: a credential header is none."""
    value = orjson.dumps({"sku": "SKU-1", "delta": 1, "reason": "r"})
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/s")]
    headers += [("ce_type", b"t"), ("X-API-Key", b"sk_secret"), ("Authorization", b"Bearer x")]
    attributes, _ = envelope(value, headers)
    assert set(attributes) == {"specversion", "id", "source", "type"}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def test_hostile_commands_are_refused_with_a_reason_and_call_nothing(
    inventory: InventoryServer, broker: Broker, tmp_path: Path
) -> None:
    """Oversized and deeply nested messages, broken envelopes and malformed, unsigned or
    oversized tokens: each is a dead letter with its reason or a 401 problem reply."""
    estate, keys, idp, _ = secured_estate(inventory, broker, tmp_path)
    estate.command = estate.command.model_copy(update={"max_bytes": 64 * 1024})
    guard = estate.platform.component("security")
    assert isinstance(guard, SecurityGuard)
    sku = "SKU-2003"
    good = {"sku": sku, "delta": 1, "reason": "r"}
    ok = key(keys["adjuster"])
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "scope": ADJUST_SCOPE}
    claims |= {"iat": now, "exp": now + 300}
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    hmac = jwt.encode(claims, "a-shared-secret-of-32-bytes-long!", algorithm="HS256")
    wrong_audience = jwt.encode(
        {**claims, "aud": "another"}, idp.key, algorithm="ES256", headers={"kid": "ec-1"}
    )
    not_yet = jwt.encode(
        {**claims, "nbf": now + 3600}, idp.key, algorithm="ES256", headers={"kid": "ec-1"}
    )
    dead_letters: list[tuple[bytes, list[tuple[str, bytes]], str]] = [
        (command("big", {**good, "reason": "x" * 100_000}), ok, "larger than 65536 bytes"),
        (b"[" * 5000 + b"]" * 5000, ok, "nested too deeply"),
        (command("deep", {**good, "reason": {"a": [[[[[[[[1]]]]]]]]}}), ok, "invalid input"),
        (command("x" * 300, good), ok, "id is longer than 200"),
        (command("spec", good, specversion="0.3"), ok, "specversion"),
        (command("many", {**good, **{f"f{i}": i for i in range(500)}}), ok, "unknown fields"),
        (command("b64", good, data_base64="AAAA"), ok, "data_base64"),
        (command("xml", good, datacontenttype="application/xml"), ok, "is not JSON"),
        (command("latin", good), [("X-API-Key", b"\xff\xfe")], "not UTF-8"),
    ]
    unauthenticated: list[tuple[bytes, list[tuple[str, bytes]], str]] = [
        (command("t-none", good), bearer(unsigned), "'none'"),
        (command("t-hmac", good), bearer(hmac), "HS256"),
        (command("t-aud", good), bearer(wrong_audience), "audience"),
        (command("t-nbf", good), bearer(not_yet), "not valid yet"),
        (command("t-empty", good), [("Authorization", b"Bearer")], "not a JWT"),
        (command("t-long", good), bearer("A" * 6000), "not a JWT"),
        (command("t-scheme", good), [("Authorization", keys["adjuster"].encode())], "scheme"),
        (command("t-sql", good), key("' OR 1=1 --"), "not valid"),
    ]
    cases = [*dead_letters, *unauthenticated]
    consumer, relay = estate.replica()
    consumer.gate_calls(GuardGate(guard))

    async def body() -> None:
        async with estate.platform.running():
            before = await estate.stock(sku)
        produce(
            broker.bootstrap,
            estate.command.topic,
            [value for value, _, _ in cases],
            [headers for _, headers, _ in cases],
        )
        async with running(estate.platform, [consumer, relay]):
            replies = await estate.replies(len(unauthenticated))
            dead = await estate.dead_letters(len(dead_letters))
            assert await estate.stock(sku) == before  # nothing reached the legacy system
        assert consumer.stats.calls == 0
        for record, (_, _, reason) in zip(dead, dead_letters, strict=True):
            headers = dict(record.headers)
            assert reason in headers[REASON_HEADER].decode(), (reason, headers[REASON_HEADER])
            assert not {n.lower() for n in headers} & {"x-api-key", "authorization"}
        by_id = {event_of(r)["correlationid"]: event_of(r)["data"] for r in replies}
        for value, _, reason in unauthenticated:
            problem = by_id[orjson.loads(value)["id"]]
            assert problem["status"] == 401, problem
            assert reason in problem["detail"], (reason, problem["detail"])
        assert keys["adjuster"] not in orjson.dumps(by_id).decode()

    run(body)
