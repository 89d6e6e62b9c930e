"""The gateway against nginx, in one run against the same upstream.

Servers, each a subprocess of its own:

* **upstream**: Debian's nginx, one worker, answering every ``POST`` with a fixed
  small JSON body (``return 200``): a service much faster than anything in
  front of it, so the cells measure what is in front;
* **nginx proxy**: Debian's nginx, two workers, proxying to the upstream over
  keep-alive connections (``keepalive 64``, HTTP/1.1): the peer;
* **gateway**: ``create_app`` of a ``routes:`` spec served by uvicorn (uvloop,
  httptools, the options of ``strangler serve``, its GC freeze after start) in two
  processes sharing the
  port (``SO_REUSEPORT``), the state in SQLite. Three routes, all over the
  same upstream: ``plain`` (mode legacy), ``canary`` (90/10, sticky by the
  ``X-Customer`` header) and ``shadow`` (legacy answers, modern asked too and
  compared, ``sample: 1.0``).

Cells: (a) the upstream direct, (b) nginx proxying it, (c) the gateway's plain
route, (d) its 90/10 sticky canary, (e) its shadow route; each at concurrency
64 (requests/s, p50, p99) and at concurrency 1 (p50, p99). The load is ``wrk``
(Debian's), one thread, every request a ``POST`` of the same JSON with an
``X-Customer`` header cycling over 1,000 customers (all cells get the same
requests). Rounds alternate the order of the cells; each figure is the median
over rounds.

Targets (issue 12): (d) at least 0.2 of (b)'s requests/s (stretch 0.3), and at
most 1 ms p50 added over (a) at concurrency 1.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
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
    results_table,
    table,
    write_results,
)

HOST = "127.0.0.1"
BODY = '{"sku": "SKU-1001", "customerId": "C-100", "quantityOnHand": 12}'
ANSWER = '{"reorder": true, "quantity": 40, "ruleId": "R5"}'
CUSTOMERS = 1000
WORKERS = 2

LUA = textwrap.dedent(
    f"""\
    local i = 0
    local body = '{BODY}'
    request = function()
      i = i + 1
      local headers = {{}}
      headers["Content-Type"] = "application/json"
      headers["X-Customer"] = "cust-" .. (i % {CUSTOMERS})
      return wrk.format("POST", nil, headers, body)
    end
    """
)


def nginx_conf(folder: Path, port: int, workers: int, server: str, upstream: str = "") -> Path:
    conf = folder / "nginx.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            worker_processes {workers};
            pid {folder}/nginx.pid;
            error_log {folder}/error.log warn;
            daemon off;
            events {{ worker_connections 4096; }}
            http {{
              access_log off;
              client_body_temp_path {folder}/body;
              proxy_temp_path {folder}/proxy;
              fastcgi_temp_path {folder}/fastcgi;
              uwsgi_temp_path {folder}/uwsgi;
              scgi_temp_path {folder}/scgi;
              keepalive_requests 1000000;
              {upstream}
              server {{
                listen {HOST}:{port} reuseport;
                {server}
              }}
            }}
            """
        )
    )
    return conf


def start_nginx(stack: contextlib.ExitStack, folder: Path, conf: Path, port: int) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = stack.enter_context(
        background([nginx, "-c", str(conf), "-p", str(folder)], (folder / "out.log").open("wb"))
    )
    wait_port(proc, port)


def wait_port(proc: subprocess.Popen[bytes], port: int, timeout_s: float = 30) -> None:
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


def gateway_spec(folder: Path, upstream: str) -> Path:
    spec = folder / "routes.yaml"
    routes = {
        "plain": "mode: legacy",
        "canary": "mode: canary\n      weight: 0.1\n      sticky: {header: X-Customer}",
        "shadow": "mode: shadow\n      shadow: {sample: 1.0, max_inflight: 256}",
    }
    items = "".join(
        f"    {name}:\n"
        f"      path: /api/{name}\n"
        f"      legacy: {{url: '{upstream}/legacy'}}\n"
        f"      modern: {{url: '{upstream}/modern'}}\n"
        f"      {settings}\n"
        for name, settings in routes.items()
    )
    spec.write_text(
        f"routes:\n  state: 'sqlite:///{folder}/state.sqlite'\n  refresh_s: 1\n  items:\n{items}"
    )
    return spec


