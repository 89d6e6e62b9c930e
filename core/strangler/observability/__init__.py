"""What an operator sees of a running strangler: metrics, traces and logs.

* :mod:`.metrics`: the REST edge's requests per route and the legacy operations'
  calls, by outcome (the parts add their own: the gateway's sides, the models,
  the breakers, the outbox, ETL runs), all in the process's default Prometheus
  registry served at ``/metrics``;
* :mod:`.tracing`: OpenTelemetry spans from the REST request to the legacy call,
  the W3C ``traceparent`` sent on outgoing HTTP, exported over OTLP when
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set;
* :mod:`.logs`: JSON log lines carrying the request id and the trace id;
* :mod:`.edge`: the ASGI middleware that ties the three to each request.
"""
