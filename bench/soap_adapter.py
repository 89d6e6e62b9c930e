"""SOAP adapter against plain zeep: latency, throughput and WSDL load time.

The demo legacy InventoryService and ``strangler serve`` each run as their own
subprocess; this process is the load generator. ``GetStock("SKU-1001")`` is called

* through the adapter's REST API (``POST /soap/inventory/GetStock``) by a light
  client: threads, each with its own keep-alive ``http.client`` connection;
* with plain zeep: one ``zeep.Client`` built from the served WSDL and shared by
  all threads ("threaded, one client"; its connection pool holds 16);
* as a raw POST of a prebuilt SOAP envelope to the legacy server: the floor.

Rounds alternate which side goes first; each figure is the median over rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import requests
import zeep
from _common import (
    Call,
    LoadResult,
    Result,
    background,
    cpu_seconds,
    exit_on_signals,
    free_port,
    git_revision,
    http_poster,
    machine,
    package_shares,
    py_spy_own_time,
    results_table,
    run_load,
    sample_table,
    table,
    wait_http,
    write_results,
)
from lxml import etree
from zeep.transports import Transport

from strangler.adapters.soap.adapter import SoapAdapter
from strangler.demo.inventory import WSDL_PATH, WSDL_ROUTE
from strangler.spec.soap import SoapSystem

HOST, SKU, CONCURRENCY = "127.0.0.1", "SKU-1001", 16
SIDES = ("zeep", "adapter")
FLOOR = "raw SOAP POST"
METRICS: tuple[tuple[str, str, str, Literal["higher", "lower"]], ...] = (
    ("p50", "latency_p50", "ms", "lower"),
    ("p99", "latency_p99", "ms", "lower"),
    ("calls/s", "throughput", "calls/s", "higher"),
)
Row = dict[str, float]  # one run of one cell: p50, p99, calls/s, CPU µs per call by process


def start_servers(stack: contextlib.ExitStack, tmp: Path) -> tuple[int, int, dict[str, int]]:
    """Start the legacy server and ``strangler serve``; their ports and pids."""
    legacy_port, api_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "strangler.demo.inventory", "--host", HOST]
    legacy = stack.enter_context(
        background([*cmd, "--port", str(legacy_port)], (tmp / "legacy.log").open("wb"))
    )
    wait_http(legacy, HOST, legacy_port, WSDL_ROUTE)
    spec = tmp / "strangler.yaml"
    spec.write_text(
        f"version: 1\nserver: {{host: {HOST}, port: {api_port}}}\ncache_dir: {tmp / 'cache'}\n"
        f"systems:\n  inventory:\n    kind: soap\n    wsdl: {WSDL_PATH.resolve()}\n"
        f"    address: http://{HOST}:{legacy_port}\n    timeout_s: 5\n    max_connections: 64\n"
    )
    strangler = str(Path(sys.executable).with_name("strangler"))
    api = stack.enter_context(
        background([strangler, "serve", "-c", str(spec)], (tmp / "adapter.log").open("wb"))
    )
    wait_http(api, HOST, api_port, "/healthz")
    return legacy_port, api_port, {"adapter": api.pid, "legacy": legacy.pid}


def callers(legacy_port: int, api_port: int) -> dict[str, Callable[[], Call]]:
    """A ``make_call`` per side: plain zeep, the adapter, and the raw envelope (floor)."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=CONCURRENCY))
    client = zeep.Client(
        f"http://{HOST}:{legacy_port}{WSDL_ROUTE}", transport=Transport(session=session)
    )
    message = client.create_message(client.service, "GetStock", SKU)
    envelope = etree.tostring(message, encoding="utf-8", xml_declaration=True)
    action = client.service._binding.get("GetStock").soapaction
    soap = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    body, rest = b'{"sku": "%s"}' % SKU.encode(), {"Content-Type": "application/json"}

    def zeep_call() -> Call:
        session.close()  # new connections each run, as the other clients (and no stale ones)
        return lambda: client.service.GetStock(SKU)

    return {
        "zeep": zeep_call,
        "adapter": http_poster(HOST, api_port, "/soap/inventory/GetStock", body, rest),
        FLOOR: http_poster(HOST, legacy_port, "/soap11", envelope, soap),
    }


def one_run(make: Callable[[], Call], conc: int, seconds: float, pids: dict[str, int]) -> Row:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    run: LoadResult = run_load(make, conc, seconds)
    row = {"p50": run.ms(50), "p99": run.ms(99), "calls/s": run.throughput, "calls": run.calls}
    row["client"] = run.client_cpu_s / run.calls * 1e6
    for name, pid in pids.items():
        row[name] = (cpu_seconds(pid) - before[name]) / run.calls * 1e6
    return row