def serve_gateway(spec: str, port: int, ready: Path) -> None:
    """One gateway process (``--serve``): the app of ``spec`` on a ``SO_REUSEPORT`` socket;
    writes ``ready`` once it serves."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            gc.collect()
            gc.freeze()  # as strangler serve does once the app has started
            ready.write_text("ready")

    from strangler.rest.app import create_app
    from strangler.serve import server_options
    from strangler.spec import load_spec

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((HOST, port))
    app = create_app(load_spec(spec))
    Server(uvicorn.Config(app, **server_options(host=HOST, port=port))).run([sock])


@dataclass(frozen=True)
class Cell:
    rps: float
    p50_ms: float
    p99_ms: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, script: Path, connections: int, seconds: float) -> Cell:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"{url}: errors under load\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out).groups()  # type: ignore[union-attr]
        return float(value) * _UNITS[unit]

    return Cell(rps, pct("50"), pct("99"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s per cell")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3; quick 1)")
    parser.add_argument("--seconds", type=float, help="seconds per cell (default 8; quick 2)")
    parser.add_argument("--connections", type=int, default=64, help="concurrency of the load")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    parser.add_argument(
        "--serve", nargs=3, metavar=("SPEC", "PORT", "READY"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve_gateway(args.serve[0], int(args.serve[1]), Path(args.serve[2]))
        return 0
    if shutil.which("wrk") is None or shutil.which("nginx", path="/usr/sbin:/usr/bin") is None:
        print("needs Debian's nginx and wrk: apt-get install nginx wrk (./run setup)")
        return 1
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (2.0 if args.quick else 8.0)
    print(f"machine: {machine()}; revision {git_revision()}; {rounds} rounds x {seconds} s")
    with exit_on_signals(), contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-gateway-")))
        script = tmp / "post.lua"
        script.write_text(LUA)
        up_port, proxy_port, gw_port = free_port(), free_port(), free_port()
        (tmp / "upstream").mkdir()
        (tmp / "proxy").mkdir()
        answer = ANSWER.replace("'", "\\'")
        conf = nginx_conf(
            tmp / "upstream",
            up_port,
            1,
            f"location / {{ default_type application/json; return 200 '{answer}'; }}",
        )
        start_nginx(stack, tmp / "upstream", conf, up_port)
        conf = nginx_conf(
            tmp / "proxy",
            proxy_port,
            WORKERS,
            "location / { proxy_pass http://up; proxy_http_version 1.1; "
            'proxy_set_header Connection ""; }',
            f"upstream up {{ server {HOST}:{up_port}; keepalive 64; }}",
        )
        start_nginx(stack, tmp / "proxy", conf, proxy_port)
        spec = gateway_spec(tmp, f"http://{HOST}:{up_port}")
        serve = [sys.executable, str(Path(__file__).resolve()), "--serve", str(spec), str(gw_port)]
        workers = []
        for worker in range(WORKERS):
            log = (tmp / f"gateway-{worker}.log").open("wb")
            ready = tmp / f"gateway-{worker}.ready"
            workers.append((stack.enter_context(background([*serve, str(ready)], log)), ready))
        deadline = time.monotonic() + 60
        while not all(ready.exists() for _, ready in workers):  # every worker serves
            if any(proc.poll() is not None for proc, _ in workers) or time.monotonic() > deadline:
                logs = "".join(p.read_text()[-1500:] for p in tmp.glob("gateway-*.log"))
                raise RuntimeError(f"a gateway worker did not start:\n{logs}")
            time.sleep(0.05)
        urls = {
            "(a) upstream direct": f"http://{HOST}:{up_port}/legacy",
            "(b) nginx proxy": f"http://{HOST}:{proxy_port}/legacy",
            "(c) gateway plain": f"http://{HOST}:{gw_port}/api/plain",
            "(d) gateway 90/10 sticky canary": f"http://{HOST}:{gw_port}/api/canary",
            "(e) gateway shadow": f"http://{HOST}:{gw_port}/api/shadow",
        }
        for url in urls.values():  # warm up: connections, imports, the state read
            wrk(url, script, 8, 1)
        runs: dict[tuple[str, int], list[Cell]] = {}
        plan = [(name, conc) for name in urls for conc in (args.connections, 1)]
        for round_ in range(rounds):
            for name, conc in plan if round_ % 2 == 0 else plan[::-1]:
                runs.setdefault((name, conc), []).append(wrk(urls[name], script, conc, seconds))
            line = ", ".join(
                f"{n.split(')')[0]}) {runs[(n, args.connections)][-1].rps:,.0f}/s" for n in urls
            )
            print(f"round {round_ + 1}: {line}")

    def med(name: str, conc: int, what: str) -> float:
        return statistics.median(getattr(c, what) for c in runs[(name, conc)])

    c = args.connections
    rows = [
        (
            name,
            f"{med(name, c, 'rps'):,.0f}",
            f"{med(name, c, 'p50_ms'):.2f}",
            f"{med(name, c, 'p99_ms'):.2f}",
            f"{med(name, 1, 'p50_ms'):.3f}",
            f"{med(name, 1, 'p99_ms'):.3f}",
        )
        for name in urls
    ]
    print(table(["cell", f"req/s c{c}", "p50 ms", "p99 ms", "c1 p50 ms", "c1 p99 ms"], rows))
    nginx = med("(b) nginx proxy", c, "rps")
    direct_p50 = med("(a) upstream direct", 1, "p50_ms")
    canary = "(d) gateway 90/10 sticky canary"
    results = [
        Result(f"c{c} req/s: 90/10 sticky canary vs nginx proxy", med(canary, c, "rps"),
               "req/s", nginx, "higher", 0.2),
        Result(f"c{c} req/s: plain route vs nginx proxy", med("(c) gateway plain", c, "rps"),
               "req/s", nginx, "higher"),
        Result(f"c{c} req/s: shadow route vs nginx proxy", med("(e) gateway shadow", c, "rps"),
               "req/s", nginx, "higher"),
        Result("c1 p50 added over the upstream direct, canary (peer: the 1 ms budget)",
               med(canary, 1, "p50_ms") - direct_p50, "ms", 1.0, "lower", 1.0),
        Result("c1 p50 added over the upstream direct, nginx proxy",
               med("(b) nginx proxy", 1, "p50_ms") - direct_p50, "ms", None, "lower"),
        Result(f"c{c} p99: canary vs nginx proxy", med(canary, c, "p99_ms"), "ms",
               med("(b) nginx proxy", c, "p99_ms"), "lower"),
        Result(f"c{c} req/s: upstream direct (calibration)", med("(a) upstream direct", c, "rps"),
               "req/s", None, "higher"),
    ]  # fmt: skip
    print(results_table(results, "gateway", "peer"))
    if not args.no_write:
        print(f"wrote {write_results('gateway', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
