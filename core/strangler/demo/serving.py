"""Plumbing shared by the demo's legacy servers.

:class:`ConnectionTrackingMixin` lets a threaded ``socketserver`` close its
kept-alive connections on shutdown, :class:`BackgroundServer` is the handle a
``start_*_server`` function returns for a server serving in a daemon thread,
and :func:`foreground_parser` with :func:`run_in_foreground` make up the
``python -m`` entry points.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import socketserver
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Self, TypeVar

__all__ = ["BackgroundServer", "ConnectionTrackingMixin", "foreground_parser", "run_in_foreground"]


class ConnectionTrackingMixin(socketserver.TCPServer):
    """Remembers open connections so :meth:`drop_connections` can end them.

    List it first among the bases, before ``socketserver.ThreadingMixIn``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._conns_lock:
            self._conns.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close kept-alive connections so their threads end now."""
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class BackgroundServer:
    """A server running in ``thread``; stop it with :meth:`stop` or a ``with`` block."""

    def __init__(self, server: ConnectionTrackingMixin, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread
        self._host = str(server.server_address[0])
        self._port = int(server.server_address[1])

    @property
    def host(self) -> str:
        """The address the server is bound to."""
        return self._host

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def _repr_url(self) -> str:
        """The URL :func:`repr` shows; subclasses may name a more telling one."""
        return self.base_url

    def stop(self) -> None:
        """Stop accepting, close open connections and join the serving thread."""
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._repr_url})"


_S = TypeVar("_S", bound=BackgroundServer)


def foreground_parser(prog: str, description: str, port: int) -> argparse.ArgumentParser:
    """An argument parser with ``--host`` and ``--port`` (default ``port``)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=port, help="port, 0 for any free one (default %(default)s)"
    )
    return parser


def run_in_foreground(start: Callable[[], _S], banner: Callable[[_S], str]) -> int:
    """Start a server, print ``banner(server)``, serve until Ctrl-C or SIGTERM, then stop.

    Returns the exit status, 0.
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = start()
    try:
        print(banner(server), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0
