"""Fixtures for the REST edge: apps served as ``strangler serve`` serves them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from fastapi import FastAPI

from strangler.serve import server_config
from tests.servers import free_port, run_config


@contextlib.contextmanager
def serving(app: FastAPI, http: type[asyncio.Protocol] | None = None) -> Iterator[str]:
    """Serve ``app`` with the server config of ``strangler serve``, in a thread; yield its URL.

    ``http`` replaces the HTTP protocol class (to test the one not picked here).
    """
    config = server_config(app, host="127.0.0.1", port=free_port())
    if http is not None:
        config.http = http
    with run_config(config) as url:
        yield url
