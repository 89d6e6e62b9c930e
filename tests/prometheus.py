"""Debian's Prometheus run by a test: a free loopback port, a temporary directory, a short scrape.

``run_prometheus(targets, workdir)`` writes a scrape configuration (every target
scraped each ``scrape_interval``), starts ``prometheus`` and yields a
:class:`Prometheus` once it answers ``/-/ready``; it is stopped (SIGTERM, then
SIGKILL) on exit. Its query helpers wrap the HTTP API's instant query.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.servers import free_port

__all__ = ["Prometheus", "prometheus_binary", "run_prometheus", "scrape_config"]


def prometheus_binary() -> str:
    """The prometheus executable; a clear failure when it is missing (``./run setup``)."""
    found = shutil.which("prometheus", path=os.environ.get("PATH", "") + ":/usr/bin:/usr/sbin")
    if found is None:
        raise RuntimeError("prometheus is not installed: ./run setup (apt-get install prometheus)")
    return found


def scrape_config(
    targets: Mapping[str, Sequence[str]],
    scrape_interval: str = "1s",
    metrics_path: str = "/metrics",
) -> str:
    """A ``prometheus.yml``: one job per name in ``targets`` (``host:port`` entries)."""
    lines = [
        f"global: {{scrape_interval: {scrape_interval}, evaluation_interval: {scrape_interval}}}",
        "scrape_configs:",
    ]
    for job, hosts in targets.items():
        listed = ", ".join(f"'{host}'" for host in hosts)
        lines += [
            f"  - job_name: '{job}'",
            f"    metrics_path: '{metrics_path}'",
            f"    scrape_timeout: {scrape_interval}",
            f"    static_configs: [{{targets: [{listed}]}}]",
        ]
    return "\n".join(lines) + "\n"


class Prometheus:
    """A running Prometheus: its URL and instant queries."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log
        self._client = httpx.Client(base_url=url, timeout=10)

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar as a one-element list) of ``promql`` now."""
        answer = self._client.get("/api/v1/query", params={"query": promql})
        body = answer.json()
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus refused {promql!r}: {body.get('error')}")
        data = body["data"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The single value of ``promql`` now (``None`` for an empty result)."""
        result = self.query(promql)
        if not result:
            return None
        if len(result) > 1:
            raise RuntimeError(f"{promql!r} gives {len(result)} series, not one")
        return float(result[0]["value"][1])

    def wait_for(
        self,
        promql: str,
        accept: Callable[[float], bool] = lambda _: True,
        timeout: float = 30,
    ) -> float:
        """Poll ``promql`` until it has a value that ``accept`` takes; that value."""
        deadline = time.monotonic() + timeout
        last: float | None = None
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log.read_text(errors='replace')}")
            last = self.value(promql)
            if last is not None and accept(last):
                return last
            if time.monotonic() > deadline:
                raise TimeoutError(f"{promql!r} was {last} after {timeout} s")
            time.sleep(0.2)

    def wait_scraped(self, job: str, timeout: float = 30) -> None:
        """Wait until every target of ``job`` has been scraped up."""
        self.wait_for(f'min(up{{job="{job}"}})', lambda up: up == 1, timeout)

    def close(self) -> None:
        self._client.close()


@contextlib.contextmanager
def run_prometheus(
    targets: Mapping[str, Sequence[str]] | str,
    workdir: Path,
    scrape_interval: str = "1s",
    timeout: float = 60,
) -> Iterator[Prometheus]:
    """Run Prometheus scraping ``targets`` (jobs of ``host:port``, or a whole config text)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    text = targets if isinstance(targets, str) else scrape_config(targets, scrape_interval)
    config.write_text(text)
    port = free_port()
    log = workdir / "prometheus.log"
    command = [
        prometheus_binary(),
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
        "--log.level=warn",
    ]
    with log.open("ab") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=sink, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    prometheus = Prometheus(url, process, log)
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url):
            if process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus was not ready within {timeout} s")
            time.sleep(0.1)
        yield prometheus
    finally:
        prometheus.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
