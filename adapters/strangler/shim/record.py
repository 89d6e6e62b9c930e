"""A recording proxy in front of a legacy SOAP system.

Every request to the proxy goes to the legacy system unchanged (hop-by-hop
headers dropped; to the legacy URL itself when it has a path, else to the
request's path under it, the query kept) and its answer comes back unchanged.
Each ``POST`` exchange is written into the folder as three files::

    000001.json            what was asked and answered: method, path, operation,
                           SOAP version, both sides' headers, status, time taken
    000001.request.xml     the request body as sent
    000001.response.xml    the answer's body as received

Numbers continue after the files already in the folder, so several sessions
add to one recording. ``GET`` requests (``?wsdl``, ``?xsd=…``) pass through
unrecorded. :func:`strangler.shim.replay.replay_folder` reads the folder back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from strangler.shim.canonical import XmlError, parse_xml

__all__ = [
    "Exchange",
    "RecordError",
    "Recorder",
    "read_exchanges",
    "run_recorder",
]

HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
        "content-encoding",
    }
)
MAX_BODY_BYTES: Final = 64 << 20
_META = re.compile(r"(\d{6,})\.json")
_ENVELOPES: Final = {
    "http://schemas.xmlsoap.org/soap/envelope/": "1.1",
    "http://www.w3.org/2003/05/soap-envelope": "1.2",
}


class RecordError(ValueError):
    """The recorder cannot start: a bad legacy URL, folder or listen address."""


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its answer (the bodies live in files beside it)."""

    index: int
    method: str
    path: str
    operation: str | None
    soap_version: str | None
    request_headers: list[tuple[str, str]]
    status: int
    response_headers: list[tuple[str, str]]
    elapsed_ms: float
    recorded_at: str
    request_file: str
    response_file: str

    def header(self, name: str, *, response: bool = False) -> str | None:
        """The first header ``name`` (any case) of the request, or of the answer."""
        wanted = name.lower()
        headers = self.response_headers if response else self.request_headers
        return next((v for k, v in headers if k.lower() == wanted), None)


def read_exchanges(folder: Path) -> list[tuple[Exchange, bytes, bytes]]:
    """The exchanges of a recording, in order, with request and response bodies."""
    if not folder.is_dir():
        raise RecordError(f"{folder}: not a folder")
    found: list[tuple[Exchange, bytes, bytes]] = []
    for meta in sorted(folder.glob("*.json"), key=lambda p: p.name):
        if not _META.fullmatch(meta.name):
            continue
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            data["request_headers"] = [tuple(h) for h in data["request_headers"]]
            data["response_headers"] = [tuple(h) for h in data["response_headers"]]
            exchange = Exchange(**data)
            request = (folder / exchange.request_file).read_bytes()
            response = (folder / exchange.response_file).read_bytes()
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise RecordError(f"{meta}: not a recorded exchange ({exc})") from None
        found.append((exchange, request, response))
    return found


def _next_index(folder: Path) -> int:
    numbers = [int(m.group(1)) for p in folder.glob("*.json") if (m := _META.fullmatch(p.name))]
    return max(numbers, default=0) + 1


def _soap_info(body: bytes) -> tuple[str | None, str | None]:
    """The operation (first child of the Body) and the SOAP version, when readable."""
    try:
        root = parse_xml(body)
    except XmlError:
        return None, None
    namespace, _, local = str(root.tag).lstrip("{").rpartition("}")
    version = _ENVELOPES.get(namespace) if local == "Envelope" else None
    if version is None:
        return None, None
    for part in root:
        if str(part.tag) == f"{{{namespace}}}Body":
            first = next((c for c in part if isinstance(c.tag, str)), None)
            return (str(first.tag).rsplit("}", 1)[-1] if first is not None else None), version
    return None, version


