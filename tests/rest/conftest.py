"""Fixtures for the REST edge: apps served as ``strangler serve`` serves them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from strangler.serve import server_config
from tests.servers import free_port


@contextlib.contextmanager
def serving(app: FastAPI, http: type[asyncio.Protocol] | None = None) -> Iterator[str]:
    """Serve ``app`` with the server config of ``strangler serve``, in a thread; yield its URL.

    ``http`` replaces the HTTP protocol class (to test the one not picked here).
    """
    config = server_config(app, host="127.0.0.1", port=free_port())
    if http is not None:
        config.http = http
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)
