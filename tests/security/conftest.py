"""The demo estate behind a closed REST edge: real keys, a real JWKS server, Redis.

One estate (SOAP inventory, XML-RPC pricing, the ERP in SQLite) runs for the
session; each test module serves the demo spec with a ``security:`` section
of its own over real HTTP. Signing keys are made here with ``cryptography``;
the identity provider's JWKS is served by a local HTTP server whose key set a
test can rotate, and which counts its fetches.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from strangler.demo.estate import DEMO_SPEC, Estate, running_estate
from strangler.security.keys import hash_key, new_key
from strangler.spec import Spec, parse_spec

ISSUER = "https://idp.test/"
AUDIENCE = "strangler-tests"
PLANTED = {
    "PLANTED_LEGACY_PASSWORD": "Pl4nted-legacy-" + uuid.uuid4().hex,
    "PLANTED_AUDIT_PASSWORD": "Pl4nted-audit-" + uuid.uuid4().hex,
    "PLANTED_REDIS_PASSWORD": "Pl4nted-redis-" + uuid.uuid4().hex,
}
"""Secrets given to the spec through the environment; they must never be seen again."""


@dataclass
class Signer:
    """A private key and the public JWK the provider publishes for it."""

    kid: str
    alg: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        algorithm = {"RS": RSAAlgorithm, "ES": ECAlgorithm, "Ed": OKPAlgorithm}[self.alg[:2]]
        data: dict[str, Any] = json.loads(algorithm.to_jwk(public))
        return {**data, "kid": self.kid, "use": "sig"}

    def token(self, claims: Mapping[str, Any] | None = None, **header: Any) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            "scope": "db:erp:*:read",
            **(claims or {}),
        }
        return jwt.encode(
            body, self.private, algorithm=self.alg, headers={"kid": self.kid, **header}
        )


def make_signer(kid: str, alg: str) -> Signer:
    if alg.startswith("RS"):
        return Signer(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    if alg == "ES256":
        return Signer(kid, alg, ec.generate_private_key(ec.SECP256R1()))
    return Signer(kid, alg, ed25519.Ed25519PrivateKey.generate())


@dataclass
class JwksServer:
    """The identity provider's JWKS endpoint: its keys can be rotated; fetches are counted."""

    url: str
    keys: list[dict[str, Any]] = field(default_factory=list)
    fetches: int = 0
    first: list[dict[str, Any]] = field(default_factory=list)
    """The keys published at first (each test starts with them)."""


@pytest.fixture(scope="session")
def signers() -> dict[str, Signer]:
    return {
        "rsa": make_signer("rsa-1", "RS256"),
        "ec": make_signer("ec-1", "ES256"),
        "ed": make_signer("ed-1", "EdDSA"),
        "rotated": make_signer("rsa-2", "RS256"),
        "stranger": make_signer("rsa-1", "RS256"),  # same kid, another key
    }


@pytest.fixture(scope="session")
def jwks(signers: dict[str, Signer]) -> Iterator[JwksServer]:
    state = JwksServer(url="")
    state.first = [signers[n].jwk() for n in ("rsa", "ec", "ed")]
    state.keys = list(state.first)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches += 1
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _first_jwks_keys(request: pytest.FixtureRequest) -> None:
    """A test that rotates the provider's keys does not leave them rotated for the next."""
    if "jwks" in request.fixturenames:
        server: JwksServer = request.getfixturevalue("jwks")
        server.keys = list(server.first)


@dataclass(frozen=True)
class Keys:
    """API keys in clear (what clients send) and the environment holding their hashes."""

    clear: dict[str, str]
    env: dict[str, str]


@pytest.fixture(scope="session")
def api_keys() -> Keys:
    clear = {name: new_key() for name in ("reader", "writer", "ops", "all")}
    env = {
        f"KEY_{name.upper()}": hash_key(key, "scrypt" if name == "ops" else "sha256")
        for name, key in clear.items()
    }
    return Keys(clear, env)


KEYS_SECTION = """
  keys:
    reader:
      hash: "${KEY_READER}"
      scopes: ["db:*:*:read", "soap:inventory:GetStock", "stream:*:read"]
    writer: {hash: "${KEY_WRITER}", scopes: ["db:erp:*", "soap:inventory:*"]}
    ops: {hash: "${KEY_OPS}", scopes: [admin]}
    all: {hash: "${KEY_ALL}", scopes: ["*"]}
"""


@pytest.fixture(scope="session")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    with running_estate(state_dir=tmp_path_factory.mktemp("secured-estate")) as running:
        yield running


def secured_spec(
    estate: Estate, security: str, env: Mapping[str, str], legacy_auth: bool = False
) -> Spec:
    """The demo spec with ``security`` (YAML under ``security:``) appended."""
    text = DEMO_SPEC.read_text(encoding="utf-8")
    if legacy_auth:  # a password towards the legacy system, from the environment
        text = text.replace(
            "    timeout_s: 5\n    safe_operations:",
            "    timeout_s: 5\n"
            '    auth: {kind: basic, username: app, password: "${PLANTED_LEGACY_PASSWORD}"}\n'
            "    safe_operations:",
            1,
        )
    text += "\nsecurity:\n" + security
    return parse_spec(
        text,
        filename="secured.yaml",
        base_dir=DEMO_SPEC.parent,
        env={**estate.env, **PLANTED, **env},
    )


def sqlite_url(folder: Path, name: str) -> str:
    return f"sqlite:///{folder / name}"
