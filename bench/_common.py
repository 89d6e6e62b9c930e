"""Helpers shared by the benchmarks: servers as subprocesses, a threaded load
driver, percentiles, machine facts, py-spy sampling and the results file.

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
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Literal

RESULTS_DIR = Path(__file__).resolve().parent / "results"
Call = Callable[[], object]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linearly interpolated."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LoadResult:
    """One load run: every call's latency (ns), its wall time and the client's CPU time."""

    latencies_ns: list[int]
    wall_s: float
    client_cpu_s: float

    @property
    def calls(self) -> int:
        return len(self.latencies_ns)

    def ms(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return percentile(self.latencies_ns, q) / 1e6

    @property
    def throughput(self) -> float:
        return self.calls / self.wall_s


def run_load(make_call: Callable[[], Call], concurrency: int, duration_s: float) -> LoadResult:
    """``concurrency`` threads call for ``duration_s`` seconds; the first error is raised.

    ``make_call`` runs once per thread before the clock starts (e.g. to open a connection).
    """
    calls = [make_call() for _ in range(concurrency)]
    outs: list[list[int]] = [[] for _ in calls]
    errors: list[BaseException] = []
    start, stop = threading.Barrier(concurrency + 1), threading.Event()

    def worker(call: Call, out: list[int]) -> None:
        clock = time.perf_counter_ns
        try:
            start.wait()
            while not stop.is_set():
                began = clock()
                call()
                out.append(clock() - began)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [
        threading.Thread(target=worker, args=co, daemon=True)
        for co in zip(calls, outs, strict=True)
    ]
    for thread in threads:
        thread.start()
    cpu = time.process_time()
    try:
        start.wait()
        began = time.perf_counter()
        stop.wait(duration_s)
    except BaseException:
        start.abort()  # interrupted: free the threads still waiting at the barrier
        raise
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    if errors:
        raise errors[0]
    return LoadResult([x for out in outs for x in out], wall, cpu)


def http_poster(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str]
) -> Callable[[], Call]:
    """A ``make_call``: POST ``body`` on the thread's own keep-alive connection, expect 200."""

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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time used so far by a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def exit_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise ``SystemExit``, SIGINT ``KeyboardInterrupt`` (even when
    started in the background), so that ``finally`` blocks run."""

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    old = {sig: signal.signal(sig, leave) for sig in (signal.SIGTERM, signal.SIGHUP)}
    old[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def background(cmd: Sequence[str], log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` in a process group of its own; kill the group on exit, whatever happens."""
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        yield proc
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
                break
        log.close()


def wait_http(
    proc: subprocess.Popen[bytes], host: str, port: int, path: str, timeout_s: float = 30
) -> None:
    """Poll ``GET path`` until it answers 200; fail early if ``proc`` died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        conn = http.client.HTTPConnection(host, port, timeout=2)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise TimeoutError(f"http://{host}:{port}{path} did not answer within {timeout_s} s")


def py_spy_own_time(
    pid: int, seconds: int, during: Callable[[], object], folder: Path
) -> Counter[str] | None:
    """Sample ``pid`` with py-spy while ``during()`` runs; samples per leaf frame.

    Keys look like ``function (package/module.py)``. ``None`` when py-spy is missing.
    """
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return None
    out = folder / f"py-spy-{pid}.txt"
    cmd = [spy, "record", "--pid", str(pid), "--rate", "200", "--duration", str(seconds)]
    with background(
        [*cmd, "--format", "raw", "--output", str(out)], (folder / "py-spy.log").open("wb")
    ) as proc:
        time.sleep(1)  # py-spy attaches
        during()
        proc.wait(seconds + 30)
    own: Counter[str] = Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        own[stack.rsplit(";", 1)[-1].rsplit(":", 1)[0] + ")"] += int(count)
    return own


def machine() -> str:
    """CPU model, cores, Python and OS in one line."""
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((x.split(":", 1)[1].strip() for x in lines if x.startswith("model name")), cpu)
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{cpu}, {os.cpu_count()} cores, {python}, {platform.system()} {platform.release()}"


def git_revision() -> str:
    """The checked-out commit, with ``+dirty`` when tracked files have changed; ``?`` if unknown."""

    def git(*args: str) -> str:
        cmd = ["git", "-C", str(RESULTS_DIR.parent), *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    with contextlib.suppress(OSError):
        if head := git("rev-parse", "--short", "HEAD"):
            return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    return "?"


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
        return self.value / self.peer if self.peer else None

    def met(self) -> bool | None:
        """Whether the ratio reaches the target (``None`` without one)."""
        if self.target is None or self.ratio is None:
            return None
        return self.ratio >= self.target if self.better == "higher" else self.ratio <= self.target

    def goal(self) -> str:
        """The target as text, e.g. ``≤ 1.3``."""
        sign = "≥" if self.better == "higher" else "≤"
        return "-" if self.target is None else f"{sign} {self.target}"


def write_results(name: str, results: Sequence[Result]) -> Path:
    """Write ``bench/results/<name>.json`` and return its path."""
    today = dt.date.today().isoformat()
    keys = ("metric", "value", "unit", "peer", "ratio", "target", "better", "date")
    rows = []
    for r in results:
        row = {**asdict(r), "ratio": r.ratio, "date": today}
        rows.append({k: round(row[k], 4) if isinstance(row[k], float) else row[k] for k in keys})
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(rows, indent=2) + "\n")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, aligned for the terminal too."""
    cells = [[str(c) for c in row] for row in (headers, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def results_table(results: Sequence[Result], ours: str, peer: str) -> str:
    """The ratio table: each metric, both values, the ratio and whether the target is met."""
    met = {True: "yes", False: "NO", None: "-"}

    def show(x: float | None, digits: int = 3) -> str:
        return "-" if x is None else f"{x:.{digits}f}"

    rows = [
        (r.metric, r.unit, show(r.value), show(r.peer), show(r.ratio, 2), r.goal(), met[r.met()])
        for r in results
    ]
    return table(["metric", "unit", ours, peer, "ratio", "target", "met"], rows)


def sample_table(title: str, counts: Sequence[tuple[str, int]], total: int) -> str:
    """Profile samples as a table of ``% of total``."""
    return table([title, "% samples"], [(f, f"{n * 100 / total:.1f}") for f, n in counts])


def package_shares(own: Counter[str], total: int, package_of: Callable[[str], str]) -> str:
    """One line: the share of own-time samples per package, largest first."""
    packages: Counter[str] = Counter()
    for frame, n in own.items():
        packages[package_of(frame)] += n
    shares = ", ".join(f"{p} {n * 100 / total:.0f}%" for p, n in packages.most_common(8))
    return f"own time by package: {shares}"