class Recorder:
    """The proxy: forwards to ``target`` and writes each ``POST`` exchange into ``folder``."""

    def __init__(
        self,
        folder: Path,
        target: str,
        *,
        timeout_s: float = 30,
        limit: int | None = None,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RecordError(f"{target!r}: the legacy address must be an http(s) URL")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordError(f"{folder}: cannot write there ({exc.strerror})") from None
        self.folder = folder
        self.target = target.rstrip("/")
        self.timeout_s = timeout_s
        self.limit = limit
        self.on_exchange = on_exchange
        self.recorded = 0
        self.done = asyncio.Event()
        self._next = _next_index(folder)
        self._lock = asyncio.Lock()
        self._runner: Any = None
        self._session: Any = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port``; the proxy's base URL."""
        import aiohttp
        from aiohttp import web

        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_s), auto_decompress=False
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await self.close()
            raise RecordError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        server: Any = site._server  # aiohttp gives no public way to read the bound port
        bound = server.sockets[0].getsockname()
        shown = f"[{bound[0]}]" if ":" in str(bound[0]) else str(bound[0])
        return f"http://{shown}:{bound[1]}"

    def _url(self, request: Any) -> str:
        """The legacy URL: ``--to`` itself when it has a path, else the request's path under it."""
        if urlsplit(self.target).path not in ("", "/"):
            return self.target + (f"?{request.query_string}" if request.query_string else "")
        return self.target + str(request.path_qs)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: Any) -> Any:
        from aiohttp import ClientError, web

        body = await request.read()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        began = time.perf_counter()
        try:
            async with self._session.request(
                request.method,
                self._url(request),
                data=body,
                headers=headers,
                allow_redirects=False,
            ) as answer:
                reply = await answer.read()
                status = answer.status
                reply_headers = [
                    (k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP
                ]
        except (ClientError, TimeoutError) as exc:
            reason = f"the legacy system did not answer: {type(exc).__name__} {exc}"
            return web.Response(status=502, text=reason + "\n")
        elapsed_ms = (time.perf_counter() - began) * 1000
        if request.method == "POST" and not self.done.is_set():
            await self._write(request, headers, body, status, reply_headers, reply, elapsed_ms)
        response = web.Response(status=status, body=reply)
        for key, value in reply_headers:
            response.headers.add(key, value)
        return response

    async def _write(
        self,
        request: Any,
        headers: list[tuple[str, str]],
        body: bytes,
        status: int,
        reply_headers: list[tuple[str, str]],
        reply: bytes,
        elapsed_ms: float,
    ) -> None:
        async with self._lock:
            index, self._next = self._next, self._next + 1
            operation, version = _soap_info(body)
            stem = f"{index:06d}"
            exchange = Exchange(
                index=index,
                method=request.method,
                path=request.path_qs,
                operation=operation,
                soap_version=version,
                request_headers=headers,
                status=status,
                response_headers=reply_headers,
                elapsed_ms=round(elapsed_ms, 3),
                recorded_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                request_file=f"{stem}.request.xml",
                response_file=f"{stem}.response.xml",
            )
            (self.folder / exchange.request_file).write_bytes(body)
            (self.folder / exchange.response_file).write_bytes(reply)
            meta = json.dumps(asdict(exchange), indent=2, ensure_ascii=False) + "\n"
            (self.folder / f"{stem}.json").write_text(meta, encoding="utf-8")
            self.recorded += 1
            if self.on_exchange is not None:
                self.on_exchange(exchange)
            if self.limit is not None and self.recorded >= self.limit:
                self.done.set()


def run_recorder(
    folder: Path,
    target: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8089,
    timeout_s: float = 30,
    limit: int | None = None,
    on_ready: Callable[[str], None] | None = None,
    on_exchange: Callable[[Exchange], None] | None = None,
) -> int:
    """Record until SIGINT/SIGTERM (or ``limit`` exchanges); the number recorded."""

    async def main() -> int:
        recorder = Recorder(
            folder, target, timeout_s=timeout_s, limit=limit, on_exchange=on_exchange
        )
        url = await recorder.start(host, port)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, recorder.done.set)
        if on_ready is not None:
            on_ready(url)
        try:
            await recorder.done.wait()
        finally:
            await recorder.close()
        return recorder.recorded

    return asyncio.run(main())
