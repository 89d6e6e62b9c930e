"""Helpers shared by the benchmarks: servers as subprocesses, a threaded load
driver, percentiles, machine facts and the results file.

Every benchmark compares our code with a peer in the same run and writes a
JSON list of ``Result`` records to ``bench/results/<name>.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Literal

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- statistics -----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linearly interpolated."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


@dataclass(frozen=True)
class LoadResult:
    """One load run: every call's latency and what it cost the client."""

    latencies_ns: list[int]
    wall_s: float
    client_cpu_s: float

    @property
    def calls(self) -> int:
        return len(self.latencies_ns)

    def p(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return percentile(self.latencies_ns, q) / 1e6

    @property
    def throughput(self) -> float:
        """Calls per second."""
        return self.calls / self.wall_s

    @property
    def client_cpu_us_per_call(self) -> float:
        return self.client_cpu_s / self.calls * 1e6


# --- load driver ----------------------------------------------------------------------------

Call = Callable[[], None]


def run_load(make_call: Callable[[], Call], concurrency: int, duration_s: float) -> LoadResult:
    """Run ``concurrency`` threads calling for ``duration_s`` seconds.

    ``make_call`` is run once per thread, before the clock starts, so each
    thread can open its own connection. The first error stops the run and is
    raised here.
    """
    calls = [make_call() for _ in range(concurrency)]
    per_thread: list[list[int]] = [[] for _ in range(concurrency)]
    errors: list[BaseException] = []
    start = threading.Barrier(concurrency + 1)
    stop = threading.Event()

    def worker(call: Call, out: list[int]) -> None:
        clock = time.perf_counter_ns
        start.wait()
        try:
            while not stop.is_set():
                began = clock()
                call()
                out.append(clock() - began)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [
        threading.Thread(target=worker, args=(c, o), daemon=True)
        for c, o in zip(calls, per_thread, strict=True)
    ]
    for thread in threads:
        thread.start()
    cpu0 = time.process_time()
    start.wait()
    began = time.perf_counter()
    stop.wait(duration_s)
    stop.set()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    cpu = time.process_time() - cpu0
    if errors:
        raise errors[0]
    return LoadResult([x for out in per_thread for x in out], wall, cpu)


def http_poster(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str]
) -> Callable[[], Call]:
    """A ``make_call`` for :func:`run_load`: POST ``body`` on a keep-alive connection."""

    def make() -> Call:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        sent = {"Content-Length": str(len(body)), **headers}

        def call() -> None:
            conn.request("POST", path, body, sent)
            reply = conn.getresponse()
            data = reply.read()
            if reply.status != 200:
                raise RuntimeError(f"POST {path}: HTTP {reply.status}: {data[:300]!r}")

        return call

    return make


# --- subprocesses ---------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@contextlib.contextmanager
def terminate_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into ``SystemExit`` so ``finally`` blocks run."""

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    old = {sig: signal.signal(sig, leave) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def background(cmd: Sequence[str], log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` in its own process group; kill the whole group on exit, whatever happens."""
    proc = subprocess.Popen(
        list(cmd),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue


def wait_http(
    proc: subprocess.Popen[bytes], host: str, port: int, path: str, timeout_s: float = 30.0
) -> None:
    """Poll ``GET path`` until it answers 200; fail early if ``proc`` died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection(host, port, timeout=2)
            try:
                conn.request("GET", path)
                if conn.getresponse().status == 200:
                    return
            finally:
                conn.close()
        time.sleep(0.1)
    raise TimeoutError(f"http://{host}:{port}{path} did not answer within {timeout_s} s")


# --- machine and results --------------------------------------------------------------------


def machine() -> dict[str, str]:
    """CPU model, core count, Python and OS, for the printed header and the docs."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
    }


@dataclass(frozen=True)
class Result:
    """One line of a results file: our value against the peer's."""

    metric: str
    value: float
    unit: str
    peer: float | None
    better: Literal["higher", "lower"]
    target: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.peer in (None, 0) else self.value / self.peer

    def met(self) -> bool | None:
        """Whether the ratio reaches the target; ``None`` without a target."""
        if self.target is None or self.ratio is None:
            return None
        return self.ratio >= self.target if self.better == "higher" else self.ratio <= self.target


def write_results(name: str, results: Sequence[Result]) -> Path:
    """Write ``bench/results/<name>.json`` and return its path."""
    today = dt.date.today().isoformat()
    rows = []
    for r in results:
        row = asdict(r)
        ratio = r.ratio
        row.update(
            value=round(r.value, 4),
            ratio=None if ratio is None else round(ratio, 4),
            peer=None if r.peer is None else round(r.peer, 4),
            date=today,
        )
        rows.append(
            {
                k: row[k]
                for k in ("metric", "value", "unit", "peer", "ratio", "target", "better", "date")
            }
        )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(rows, indent=2) + "\n")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain Markdown table (readable in a terminal too)."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
