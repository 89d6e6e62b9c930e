"""OpenTelemetry tracing: one trace from the REST request to the legacy call.

The edge opens a server span per request, continuing the caller's W3C
``traceparent`` when it sends one (:func:`server_span`); the legacy call opens a
client span under it and sends its own ``traceparent`` (and ``tracestate``) on
the outgoing HTTP request (:func:`client_span`), so the legacy system's logs
(or its own tracing) join the same trace.

The OpenTelemetry API is optional (the ``telemetry`` extra): without it these
functions do nothing. Spans are recorded once a tracer provider is set: by
:func:`configure_tracing` (which ``strangler serve`` calls), exporting over
OTLP/HTTP to ``$OTEL_EXPORTER_OTLP_ENDPOINT`` when it is set, or by an
application or test that sets its own provider first.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

__all__ = ["client_span", "configure_tracing", "current_ids", "failed", "server_span"]

log = logging.getLogger(__name__)

try:
    from opentelemetry import context, propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # the telemetry extra is not installed
    trace = None  # type: ignore[assignment]

_NAME = "strangler"


def configure_tracing(service: str | None = None, endpoint: str | None = None) -> bool:
    """Export spans over OTLP/HTTP when ``endpoint`` (default ``$OTEL_EXPORTER_OTLP_ENDPOINT``)
    is set and no provider is set yet; whether it did."""
    endpoint = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if trace is None or not endpoint:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the telemetry extra is missing")
        return False
    name = service or os.environ.get("OTEL_SERVICE_NAME") or _NAME
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    traces = endpoint.rstrip("/")
    if not traces.endswith("/v1/traces"):
        traces += "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces)))
    trace.set_tracer_provider(provider)
    return True


@contextlib.contextmanager
def server_span(name: str, headers: Mapping[str, str], attributes: dict[str, Any]) -> Iterator[Any]:
    """A server span continuing the caller's ``traceparent`` (the span, or ``None``)."""
    if trace is None:
        yield None
        return
    if not _recording():
        # no tracer provider: no spans, but a caller's trace context still reaches the
        # legacy call (its traceparent is sent on as it came)
        if "traceparent" not in headers:
            yield None
            return
        token = context.attach(propagate.extract(headers))
        try:
            yield None
        finally:
            context.detach(token)
        return
    parent = propagate.extract(headers)
    tracer = trace.get_tracer(_NAME)
    with tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.SERVER, attributes=attributes
    ) as span:
        yield span


@contextlib.contextmanager
def client_span(
    name: str, headers: MutableMapping[str, str], attributes: dict[str, Any]
) -> Iterator[Any]:
    """A client span around an outgoing call; its ``traceparent`` is put into ``headers``."""
    if trace is None:
        yield None
        return
    if not _recording():
        if trace.get_current_span().get_span_context().is_valid:
            propagate.inject(headers)  # the caller's context, passed on
        yield None
        return
    tracer = trace.get_tracer(_NAME)
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
        propagate.inject(headers)
        yield span


def _recording() -> bool:
    """Whether a tracer provider is set (spans are made); the API's default makes none."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def failed(span: Any, exc: BaseException) -> None:
    """Mark ``span`` (from either context manager) as failed by ``exc``."""
    if span is not None and trace is not None:
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def current_ids() -> tuple[str | None, str | None]:
    """The current span's trace id and span id as hex (``None`` when there is none)."""
    if trace is None:
        return None, None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
