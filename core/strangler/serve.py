"""Run the REST API for a spec with uvicorn (``strangler serve``)."""

from __future__ import annotations

from fastapi import FastAPI

from strangler.spec.models import Spec

__all__ = ["run"]


def run(
    spec: Spec, *, host: str | None = None, port: int | None = None, app: FastAPI | None = None
) -> None:
    """Serve until interrupted; uses uvloop and httptools when installed."""
    import uvicorn

    from strangler.rest.app import create_app

    uvicorn.run(
        app or create_app(spec),
        host=host or spec.server.host,
        port=port if port is not None else spec.server.port,
        log_level="warning",
        access_log=False,
        loop="auto",
        http="auto",
    )
