"""A legacy SOAP endpoint for tests that records every request it receives.

It answers each POST with one canned SOAP 1.1 reply and keeps the raw body, so a test
can check what reached the legacy system (and that nothing did).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.servers import serve_http

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def envelope(body: str) -> bytes:
    """A SOAP 1.1 envelope around ``body`` (XML text)."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP11}">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


@dataclass
class Recorder:
    """What the endpoint received, in order."""

    url: str
    received: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def recording_server(reply_body: str) -> Iterator[Recorder]:
    """An endpoint answering every POST with ``envelope(reply_body)``."""
    answer = envelope(reply_body)
    recorder = Recorder(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with recorder.lock:
                recorder.received.append(body)
            self.send_response(200)
            self.send_header("content-type", "text/xml; charset=utf-8")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        recorder.url = url
        yield recorder
