"""Traps that notice being touched: a local HTTP server and a named pipe.

Hostile XML names them where an attacker would name ``http://attacker/evil.dtd`` or
``file:///etc/passwd``; a safe parser leaves both untouched. The HTTP trap counts every
connection (not only whole requests); the file trap is a named pipe, which a reader
cannot open without a writer: a thread keeps trying to open it for writing, which
succeeds only while something has it open for reading, so an open never goes unseen
(and never hangs the reader: the thread writes a line and closes).
"""

from __future__ import annotations

import errno
import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FileTrap", "HttpTrap", "armed", "file_trap", "http_trap"]


class _CountingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    connections = 0

    def verify_request(self, request: object, client_address: object) -> bool:
        self.connections += 1
        return True


class _Answer(http.server.BaseHTTPRequestHandler):
    """Answers what an attacker's server would: an entity definition."""

    def do_GET(self) -> None:
        body = b'<!ENTITY send "exfiltrated">'
        self.send_response(200)
        self.send_header("Content-Type", "application/xml-dtd")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@dataclass
class HttpTrap:
    """A local HTTP server; ``connections`` counts every connection made to it."""

    url: str
    server: _CountingServer

    @property
    def connections(self) -> int:
        return self.server.connections


@contextmanager
def http_trap() -> Iterator[HttpTrap]:
    server = _CountingServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpTrap(f"http://127.0.0.1:{server.server_address[1]}", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass
class FileTrap:
    """A named pipe at ``path``; ``opened`` counts the times a reader opened it."""

    path: Path
    opened: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)


@contextmanager
def file_trap(folder: Path) -> Iterator[FileTrap]:
    trap = FileTrap(folder / "secret")
    os.mkfifo(trap.path)

    def watch() -> None:
        while not trap._stop.wait(0.001):
            try:
                fd = os.open(trap.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no reader: nothing opened it
                    continue
                raise
            trap.opened += 1
            try:
                os.write(fd, b"root:x:0:0:secret\n")
            finally:
                os.close(fd)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield trap
    finally:
        trap._stop.set()
        thread.join(10)


def armed(data: bytes, http: HttpTrap, file: FileTrap) -> bytes:
    """``data`` with ``@HTTP@`` and ``@FILE@`` pointing at the traps, in whichever of
    UTF-8, UTF-16 or UTF-32 (either byte order) the file is written."""
    for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        data = data.replace("@HTTP@".encode(codec), http.url.encode(codec))
        data = data.replace("@FILE@".encode(codec), str(file.path).encode(codec))
    return data
