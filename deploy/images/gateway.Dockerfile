# strangler's gateway role: the routes split between legacy and modern sides, and the SOAP shim; a side it
# calls in-process (a legacy operation, a model) needs that part here too.
# Build from the repository's root (the base image is an argument, any Debian-based Python):
#   docker build -f deploy/images/gateway.Dockerfile -t strangler-gateway .
#   podman build -f deploy/images/gateway.Dockerfile --build-arg BASE=python:3.12-slim-bookworm .
# It runs `strangler serve` over /etc/strangler/gateway.yaml (`strangler render k8s` writes
# it), as a non-root user; any other UID works too (OpenShift), with group 0.

ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ARG EXTRAS=gateway,shim,soap,rpc,db,events,inference,etl
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Where pip finds packages, when not PyPI (a private index, a folder of wheels):
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY adapters ./adapters
COPY etl ./etl
COPY inference ./inference
# The project is built into a wheel and installed with its role's extras into a venv.
RUN python3 -m venv /opt/strangler \
 && /opt/strangler/bin/pip install --no-compile "/src[${EXTRAS}]"

FROM ${BASE}
# Debian's stable packages take security fixes: pinned versions would keep them out.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends unixodbc odbc-mariadb odbc-postgresql libsqliteodbc tdsodbc \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --gid 0 --no-create-home --home-dir /var/lib/strangler strangler \
 && mkdir -p /var/lib/strangler/cache /etc/strangler \
 && chgrp -R 0 /var/lib/strangler /etc/strangler \
 && chmod -R g=u /var/lib/strangler /etc/strangler
COPY --from=build /opt/strangler /opt/strangler
ENV PATH=/opt/strangler/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/strangler \
    STRANGLER_CACHE_DIR=/var/lib/strangler/cache \
    STRANGLER_LOG_FORMAT=json
WORKDIR /var/lib/strangler
USER 10001:0
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["strangler"]
CMD ["serve", "--config", "/etc/strangler/gateway.yaml", "--host", "0.0.0.0", "--port", "8000"]
