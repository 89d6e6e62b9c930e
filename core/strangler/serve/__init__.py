"""Run the REST API for a spec with uvicorn (``strangler serve``).

:func:`server_options` is the one place the HTTP server is configured:
:func:`run` serves with it until interrupted, and tests serve the same
:func:`server_config` in a thread.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from strangler.spec.models import ServerTlsSpec, Spec

if TYPE_CHECKING:
    import uvicorn

__all__ = ["run", "server_config", "server_options"]


def server_options(*, host: str, port: int, tls: ServerTlsSpec | None = None) -> dict[str, Any]:
    """The uvicorn options ``strangler serve`` runs with (for ``uvicorn.run`` or ``Config``).

    Uses uvloop and httptools when installed. Requests the HTTP parser itself
    refuses (a malformed request line, a URL too long) are answered with
    problem+json too, see :mod:`strangler.serve.protocols`. With ``tls``, HTTPS
    (TLS 1.2 at least, as Python's defaults) and client certificates as it says.
    """
    import ssl

    from strangler.serve.protocols import http_protocol

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "loop": "auto",
        "http": http_protocol(),
    }
    if tls is not None:
        requirement = {
            "none": ssl.CERT_NONE,
            "optional": ssl.CERT_OPTIONAL,
            "required": ssl.CERT_REQUIRED,
        }
        options.update(
            ssl_certfile=tls.certfile,
            ssl_keyfile=tls.keyfile,
            ssl_keyfile_password=(
                tls.keyfile_password.get_secret_value() if tls.keyfile_password else None
            ),
            ssl_ca_certs=tls.client_ca,
            ssl_cert_reqs=requirement[tls.client_certs],
        )
    return options


def server_config(
    app: FastAPI, *, host: str, port: int, tls: ServerTlsSpec | None = None
) -> uvicorn.Config:
    """``app`` configured as :func:`run` serves it (tests run it in a thread)."""
    import uvicorn

    return uvicorn.Config(app, **server_options(host=host, port=port, tls=tls))


def run(
    spec: Spec, *, host: str | None = None, port: int | None = None, app: FastAPI | None = None
) -> None:
    """Serve until interrupted, logging as ``$STRANGLER_LOG_FORMAT`` says and exporting
    traces when ``$OTEL_EXPORTER_OTLP_ENDPOINT`` is set (:mod:`strangler.observability`)."""
    import uvicorn

    from strangler.observability.logs import configure_logging
    from strangler.observability.tracing import configure_tracing
    from strangler.rest.app import create_app

    configure_logging()
    configure_tracing()
    application = app or create_app(spec)
    _freeze_after_startup(application)
    uvicorn.run(
        application,
        **server_options(
            host=host or spec.server.host,
            port=port if port is not None else spec.server.port,
            tls=spec.server.tls,
        ),
    )


def _freeze_after_startup(app: FastAPI) -> None:
    """Once the app has started, move everything alive to the GC's permanent generation.

    WSDL types, models, routes, pools and imported modules live as long as the
    process; without this, every full collection walks them all while requests
    wait (40 ms page p99 and about 25 % more CPU per row on the database benchmark).
    """
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with started(application) as state:
            gc.collect()
            gc.freeze()
            yield state

    app.router.lifespan_context = lifespan
