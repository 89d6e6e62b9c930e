"""Real Airflow 3 for the DAG tests, in its own environment.

Airflow lives in ``.venv-airflow`` (made by ``./run setup``), since it pins
libraries the project's ``.venv`` moves past; the tests drive it in a
subprocess through ``airflow_probe.py``. One ``AIRFLOW_HOME`` (a SQLite
metadata database, ``airflow db migrate`` once) serves the session; the DAG
folder is the repository's ``dags/``; connections are given the way a
deployment may give them, as ``AIRFLOW_CONN_<ID>`` variables in JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port

ROOT = Path(__file__).parents[2]
DAGS = ROOT / "dags"
AIRFLOW_BIN = ROOT / ".venv-airflow" / "bin"
PROBE = Path(__file__).with_name("airflow_probe.py")


@dataclass
class Airflow:
    """An Airflow home with a migrated metadata database."""

    home: Path
    env: dict[str, str]
    migrate_seconds: float

    def probe(
        self,
        *args: str,
        spec: Path | str | None,
        connections: Mapping[str, Mapping[str, Any]] | None = None,
        env: Mapping[str, str] | None = None,
        stored: bool = False,
        timeout: float = 240,
    ) -> dict[str, Any]:
        """Run ``airflow_probe.py`` with ``args``, the spec and more ``env``; its answer.

        ``connections`` are given as ``AIRFLOW_CONN_*`` variables, or with
        ``stored`` kept in the metadata database for the run. A probe that has not
        answered in ``timeout`` seconds (under pytest's own limit) fails the test
        with every thread's stack, its output and the newest task logs.
        """
        env = {**self.env, **(env or {}), "PROBE_DEADLINE_S": str(timeout - 15)}
        if spec is not None:
            env["STRANGLER_SPEC"] = str(spec)
        if stored:
            env["PROBE_DB_CONNECTIONS"] = json.dumps(connections or {})
        else:
            for conn_id, conn in (connections or {}).items():
                env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
        started = time.time()
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            # Output to files, not pipes, and the probe in a session of its own that is
            # killed whole when it ends: a LocalExecutor worker that ``dag.test`` left
            # behind (it happens) holds on to what it inherited and would otherwise keep
            # a pipe open, so the test would wait for it until the timeout.
            probe = subprocess.Popen(
                [str(AIRFLOW_BIN / "python"), str(PROBE), *args],
                env=env,
                cwd=self.home,
                stdout=out,
                stderr=err,
                text=True,
                start_new_session=True,
            )
            try:
                code: int | str = probe.wait(timeout)
            except subprocess.TimeoutExpired:
                code = f"no answer in {timeout} s"
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(probe.pid, signal.SIGKILL)
                probe.wait()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        answers = [line for line in stdout.splitlines() if line.startswith("PROBE ")]
        if code != 0 or not answers:
            raise AssertionError(
                f"airflow_probe {' '.join(args)} ended with {code}:\n"
                f"{stdout[-6000:]}\n{stderr[-8000:]}\n{self.task_logs(started)}"
            )
        answer: dict[str, Any] = json.loads(answers[-1].removeprefix("PROBE "))
        answer["log"] = stdout + stderr
        return answer

    def task_logs(self, since: float) -> str:
        """The ends of the task logs written since ``since`` (epoch seconds), and of the
        API server's log."""
        logs = [p for p in (self.home / "logs").rglob("*.log") if p.stat().st_mtime >= since]
        logs.append(self.home / "api-server.log")
        return "\n".join(
            f"--- {p.relative_to(self.home)}\n{p.read_text(errors='replace')[-3000:]}"
            for p in logs
            if p.exists()
        )


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    if not (AIRFLOW_BIN / "airflow").exists():
        pytest.fail(f"{AIRFLOW_BIN.parent} has no Airflow: run ./run setup")
    home = tmp_path_factory.mktemp("airflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "STRANGLER"))}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA": "True",
        "STRANGLER_CACHE_DIR": str(home / "cache"),
    }
    started = time.monotonic()
    done = subprocess.run(
        [str(AIRFLOW_BIN / "airflow"), "db", "migrate"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"airflow db migrate:\n{done.stdout}\n{done.stderr}"
    return Airflow(home, env, time.monotonic() - started)


@pytest.fixture(scope="session")
def api_server(airflow: Airflow) -> Iterator[dict[str, str]]:
    """Airflow's API server, whose Execution API the executor's task processes talk to
    (their connections come through it); the environment that points a run at it."""
    port = free_port()
    log = (airflow.home / "api-server.log").open("w")
    server = subprocess.Popen(
        [str(AIRFLOW_BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=airflow.env,
        cwd=airflow.home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while not _healthy(port):
            assert server.poll() is None, (airflow.home / "api-server.log").read_text()[-4000:]
            assert time.monotonic() < deadline, "the API server did not answer in 120 s"
            time.sleep(0.2)
        # Two executor workers, not the default 32: LocalExecutor forks them all when it
        # starts and joins them all when it ends, which on a 2-core machine only adds load.
        yield {
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__PARALLELISM": "2",
        }
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _healthy(port: int) -> bool:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200
