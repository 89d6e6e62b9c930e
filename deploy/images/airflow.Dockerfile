# Airflow with strangler and its DAGs: the ETL of the spec's feature views, run by Airflow's
# own executors (Local, Celery or Kubernetes). The DAGs read the spec at STRANGLER_SPEC.
#   docker build -f deploy/images/airflow.Dockerfile -t strangler-airflow .
# The base is Airflow's own image (its user is 50000 with group 0, so any UID works).

ARG BASE=apache/airflow:3.3.2-python3.11

FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Where pip finds packages, when not PyPI (a private index, a folder of wheels):
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
WORKDIR /tmp/strangler
COPY pyproject.toml README.md ./
COPY core ./core
COPY adapters ./adapters
COPY etl ./etl
COPY inference ./inference
RUN pip wheel --no-deps --wheel-dir /tmp/wheels .

FROM ${BASE}
USER 0
# Debian's stable packages take security fixes: pinned versions would keep them out.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends unixodbc odbc-mariadb odbc-postgresql libsqliteodbc tdsodbc \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /etc/strangler \
 && chgrp 0 /etc/strangler \
 && chmod g=u /etc/strangler
USER 50000:0
COPY --from=build /tmp/wheels /tmp/wheels
# Airflow stays at the base image's version: pip is held to it while strangler goes in; the
# providers take the newest releases that fit it (ranges, not pins, for their fixes).
# hadolint ignore=DL3013
RUN AIRFLOW="apache-airflow==$(airflow version)" \
 && WHEEL="$(find /tmp/wheels -name 'strangler-*.whl')" \
 && pip install --no-cache-dir "${AIRFLOW}" "${WHEEL}[db,soap,rpc,etl]" \
    "apache-airflow-providers-common-sql>=2.4" "apache-airflow-providers-odbc>=4.13" \
    "apache-airflow-providers-postgres>=7.1"
COPY --chown=airflow:0 dags /opt/airflow/dags
ENV STRANGLER_SPEC=/etc/strangler/strangler.yaml \
    STRANGLER_LOG_FORMAT=json
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=5 \
  CMD ["airflow", "jobs", "check", "--local", "--limit", "1"]
