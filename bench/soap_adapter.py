"""SOAP adapter against plain zeep: latency, throughput and WSDL load time.

The demo legacy InventoryService and ``strangler serve`` each run as their own
subprocess. ``GetStock("SKU-1001")`` is called

* through the adapter's REST API (``POST /soap/inventory/GetStock``) by a light
  client: threads with one keep-alive ``http.client`` connection each;
* with plain zeep: one ``zeep.Client`` built from the served WSDL, shared by
  all threads ("threaded, one client"; its connection pool holds 16);
* as a raw POST of a prebuilt SOAP envelope to the legacy server (the floor).

Rounds alternate which side runs first; each figure is the median over rounds.

    python bench/soap_adapter.py            # full, a few minutes
    python bench/soap_adapter.py --quick    # under a minute
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
import zeep
from _common import (
    Call,
    LoadResult,
    Result,
    background,
    cpu_seconds,
    free_port,
    http_poster,
    machine,
    median,
    run_load,
    table,
    terminate_on_signals,
    wait_http,
    write_results,
)
from lxml import etree
from strangler.adapters.soap.adapter import SoapAdapter
from strangler.demo.inventory import WSDL_PATH, WSDL_ROUTE
from strangler.spec.models import SoapSystem
from zeep.transports import Transport

HOST = "127.0.0.1"
SKU = "SKU-1001"
CONCURRENCY = 16
CELLS = ("zeep c1", "adapter c1", "zeep c16", "adapter c16", "raw SOAP POST c1")


@dataclass
class Servers:
    legacy_port: int
    api_port: int
    pids: dict[str, int]  # "adapter", "legacy"


@dataclass
class Cell:
    """Every round of one cell: the load runs and the servers' CPU per call (µs)."""

    runs: list[LoadResult] = field(default_factory=list)
    server_cpu: list[dict[str, float]] = field(default_factory=list)

    def med(self, fn: Callable[[LoadResult], float]) -> float:
        return median([fn(run) for run in self.runs])

    def latency(self, q: float) -> float:
        return self.med(lambda r: r.p(q))

    def cpu(self, name: str) -> float:
        return median([cpu[name] for cpu in self.server_cpu])


def start_servers(stack: contextlib.ExitStack, tmp: Path) -> Servers:
    legacy_port, api_port = free_port(), free_port()
    legacy = stack.enter_context(
        background(
            [
                sys.executable,
                "-m",
                "strangler.demo.inventory",
                "--host",
                HOST,
                "--port",
                str(legacy_port),
            ],
            (tmp / "legacy.log").open("wb"),
        )
    )
    wait_http(legacy, HOST, legacy_port, WSDL_ROUTE)
    spec = tmp / "strangler.yaml"
    spec.write_text(
        f"version: 1\nserver: {{host: {HOST}, port: {api_port}}}\n"
        f"cache_dir: {tmp / 'cache'}\nsystems:\n  inventory:\n    kind: soap\n"
        f"    wsdl: {WSDL_PATH.resolve()}\n    address: http://{HOST}:{legacy_port}\n"
        "    timeout_s: 5\n    max_connections: 64\n"
    )
    strangler = str(Path(sys.executable).with_name("strangler"))
    api = stack.enter_context(
        background([strangler, "serve", "-c", str(spec)], (tmp / "adapter.log").open("wb"))
    )
    wait_http(api, HOST, api_port, "/healthz")
    return Servers(legacy_port, api_port, {"adapter": api.pid, "legacy": legacy.pid})


def zeep_client(servers: Servers) -> zeep.Client:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=CONCURRENCY))
    url = f"http://{HOST}:{servers.legacy_port}{WSDL_ROUTE}"
    return zeep.Client(url, transport=Transport(session=session))


def callers(servers: Servers, client: zeep.Client) -> dict[str, Callable[[], Call]]:
    """``make_call`` for each side: plain zeep, the adapter and the raw envelope."""

    def zeep_call() -> Call:
        return lambda: client.service.GetStock(SKU)

    envelope = etree.tostring(
        client.create_message(client.service, "GetStock", SKU),
        encoding="utf-8",
        xml_declaration=True,
    )
    action = client.service._binding.get("GetStock").soapaction
    soap_headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    return {
        "zeep": zeep_call,
        "adapter": http_poster(
            HOST,
            servers.api_port,
            "/soap/inventory/GetStock",
            b'{"sku": "%s"}' % SKU.encode(),
            {"Content-Type": "application/json"},
        ),
        "raw SOAP POST": http_poster(HOST, servers.legacy_port, "/soap11", envelope, soap_headers),
    }


def measure(
    servers: Servers,
    make: dict[str, Callable[[], Call]],
    rounds: int,
    duration: float,
    warmup: float,
) -> dict[str, Cell]:
    for side in ("zeep", "adapter"):
        for conc in (1, CONCURRENCY):
            run_load(make[side], conc, warmup)
    run_load(make["raw SOAP POST"], 1, warmup / 2)
    cells = {name: Cell() for name in CELLS}
    for r in range(rounds):
        sides = ("zeep", "adapter") if r % 2 == 0 else ("adapter", "zeep")
        plan = [(s, c) for c in (1, CONCURRENCY) for s in sides] + [("raw SOAP POST", 1)]
        for side, conc in plan:
            cpu0 = {name: cpu_seconds(pid) for name, pid in servers.pids.items()}
            load = run_load(make[side], conc, duration)
            cell = cells[f"{side} c{conc}"]
            cell.runs.append(load)
            cell.server_cpu.append(
                {
                    name: (cpu_seconds(pid) - cpu0[name]) / load.calls * 1e6
                    for name, pid in servers.pids.items()
                }
            )
            print(
                f"  round {r + 1}/{rounds} {side} c{conc}: {load.throughput:8.0f} calls/s, "
                f"p50 {load.p(50):.2f} ms",
                flush=True,
            )
    return cells


