"""The SOAP shim answering from the modern path against spyne serving natively, in one run.

Servers, each a subprocess of its own, two worker processes each:

* **shim**: ``create_app`` of the demo spec (the shim serving InventoryService at
  ``/InventoryService``) with the ``reorder-advice`` route in mode ``modern``, so
  ``GetReorderAdvice`` is answered by the ``reorder`` ONNX model reading the
  demo's item features; uvicorn with the options of ``strangler serve`` and its
  GC freeze after start, two processes sharing the port (``SO_REUSEPORT``);
* **spyne**: the demo's own spyne ``InventoryService`` (the rules engine
  answering ``GetReorderAdvice`` in-process), ``bench/spyne_inventory.py``
  under gunicorn, two ``gthread`` workers (keep-alive connections).

The demo estate (its legacy InventoryService, ERP and feature tables) runs in
this process; the shim's pass-through operations call it.

Cells: (a) ``GetReorderAdvice`` from spyne, (b) ``GetReorderAdvice`` from the
shim's modern path, each at concurrency 64 (requests/s, p50, p99) and
concurrency 1 (p50); (c) ``GetStock`` from spyne and (d) through the shim,
which passes it on to the legacy server (an extra hop: for scale, no target).
The load is ``wrk`` (Debian's), one thread, a separate process, SOAP 1.1
envelopes over keep-alive connections, cycling over the SKUs whose features are
loaded. Rounds alternate the order of the cells; each figure is the median
over rounds.

Target: (b) at least 1.0x (a)'s requests/s.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from _common import (
    Result,
    background,
    exit_on_signals,
    free_port,
    git_revision,
    machine,
    package_shares,
    py_spy_own_time,
    results_table,
    sample_table,
    table,
    write_results,
)

HOST = "127.0.0.1"
WORKERS = 2
BENCH = Path(__file__).resolve().parent
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:strangler:demo:inventory"


def envelope(operation: str, fields: dict[str, object]) -> str:
    inner = "".join(f"<tns:{k}>{v}</tns:{k}>" for k, v in fields.items())
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP11}" xmlns:tns="{TNS}"><soapenv:Body>'
        f"<tns:{operation}>{inner}</tns:{operation}></soapenv:Body></soapenv:Envelope>"
    )


def advice_bodies(skus: list[str]) -> list[str]:
    return [
        envelope(
            "GetReorderAdvice",
            {"customerId": f"C-{100 + i}", "sku": sku, "quantityOnHand": 5 + 7 * i,
             "averageDailySales": "4.5", "leadTimeDays": 7},
        )
        for i, sku in enumerate(skus)
    ]  # fmt: skip


def stock_bodies(skus: list[str]) -> list[str]:
    return [envelope("GetStock", {"sku": sku}) for sku in skus]


def lua(bodies: list[str], action: str) -> str:
    items = ",\n".join(f"  [=[{body}]=]" for body in bodies)
    return textwrap.dedent(
        """\
        local bodies = {
        %s
        }
        local i = 0
        local headers = {}
        headers["Content-Type"] = "text/xml; charset=utf-8"
        headers["SOAPAction"] = '"%s"'
        request = function()
          i = i + 1
          return wrk.format("POST", nil, headers, bodies[(i %% #bodies) + 1])
        end
        """
    ) % (items, action)


def serve_shim(env_file: str, port: int, ready: Path) -> None:
    """One shim process (``--serve``): the demo spec's app on a ``SO_REUSEPORT`` socket;
    writes ``ready`` once it serves."""
    import uvicorn

    from strangler.demo.estate import DEMO_SPEC
    from strangler.rest.app import create_app
    from strangler.serve import server_options
    from strangler.spec import load_spec

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            gc.collect()
            gc.freeze()  # as strangler serve does once the app has started
            ready.write_text("ready")

    env = json.loads(Path(env_file).read_text())
    spec = load_spec(DEMO_SPEC, env=env)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((HOST, port))
    app = create_app(spec, cache_dir=Path(env_file).parent / "cache")
    Server(uvicorn.Config(app, **server_options(host=HOST, port=port))).run([sock])


def request(port: int, method: str, path: str, body: str, **headers: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        sent = {"Content-Type": "application/json", **headers}
        conn.request(method, path, body.encode(), sent)
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def post(port: int, path: str, body: str, action: str) -> tuple[int, str]:
    return request(
        port, "POST", path, body, **{"Content-Type": "text/xml; charset=utf-8",
                                     "SOAPAction": f'"{action}"'}
    )  # fmt: skip


def modern_everywhere(port: int, bodies: list[str], timeout_s: float = 30) -> None:
    """Wait until every worker has read the route's new mode (each refreshes on its own)."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while streak < 8 * WORKERS:  # fresh connections: the kernel spreads them over workers
        status, text = post(port, "/InventoryService", bodies[0], "GetReorderAdvice")
        streak = streak + 1 if status == 200 and "MODEL-reorder" in text else 0
        if time.monotonic() > deadline:
            raise TimeoutError(f"the shim's workers did not all switch to the model: {text[:300]}")
        if not streak:
            time.sleep(0.1)


def wait_port(proc: subprocess.Popen[bytes], port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.settimeout(1)
            sock.connect((HOST, port))
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout_s} s")


@dataclass(frozen=True)
class Cell:
    rps: float
    p50_ms: float
    p99_ms: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, script: Path, connections: int, seconds: float) -> Cell:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
         "--timeout", "30s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"{url}: errors under load\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out).groups()  # type: ignore[union-attr]
        return float(value) * _UNITS[unit]

    return Cell(rps, pct("50"), pct("99"))


def check_answers(
    port: int, path: str, bodies: list[str], action: str, modern: bool | None
) -> None:
    """Every body is answered 200 with the operation's answer (by the model when ``modern``)."""
    for body in bodies:
        status, text = post(port, path, body, action)
        if status != 200 or f"{action}Response" not in text:
            raise RuntimeError(f"{action} on :{port}{path}: HTTP {status}: {text[:400]}")
        if modern is not None and ("MODEL-reorder" in text) != modern:
            side = "the model" if modern else "the rules engine"
            raise RuntimeError(
                f"{action} on :{port}{path} was not answered by {side}: {text[:400]}"
            )


def profile(pid: int, url: str, script: Path, connections: int, tmp: Path) -> None:
    """Print one shim worker's top functions by own time under load (py-spy)."""
    seconds = 8
    own = py_spy_own_time(pid, seconds, lambda: wrk(url, script, connections, seconds), tmp)
    if own is None:
        print("\nprofile: py-spy not found (pip install py-spy)")
        return
    total = sum(own.values())
    print(f"\none shim worker under c{connections} load, {total} py-spy samples:")
    print(sample_table("function (module)", own.most_common(15), total))
    print(package_shares(own, total, lambda fn: fn.rsplit("(", 1)[-1].split("/")[0].rstrip(")")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s per cell")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3; quick 1)")
    parser.add_argument("--seconds", type=float, help="seconds per cell (default 8; quick 2)")
    parser.add_argument("--connections", type=int, default=64, help="concurrency of the load")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    parser.add_argument(
        "--profile", action="store_true", help="sample one shim worker under (b)'s load (py-spy)"
    )
    parser.add_argument(
        "--serve", nargs=3, metavar=("ENV", "PORT", "READY"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve_shim(args.serve[0], int(args.serve[1]), Path(args.serve[2]))
        return 0
    if shutil.which("wrk") is None:
        print("needs Debian's wrk: apt-get install wrk (./run setup)")
        return 1
    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    if not Path(gunicorn).exists():
        print("needs gunicorn: pip install -e '.[dev]' (./run setup)")
        return 1
    from strangler.demo.estate import running_estate
    from strangler.demo.features import load_features
    from strangler.demo.traffic import reorder_skus

    began = time.monotonic()
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (2.0 if args.quick else 8.0)
    print(f"machine: {machine()}; revision {git_revision()}; {rounds} rounds x {seconds} s")
    with exit_on_signals(), contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-shim-")))
        estate = stack.enter_context(running_estate(state_dir=tmp))
        load_features(estate.spec)
        skus = [s.sku for s in reorder_skus(estate.env["DEMO_FEATURES_URL"])][:8]
        if not skus:
            raise RuntimeError("no SKU has its item features loaded")
        env_file = tmp / "env.json"
        env_file.write_text(json.dumps(estate.env))
        shim_port, spyne_port = free_port(), free_port()
        serve = [sys.executable, str(Path(__file__).resolve()), "--serve", str(env_file)]
        workers = []
        for worker in range(WORKERS):
            log = (tmp / f"shim-{worker}.log").open("wb")
            ready = tmp / f"shim-{worker}.ready"
            proc = stack.enter_context(background([*serve, str(shim_port), str(ready)], log))
            workers.append((proc, ready))
        peer = stack.enter_context(
            background(
                [gunicorn, "--chdir", str(BENCH), "-w", str(WORKERS), "-k", "gthread",
                 "--threads", str(args.connections), "--keep-alive", "30", "-b",
                 f"{HOST}:{spyne_port}", "--log-level", "warning", "spyne_inventory:application"],
                (tmp / "spyne.log").open("wb"),
            )
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not all(ready.exists() for _, ready in workers):  # every worker serves
            if any(proc.poll() is not None for proc, _ in workers) or time.monotonic() > deadline:
                logs = "".join(p.read_text()[-1500:] for p in tmp.glob("shim-*.log"))
                raise RuntimeError(f"a shim worker did not start:\n{logs}")
            time.sleep(0.05)
        wait_port(peer, spyne_port)
        status, text = request(shim_port, "PUT", "/admin/routes/reorder-advice",
                               json.dumps({"mode": "modern"}))  # fmt: skip
        if status != 200:
            raise RuntimeError(f"the route's mode could not be set: HTTP {status}: {text}")
        modern_everywhere(shim_port, advice_bodies(skus))
        cells = {
            "(a) spyne GetReorderAdvice": (spyne_port, "/", "GetReorderAdvice", False),
            "(b) shim GetReorderAdvice, modern": (shim_port, "/InventoryService",
                                                  "GetReorderAdvice", True),
            "(c) spyne GetStock": (spyne_port, "/", "GetStock", None),
            "(d) shim GetStock, passed on": (shim_port, "/InventoryService", "GetStock", None),
        }  # fmt: skip
        scripts = {}
        for name, (port, path, action, modern) in cells.items():
            bodies = advice_bodies(skus) if action == "GetReorderAdvice" else stock_bodies(skus)
            for _ in range(WORKERS * 2):  # each worker answers correctly (the kernel spreads)
                check_answers(port, path, bodies, action, modern)
            scripts[name] = tmp / f"{action}.lua"
            scripts[name].write_text(lua(bodies, action))
        urls = {name: f"http://{HOST}:{port}{path}" for name, (port, path, _, _) in cells.items()}
        for name, url in urls.items():  # warm up: connections, imports, sessions
            if not args.quick or "shim" in name:
                wrk(url, scripts[name], 8, 1)
        print(f"servers up, answers checked, warmed up in {time.monotonic() - began:.0f} s")
        runs: dict[tuple[str, int], list[Cell]] = {}
        c = args.connections
        plan = [(name, conc) for name in urls for conc in (c, 1)]
        for round_ in range(rounds):
            for name, conc in plan if round_ % 2 == 0 else plan[::-1]:
                cell = wrk(urls[name], scripts[name], conc, seconds)
                runs.setdefault((name, conc), []).append(cell)
            line = ", ".join(f"{n.split(')')[0]}) {runs[(n, c)][-1].rps:,.0f}/s" for n in urls)
            print(f"round {round_ + 1}: {line}")
        if args.profile:
            name = "(b) shim GetReorderAdvice, modern"
            profile(workers[0][0].pid, urls[name], scripts[name], c, tmp)

    def med(name: str, conc: int, what: str) -> float:
        return statistics.median(getattr(cell, what) for cell in runs[(name, conc)])

    rows = [
        (name, f"{med(name, c, 'rps'):,.0f}", f"{med(name, c, 'p50_ms'):.2f}",
         f"{med(name, c, 'p99_ms'):.2f}", f"{med(name, 1, 'p50_ms'):.3f}")
        for name in urls
    ]  # fmt: skip
    print(table(["cell", f"req/s c{c}", "p50 ms", "p99 ms", "c1 p50 ms"], rows))
    a, b = "(a) spyne GetReorderAdvice", "(b) shim GetReorderAdvice, modern"
    cs, ds = "(c) spyne GetStock", "(d) shim GetStock, passed on"
    results = [
        Result(f"c{c} req/s: GetReorderAdvice, shim (modern path) vs spyne",
               med(b, c, "rps"), "req/s", med(a, c, "rps"), "higher", 1.0),
        Result(f"c{c} p50: GetReorderAdvice, shim (modern path) vs spyne",
               med(b, c, "p50_ms"), "ms", med(a, c, "p50_ms"), "lower"),
        Result("c1 p50: GetReorderAdvice, shim (modern path) vs spyne",
               med(b, 1, "p50_ms"), "ms", med(a, 1, "p50_ms"), "lower"),
        Result(f"c{c} req/s: GetStock, shim passing it on vs spyne",
               med(ds, c, "rps"), "req/s", med(cs, c, "rps"), "higher"),
        Result(f"c{c} p50: GetStock, shim passing it on vs spyne",
               med(ds, c, "p50_ms"), "ms", med(cs, c, "p50_ms"), "lower"),
    ]  # fmt: skip
    print(results_table(results, "shim", "spyne"))
    if not args.no_write:
        print(f"wrote {write_results('shim', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