def measure(
    make: dict[str, Callable[[], Call]], pids: dict[str, int], rounds: int, seconds: float
) -> dict[str, list[Row]]:
    """Warm up, then run every cell once per round, alternating which side goes first."""
    for side in SIDES:
        for conc in (1, CONCURRENCY):
            run_load(make[side], conc, min(seconds, 3))
    run_load(make[FLOOR], 1, 1)
    cells: dict[str, list[Row]] = {}
    for r in range(rounds):
        sides = SIDES if r % 2 == 0 else SIDES[::-1]
        plan = [(side, conc) for conc in (1, CONCURRENCY) for side in sides] + [(FLOOR, 1)]
        for side, conc in plan:
            row = one_run(make[side], conc, seconds, pids)
            cells.setdefault(f"{side} c{conc}", []).append(row)
            print(
                f"  round {r + 1}/{rounds} {side} c{conc}: {row['calls/s']:6.0f} calls/s, "
                f"p50 {row['p50']:.2f} ms",
                flush=True,
            )
    return cells


def load_times(tmp: Path, repeats: int) -> dict[str, float]:
    """Median ms to load the WSDL: plain zeep, and the adapter cold and warm."""
    spec = SoapSystem(kind="soap", wsdl=str(WSDL_PATH))
    zeep.Client(str(WSDL_PATH))  # first loads pay for imports: not counted, for either side
    SoapAdapter("inventory", spec, cache_dir=tmp / "first")
    seen: dict[str, list[float]] = {"zeep": [], "cold": [], "warm": []}
    for i in range(repeats):
        began = time.perf_counter()
        zeep.Client(str(WSDL_PATH))
        seen["zeep"].append(time.perf_counter() - began)
        folder = tmp / f"load-{i}"  # empty: cold; the second adapter finds it filled: warm
        seen["cold"].append(SoapAdapter("inventory", spec, cache_dir=folder).load_seconds)
        seen["warm"].append(SoapAdapter("inventory", spec, cache_dir=folder).load_seconds)
    return {name: statistics.median(values) * 1e3 for name, values in seen.items()}


def report(cells: dict[str, list[Row]], loads: dict[str, float]) -> list[Result]:
    def med(cell: str, key: str) -> float:
        return statistics.median(row[key] for row in cells[cell])

    keys = ("p50", "p99", "calls/s", "client", "adapter", "legacy")
    head = ["cell", "calls", "p50 ms", "p99 ms", "calls/s"]
    head += [f"{who} CPU µs/call" for who in ("client", "adapter", "legacy")]
    rows = [
        [name, int(sum(r["calls"] for r in cells[name]))]
        + [f"{med(name, k):.3f}" if k.startswith("p") else f"{med(name, k):.0f}" for k in keys]
        for name in cells
    ]
    print("\n" + table(head, rows))
    results = []
    for conc in (1, CONCURRENCY):
        for key, metric, unit, better in METRICS:
            target = {("p50", 1): 1.3, ("calls/s", CONCURRENCY): 1.0}.get((key, conc))
            ours, peer = med(f"adapter c{conc}", key), med(f"zeep c{conc}", key)
            results.append(Result(f"{metric}_c{conc}", ours, unit, peer, better, target))
    results.append(
        Result("raw_soap_post_latency_p50_c1", med(f"{FLOOR} c1", "p50"), "ms", None, "lower")
    )
    for kind in ("cold", "warm"):
        results.append(Result(f"wsdl_load_{kind}", loads[kind], "ms", loads["zeep"], "lower"))
    print("\n" + results_table(results, "adapter", "zeep"))
    return results


def profile(make: Callable[[], Call], pid: int, seconds: int, tmp: Path) -> None:
    """Print the adapter's top 10 functions by own time under c16 load (py-spy)."""
    own = py_spy_own_time(pid, seconds, lambda: run_load(make, CONCURRENCY, seconds), tmp)
    if own is None:
        print("\nprofile: py-spy not found (pip install py-spy)")
        return
    total = sum(own.values())
    print(f"\nadapter process under c{CONCURRENCY} load, {total} py-spy samples:")
    print(sample_table("function (module)", own.most_common(10), total))
    print(package_shares(own, total, lambda fn: fn.rsplit("(", 1)[-1].split("/")[0].rstrip(")")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, under a minute in all")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3; quick 2)")
    parser.add_argument("--seconds", type=float, help="per cell and round (default 10; quick 2)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SECONDS",
        help="then sample the adapter with py-spy under c16 load",
    )
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write bench/results/soap_adapter.json (default: yes; --no-write to skip)",
    )
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    print(f"machine: {machine()}; code: {git_revision()}")
    print(
        f"clients: adapter and floor: threads, one keep-alive http.client connection each; "
        f"zeep: one shared zeep.Client. {rounds} rounds x {seconds:g} s per cell"
    )
    with exit_on_signals(), contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-soap-")))
        loads = load_times(tmp, 3 if args.quick else 7)
        try:
            legacy_port, api_port, pids = start_servers(stack, tmp)
            make = callers(legacy_port, api_port)
            results = report(measure(make, pids, rounds, seconds), loads)
        except Exception:
            for log in sorted(tmp.glob("*.log")):  # what the servers said
                lines = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {log.name}, last lines:", *lines, sep="\n", file=sys.stderr)
            raise
        if args.write:
            print(f"\nwrote {write_results('soap_adapter', results)}")
        if args.profile:
            profile(make["adapter"], pids["adapter"], args.profile, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
