"""XML-RPC introspection, done once and synchronously when the adapter is built.

``system.listMethods`` names the methods; ``system.methodSignature`` and
``system.methodHelp`` type and describe them (in one ``system.multicall`` when
the server has it, else one call each). The OpenAPI document must be complete
before the app serves, hence the blocking calls with a short timeout.

What a server told is kept in the cache folder, so a restart while the legacy
system is down still serves the same API.

Credentials in the URL (``http://user:secret@host/RPC2``) are sent as HTTP basic
auth, as the async calls send them; the password never reaches a log line or
the cache file.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from strangler.adapters.calls import basic_auth_header
from strangler.adapters.calls.tls import ssl_context
from strangler.adapters.rpc.xmlrpc_codec import CONTENT_TYPE, decode_reply, encode_call
from strangler.errors import LegacyError, LegacyFault
from strangler.errors.redact import mask_url, mask_urls
from strangler.paths import default_cache_dir
from strangler.spec.common import BasicAuth, CallPolicy
from strangler.spec.rpc import XmlRpcSystem

__all__ = ["Discovered", "discover"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Discovered:
    """What introspection says of one method; ``None`` where it would not say."""

    signatures: list[list[str]] | None
    help: str | None


class _Client:
    """Blocking XML-RPC calls over urllib (no proxies, like the async path)."""

    def __init__(self, system: str, spec: XmlRpcSystem, headers: dict[str, str]) -> None:
        self.system, self.spec = system, spec
        self.url, credentials = _without_userinfo(spec.url)
        self.headers = {**credentials, **headers}
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=ssl_context(spec.tls)),
        )

    def __call__(self, method: str, *params: Any) -> Any:
        request = urllib.request.Request(
            self.url, data=encode_call(method, params), headers=self.headers, method="POST"
        )
        limit = self.spec.max_response_bytes
        try:
            with self.opener.open(request, timeout=self.spec.introspect_timeout_s) as response:
                status, content = response.status, response.read(limit + 1)
        except urllib.error.HTTPError as exc:
            status, content = exc.code, exc.read(limit + 1)
        if len(content) > limit:
            raise ValueError(f"answer to {method} larger than {limit} bytes")
        return decode_reply(status, content, system=self.system, operation=method, spec=self.spec)


def discover(
    system: str, spec: XmlRpcSystem, headers: dict[str, str], cache_dir: Path | None
) -> dict[str, Discovered] | None:
    """The server's methods, or the cached ones, or ``None`` when neither is known."""
    cache = (cache_dir or default_cache_dir()) / "xmlrpc" / _key(spec.url)
    call = _Client(system, spec, {**headers, "Content-Type": CONTENT_TYPE})
    try:
        found = _ask(call)
    except (LegacyError, OSError, ValueError, http.client.HTTPException) as exc:
        log.warning(
            "%s: introspection failed (%s); using cached or declared methods",
            system,
            mask_urls(str(exc) or type(exc).__name__),
        )
        return _load(cache)
    _save(cache, spec.url, found)
    return found


def _ask(call: _Client) -> dict[str, Discovered]:
    names = call("system.listMethods")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("system.listMethods did not answer a list of names")
    names = [n for n in names if not n.startswith("system.")]
    try:
        batch = [{"methodName": m, "params": [n]} for n in names for m in _ASKED]
        answers = call("system.multicall", batch) if names else []
        pairs = [(_value(answers[2 * i]), _value(answers[2 * i + 1])) for i in range(len(names))]
    except (LegacyFault, IndexError, TypeError):
        pairs = [(_guarded(call, _ASKED[0], n), _guarded(call, _ASKED[1], n)) for n in names]
    return {
        name: Discovered(_signatures(sig), text if isinstance(text, str) and text else None)
        for name, (sig, text) in zip(names, pairs, strict=True)
    }


_ASKED = ("system.methodSignature", "system.methodHelp")


def _value(answer: Any) -> Any:
    return answer[0] if isinstance(answer, list) and len(answer) == 1 else None


def _guarded(call: _Client, method: str, name: str) -> Any:
    try:
        return call(method, name)
    except LegacyFault:
        return None


def _signatures(value: Any) -> list[list[str]] | None:
    """Signatures as ``[[result, param...], ...]``; anything else ("undef") means unknown."""
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(sig, list) and sig and all(isinstance(t, str) for t in sig) for sig in value):
        return [list(sig) for sig in value]
    return None


def _without_userinfo(url: str) -> tuple[str, dict[str, str]]:
    """The URL without ``user:password@``, and those credentials as a basic auth header
    (urllib would take them for part of the host name)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, {}
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    auth = BasicAuth(kind="basic", username=user, password=SecretStr(password))
    header = basic_auth_header(CallPolicy(auth=auth))
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), header


def _key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:24] + ".json"


def _save(path: Path, url: str, found: dict[str, Discovered]) -> None:
    data = {"url": mask_url(url), "methods": {n: [d.signatures, d.help] for n, d in found.items()}}
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(data), encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        log.warning("cannot cache the introspection of %s: %s", mask_url(url), exc)


def _load(path: Path) -> dict[str, Discovered] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {n: Discovered(_signatures(s), h) for n, (s, h) in data["methods"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None