def load_times(tmp: Path, repeats: int) -> dict[str, float]:
    """Median seconds to load the WSDL: plain zeep, the adapter cold and warm."""
    spec = SoapSystem(kind="soap", wsdl=str(WSDL_PATH))
    zeep.Client(str(WSDL_PATH))  # import and warm everything once, for both sides
    SoapAdapter("inventory", spec, cache_dir=tmp / "warmup")
    seen: dict[str, list[float]] = {"zeep": [], "cold": [], "warm": []}
    for i in range(repeats):
        began = time.perf_counter()
        zeep.Client(str(WSDL_PATH))
        seen["zeep"].append(time.perf_counter() - began)
        folder = tmp / f"load-{i}"
        seen["cold"].append(SoapAdapter("inventory", spec, cache_dir=folder).load_seconds)
        seen["warm"].append(SoapAdapter("inventory", spec, cache_dir=folder).load_seconds)
    return {name: median(values) for name, values in seen.items()}


def profile(servers: Servers, make: Callable[[], Call], seconds: float, tmp: Path) -> None:
    """Sample the adapter with py-spy under c16 load; print the top 10 functions by own time."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy not found: pip install py-spy")
        return
    out = tmp / "adapter.pyspy.txt"
    with background(
        [
            spy,
            "record",
            "--pid",
            str(servers.pids["adapter"]),
            "--rate",
            "200",
            "--duration",
            str(int(seconds)),
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        (tmp / "py-spy.log").open("wb"),
    ) as proc:
        time.sleep(1)
        run_load(make, CONCURRENCY, seconds)
        proc.wait(seconds + 30)
    own: Counter[str] = Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        own[stack.rsplit(";", 1)[-1].split(":")[0] + ")"] += int(count)
    total = sum(own.values())
    print(f"\nadapter process, c{CONCURRENCY}, top 10 by own time ({total} samples):")
    print(
        table(
            ["function (file)", "% time"],
            [(fn, f"{n / total * 100:.1f}") for fn, n in own.most_common(10)],
        )
    )


def report(cells: dict[str, Cell], loads: dict[str, float]) -> list[Result]:
    print(
        "\n"
        + table(
            [
                "cell",
                "calls",
                "p50 ms",
                "p99 ms",
                "calls/s",
                "client CPU µs/call",
                "adapter CPU µs/call",
                "legacy CPU µs/call",
            ],
            [
                (
                    name,
                    sum(r.calls for r in c.runs),
                    f"{c.latency(50):.3f}",
                    f"{c.latency(99):.3f}",
                    f"{c.med(lambda r: r.throughput):.0f}",
                    f"{c.med(lambda r: r.client_cpu_us_per_call):.0f}",
                    f"{c.cpu('adapter'):.0f}",
                    f"{c.cpu('legacy'):.0f}",
                )
                for name, c in cells.items()
            ],
        )
    )
    results: list[Result] = []
    for conc in (1, CONCURRENCY):
        ours, peer = cells[f"adapter c{conc}"], cells[f"zeep c{conc}"]
        for q in (50, 99):
            results.append(
                Result(
                    f"latency_p{q}_c{conc}",
                    ours.latency(q),
                    "ms",
                    peer.latency(q),
                    "lower",
                    1.3 if (q, conc) == (50, 1) else None,
                )
            )
        results.append(
            Result(
                f"throughput_c{conc}",
                ours.med(lambda r: r.throughput),
                "calls/s",
                peer.med(lambda r: r.throughput),
                "higher",
                1.0 if conc == CONCURRENCY else None,
            )
        )
    results.append(
        Result(
            "raw_soap_post_latency_p50_c1",
            cells["raw SOAP POST c1"].latency(50),
            "ms",
            None,
            "lower",
        )
    )
    for kind in ("cold", "warm"):
        results.append(
            Result(f"wsdl_load_{kind}", loads[kind] * 1e3, "ms", loads["zeep"] * 1e3, "lower")
        )
    print(
        "\n"
        + table(
            ["metric", "adapter", "peer (zeep)", "ratio", "target", "met"],
            [
                (
                    r.metric,
                    f"{r.value:.3f} {r.unit}",
                    "-" if r.peer is None else f"{r.peer:.3f}",
                    "-" if r.ratio is None else f"{r.ratio:.2f}",
                    "-"
                    if r.target is None
                    else f"{'≤' if r.better == 'lower' else '≥'} {r.target}",
                    {True: "yes", False: "NO", None: "-"}[r.met()],
                )
                for r in results
            ],
        )
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (under a minute)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3, quick 2)")
    parser.add_argument(
        "--duration", type=float, help="seconds per cell and round (default 10, quick 2)"
    )
    parser.add_argument(
        "--profile",
        type=float,
        metavar="SECONDS",
        default=0,
        help="afterwards, sample the adapter with py-spy under c16 load",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    duration = args.duration or (2.0 if args.quick else 10.0)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['python']}, {info['os']}")
    print(
        f"client: threads with one keep-alive http.client connection each (adapter, raw); "
        f"one shared zeep.Client (zeep); {rounds} rounds x {duration:g} s per cell"
    )
    with terminate_on_signals(), contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-soap-")))
        loads = load_times(tmp, 3 if args.quick else 7)
        servers = start_servers(stack, tmp)
        make = callers(servers, zeep_client(servers))
        cells = measure(servers, make, rounds, duration, 1.0 if args.quick else 3.0)
        results = report(cells, loads)
        if not args.no_write:
            print(f"\nwrote {write_results('soap_adapter', results)}")
        if args.profile:
            profile(servers, make["adapter"], args.profile, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
