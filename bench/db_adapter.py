"""Database adapter against its limit: paging through a table over the REST API
versus reading the same pages in-process with SQLAlchemy Core and orjson.

A fresh database (PostgreSQL; SQLite in a file as a second backend) gets an
``orders`` table of 100,000 rows (integer key, three varchars, NUMERIC(12,2),
a timestamp and a nullable varchar). Then, in one run:

* **ours**: ``strangler serve`` in its own subprocess with a spec exposing the
  table; a light client (one keep-alive ``http.client`` connection; it reads
  each page's ``next_cursor`` from the envelope's tail while the clock runs and
  parses and checks every row after it stops) pages through every row with
  ``GET /database/<system>/orders?limit=1000`` and ``&cursor=<next_cursor>``
  until ``next_cursor`` is null (the database writes each page's JSON);
  **python** does the same on a system with ``database_json: false`` (the
  adapter writes it);
* **the limit**: in this process, SQLAlchemy Core on the reflected table reads the
  same pages with keyset pagination (``WHERE id > :last ORDER BY id LIMIT 1001``,
  one more row to tell whether a page follows, as the adapter does) and
  serialises each page to JSON with orjson under the same type conventions
  (decimals as strings with their scale, ISO 8601 timestamps).

Beside them, the same run pages through a legacy-shaped table of as many rows
(``LEGACY_ORDERS``: ``DD.MM.YYYY`` text dates, cents, a ``Y``/``N`` flag, status
codes) twice over the REST API: **legacy**, served as it is stored, and
**mapped**, served in modern shape by the spec's mapping (``naming: camelCase``,
the table ``as: orders``, ``orderDate`` as a date, ``total`` a decimal,
``paid`` a boolean, ``status`` an enum label).

The mapped listing is compared with both: ``mapped_rows_per_s`` against the same
table served as stored (like for like: what the mapping itself costs) and
``mapped_vs_unmapped_rows_per_s`` against the unmapped ``orders`` listing.

Every side checks that it saw every row once (count and distinct keys), and
the first page of ours, python and the limit must be the same JSON. Rounds alternate
which side goes first; each figure is the median over rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import decimal
import http.client
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import psycopg
import sqlalchemy as sa
from _common import (
    Result,
    background,
    cpu_seconds,
    exit_on_signals,
    free_port,
    git_revision,
    machine,
    package_shares,
    percentile,
    results_table,
    sample_table,
    table,
    wait_http,
    write_results,
)

HOST, TABLE, LEGACY, PAGE = "127.0.0.1", "orders", "LEGACY_ORDERS", 1000
TARGET, MAPPED_TARGET = 0.8, 0.85
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
BACKENDS = ("postgresql", "sqlite")
SIDES = ("limit", "adapter", "python", "legacy", "mapped")
METRICS: tuple[tuple[str, str, str, Literal["higher", "lower"], float | None], ...] = (
    ("rows/s", "rows_per_s", "rows/s", "higher", TARGET),
    ("p50", "page_p50", "ms", "lower", None),
    ("p99", "page_p99", "ms", "lower", None),
)
DDL = f"""CREATE TABLE {TABLE} (
    id integer PRIMARY KEY,
    customer varchar(40) NOT NULL,
    sku varchar(24) NOT NULL,
    status varchar(16) NOT NULL,
    amount numeric(12,2) NOT NULL,
    created_at timestamp NOT NULL,
    note varchar(200)
)"""
COLUMNS = "id, customer, sku, status, amount, created_at, note"
LEGACY_DDL = f"""CREATE TABLE "{LEGACY}" (
    "ORDER_NO" integer PRIMARY KEY,
    "CUST_NO" varchar(10) NOT NULL,
    "ORDER_DATE" varchar(10) NOT NULL,
    "TOTAL_CENTS" bigint NOT NULL,
    "PAID" char(1) NOT NULL,
    "STATUS" char(1) NOT NULL,
    "NOTE" varchar(200)
)"""  # quoted: upper-case names, as the legacy system spells them
LEGACY_COLUMNS = '"ORDER_NO", "CUST_NO", "ORDER_DATE", "TOTAL_CENTS", "PAID", "STATUS", "NOTE"'
CODES = {"N": "new", "P": "paid", "S": "shipped", "D": "delivered", "C": "cancelled"}
MAPPING = (  # the modern shape of LEGACY_ORDERS, as a spec's table entry (YAML flow)
    "{as: orders, fields: {ORDER_NO: orderNumber, "
    "ORDER_DATE: {as: orderDate, date: DD.MM.YYYY}, TOTAL_CENTS: {as: total, minor_units: 2}, "
    "PAID: {as: paid, flag: {'true': [Y], 'false': [N]}}, "
    "STATUS: {as: status, enum: {" + ", ".join(f"{k}: {v}" for k, v in CODES.items()) + "}}}}"
)
Row = dict[str, float]  # one pass of one side: rows/s, p50, p99, CPU µs per row


# --- the data ---------------------------------------------------------------------------


def make_rows(count: int) -> Iterator[tuple[Any, ...]]:
    """Deterministic order-like rows; every third ``note`` is NULL."""
    rnd = random.Random(7)
    start = dt.datetime(2020, 1, 1)
    statuses = ("new", "paid", "shipped", "delivered", "cancelled")
    for i in range(1, count + 1):
        yield (
            i,
            f"Customer {rnd.randrange(1, 5000):04d} Ltd",
            f"SKU-{rnd.randrange(1000, 99999)}",
            statuses[i % len(statuses)],
            decimal.Decimal(rnd.randrange(0, 10**7)).scaleb(-2),
            start + dt.timedelta(seconds=i * 317, microseconds=rnd.randrange(0, 10**6)),
            None if i % 3 == 0 else f"deliver to gate {rnd.randrange(1, 40)}, ask for {i % 97}",
        )


def make_legacy_rows(count: int) -> Iterator[tuple[Any, ...]]:
    """The same orders as a legacy system keeps them: text dates, cents, flags, codes."""
    codes = list(CODES)
    for i, _, _, _, amount, at, note in make_rows(count):
        cents = int(amount.scaleb(2)) * (-1 if i % 11 == 0 else 1)
        day = at.strftime("%d.%m.%Y")
        yield (i, f"C{i % 5000:05d}", day, cents, "YN"[i % 2], codes[i % 5], note)


@contextlib.contextmanager
def postgres_database(rows: int) -> Iterator[str]:
    """A fresh database holding the table (COPY); dropped on exit. Yields its URL."""
    name = f"strangler_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            with psycopg.connect(f"{PG_SERVER}/{name}", autocommit=True) as conn:
                conn.execute(DDL)
                with conn.cursor() as cur, cur.copy(f"COPY {TABLE} ({COLUMNS}) FROM STDIN") as cp:
                    for row in make_rows(rows):
                        cp.write_row(row)
                conn.execute(LEGACY_DDL)
                copy = f'COPY "{LEGACY}" ({LEGACY_COLUMNS}) FROM STDIN'
                with conn.cursor() as cur, cur.copy(copy) as cp:
                    for row in make_legacy_rows(rows):
                        cp.write_row(row)
                conn.execute(f"VACUUM ANALYZE {TABLE}")
                conn.execute(f'VACUUM ANALYZE "{LEGACY}"')
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def sqlite_database(folder: Path, rows: int) -> str:
    """A SQLite file holding the table (executemany in batches); its URL."""
    path = folder / "bench.db"
    conn = sqlite3.connect(path)
    try:
        conn.execute(DDL)
        batch: list[tuple[Any, ...]] = []
        insert = f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        for i, c, s, st, amount, at, note in make_rows(rows):
            at_text = at.isoformat(
                sep=" ", timespec="microseconds" if at.microsecond else "seconds"
            )
            batch.append((i, c, s, st, str(amount), at_text, note))
            if len(batch) == 10_000:
                conn.executemany(insert, batch)
                batch.clear()
        conn.executemany(insert, batch)
        conn.execute(LEGACY_DDL)
        legacy = f'INSERT INTO "{LEGACY}" ({LEGACY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)'
        conn.executemany(legacy, make_legacy_rows(rows))
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return f"sqlite:///{path}"


# --- one pass through the table, each side -----------------------------------------------


@dataclass(frozen=True)
class Pass:
    """One pass through every row: per-page times (ns), wall and CPU seconds."""

    rows: int
    page_ns: list[int]
    wall_s: float
    client_cpu_s: float
    server_cpu_s: float | None = None

    def as_row(self) -> Row:
        row = {
            "rows/s": self.rows / self.wall_s,
            "p50": percentile(self.page_ns, 50) / 1e6,
            "p99": percentile(self.page_ns, 99) / 1e6,
            "pages": len(self.page_ns),
            "client": self.client_cpu_s / self.rows * 1e6,
        }
        if self.server_cpu_s is not None:
            row["server"] = self.server_cpu_s / self.rows * 1e6
        return row


def check(ids: set[Any], rows: int, expected: int, side: str) -> None:
    if rows != expected or len(ids) != expected:
        raise AssertionError(f"{side}: {rows} rows, {len(ids)} distinct keys; {expected} expected")


def _decimal(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    raise TypeError(f"cannot turn {type(value).__name__} into JSON")


class Limit:
    """The limit: SQLAlchemy Core on the reflected table, pages serialised by orjson."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)
        self.table = sa.Table(TABLE, sa.MetaData(), autoload_with=self.engine)
        self.keys = [str(c.name) for c in self.table.columns]  # exact str, as orjson wants
        t = self.table
        self.first = sa.select(t).order_by(t.c.id).limit(PAGE + 1)
        self.after = sa.select(t).where(t.c.id > sa.bindparam("last")).order_by(t.c.id)
        self.after = self.after.limit(PAGE + 1)

    def page(self, conn: sa.Connection, last: int | None) -> tuple[bytes, Sequence[Any], Any]:
        """One page as JSON bytes, its rows and the key to continue after (or None)."""
        if last is None:
            rows = conn.execute(self.first).all()
        else:
            rows = conn.execute(self.after, {"last": last}).all()
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        keys = self.keys
        items = [dict(zip(keys, row, strict=True)) for row in rows]
        next_key = rows[-1][0] if more else None
        body = orjson.dumps({"items": items, "next_cursor": next_key}, default=_decimal)
        return body, rows, next_key

    def run(self, expected: int) -> Pass:
        clock, count, times = time.perf_counter_ns, 0, []
        ids: set[Any] = set()
        cpu, began = time.process_time(), time.perf_counter()
        with self.engine.connect() as conn:
            last = None
            while True:
                t0 = clock()
                _, rows, last = self.page(conn, last)
                times.append(clock() - t0)
                count += len(rows)
                ids.update(row[0] for row in rows)
                if last is None:
                    break
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        check(ids, count, expected, "limit")
        return Pass(count, times, wall, cpu)

    def first_page(self) -> Any:
        with self.engine.connect() as conn:
            return orjson.loads(self.page(conn, None)[0])["items"]


def tail_cursor(body: bytes) -> Any:
    """A page's ``next_cursor``, read from the envelope's tail where the adapter writes it.

    The client only needs the cursor to ask for the next page; parsing every item
    while the clock runs would charge the client's JSON decoding (on the same two
    cores) to the adapter, which the limit never pays. Every page is parsed and
    checked after the clock stops.
    """
    at = body.rindex(b'"next_cursor":')
    return orjson.loads(body[at + len(b'"next_cursor":') : -1])


class Client:
    """Ours: one keep-alive connection paging through the REST API."""

    def __init__(
        self, port: int, system: str, pid: int, table: str = TABLE, key: str = "id"
    ) -> None:
        self.port, self.pid, self.key = port, pid, key
        self.base = f"/database/{system}/{table}?limit={PAGE}"
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def get(self, path: str) -> bytes:
        self.conn.request("GET", path)
        reply = self.conn.getresponse()
        body = reply.read()
        if reply.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {reply.status}: {body[:300]!r}")
        return body

    def run(self, expected: int) -> Pass:
        clock, count, times = time.perf_counter_ns, 0, []
        ids: set[Any] = set()
        # A fresh connection per pass: the server closes idle keep-alive connections
        # (5 s) while the other sides run.
        self.conn.close()
        server, cpu, began = cpu_seconds(self.pid), time.process_time(), time.perf_counter()
        path = self.base
        pages: list[tuple[bytes, Any]] = []
        while True:
            t0 = clock()
            body = self.get(path)
            times.append(clock() - t0)
            cursor = tail_cursor(body)
            pages.append((body, cursor))
            if cursor is None:
                break
            path = f"{self.base}&cursor={urllib.parse.quote(cursor, safe='')}"
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        for body, cursor in pages:  # every row of the timed bytes, checked after the clock
            page = orjson.loads(body)
            if page["next_cursor"] != cursor:
                raise RuntimeError(f"next_cursor read from the tail {cursor!r} is not the page's")
            count += len(page["items"])
            ids.update(item[self.key] for item in page["items"])
        check(ids, count, expected, "adapter")
        return Pass(count, times, wall, cpu, cpu_seconds(self.pid) - server)

    def first_page(self) -> Any:
        return orjson.loads(self.get(self.base))["items"]

    def close(self) -> None:
        self.conn.close()


# --- the run ----------------------------------------------------------------------------


def start_server(stack: contextlib.ExitStack, tmp: Path, urls: dict[str, str]) -> tuple[int, int]:
    """``strangler serve`` with one database system per backend; its port and pid."""
    port = free_port()
    systems = "".join(
        f"  {backend}:\n    kind: database\n    url: {url}\n"
        f"    tables: {{{TABLE}: {{}}, {LEGACY}: {{}}}}\n    max_page_size: {PAGE}\n"
        f"  {backend}_python:\n    kind: database\n    url: {url}\n    database_json: false\n"
        f"    tables: {{{TABLE}: {{}}}}\n    max_page_size: {PAGE}\n"
        f"  {backend}_modern:\n    kind: database\n    url: {url}\n    naming: camelCase\n"
        f"    tables: {{{LEGACY}: {MAPPING}}}\n    max_page_size: {PAGE}\n"
        for backend, url in urls.items()
    )
    spec = tmp / "strangler.yaml"
    spec.write_text(
        f"version: 1\nserver: {{host: {HOST}, port: {port}}}\ncache_dir: {tmp / 'cache'}\n"
        f"systems:\n{systems}"
    )
    strangler = str(Path(sys.executable).with_name("strangler"))
    api = stack.enter_context(
        background([strangler, "serve", "-c", str(spec)], (tmp / "adapter.log").open("wb"))
    )
    wait_http(api, HOST, port, "/healthz")
    return port, api.pid


MAPPED_FIELDS = {"orderNumber", "custNo", "orderDate", "total", "paid", "status", "note"}


def measure(
    sides: dict[str, dict[str, Limit | Client]], rows: int, rounds: int
) -> dict[str, list[Row]]:
    """Check the sides answer alike, warm up, then alternate rounds."""
    for backend, group in sides.items():
        first = group["limit"].first_page()
        if first != group["adapter"].first_page() or first != group["python"].first_page():
            raise AssertionError(f"{backend}: the first pages of limit and adapter differ")
        mapped = group["mapped"].first_page()[0]
        if set(mapped) != MAPPED_FIELDS or mapped["status"] not in CODES.values():
            raise AssertionError(f"{backend}: the mapped listing answers {mapped}")
        for side in SIDES:
            group[side].run(rows)  # warm up: caches, pools, imports
    cells: dict[str, list[Row]] = {}
    for r in range(rounds):
        order = SIDES if r % 2 == 0 else SIDES[::-1]
        for backend, group in sides.items():
            for side in order:
                row = group[side].run(rows).as_row()
                cells.setdefault(f"{side} {backend}", []).append(row)
                print(
                    f"  round {r + 1}/{rounds} {backend} {side}: {row['rows/s']:8.0f} rows/s, "
                    f"page p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms",
                    flush=True,
                )
    return cells


def report(cells: dict[str, list[Row]], backends: list[str]) -> list[Result]:
    def med(cell: str, key: str) -> float:
        return statistics.median(row[key] for row in cells[cell])

    head = ["cell", "pages", "rows/s", "page p50 ms", "page p99 ms"]
    head += ["client CPU µs/row", "adapter CPU µs/row"]
    rows = []
    for name, runs in cells.items():
        server = f"{med(name, 'server'):.1f}" if "server" in runs[0] else "-"
        rows.append(
            [name, int(sum(r["pages"] for r in runs)), f"{med(name, 'rows/s'):.0f}"]
            + [f"{med(name, k):.3f}" for k in ("p50", "p99")]
            + [f"{med(name, 'client'):.1f}", server]
        )
    print("\n" + table(head, rows))
    results = []
    for backend in backends:
        prefix = "" if backend == "postgresql" else f"{backend}_"
        for key, metric, unit, better, target in METRICS:
            ours, peer = med(f"adapter {backend}", key), med(f"limit {backend}", key)
            results.append(Result(prefix + metric, ours, unit, peer, better, target))
        ours, peer = med(f"mapped {backend}", "rows/s"), med(f"legacy {backend}", "rows/s")
        results.append(
            Result(prefix + "mapped_rows_per_s", ours, "rows/s", peer, "higher", MAPPED_TARGET)
        )
        # the words: mapped beside the unmapped listing (orders), the same target
        ours, peer = med(f"mapped {backend}", "rows/s"), med(f"adapter {backend}", "rows/s")
        name = prefix + "mapped_vs_unmapped_rows_per_s"
        results.append(Result(name, ours, "rows/s", peer, "higher", MAPPED_TARGET))
        ours, peer = med(f"adapter {backend}", "rows/s"), med(f"python {backend}", "rows/s")
        results.append(Result(prefix + "database_json_rows_per_s", ours, "rows/s", peer, "higher"))
        for ours_side, peer_side in (
            ("adapter", "limit"),
            ("mapped", "legacy"),
            ("mapped", "adapter"),
            ("adapter", "python"),
        ):
            per_round = [
                a["rows/s"] / b["rows/s"]
                for a, b in zip(
                    cells[f"{ours_side} {backend}"], cells[f"{peer_side} {backend}"], strict=True
                )
            ]
            print(
                f"{backend}: rows/s {ours_side}/{peer_side} per round: "
                + ", ".join(f"{x:.2f}" for x in per_round)
            )
    print("\n" + results_table(results, "ours", "peer"))
    return results


def _frame(text: str, line: bool = False) -> str:
    """``function (/full/path.py:line)`` as ``package/module.py:function`` (``:line``)."""
    function, _, where = text.rpartition(" (")
    path, _, number = where.rstrip(")").rpartition(":")
    for marker in ("/strangler/", "/site-packages/", "/lib/python3."):
        if marker in path:
            path = path.rsplit(marker, 1)[1]
            path = path.split("/", 1)[1] if marker == "/lib/python3." else path
            path = "strangler/" + path if marker == "/strangler/" else path
            break
    return f"{path}:{function}" + (f":{number}" if line else "")


def profile(client: Client, rows: int, seconds: int, tmp: Path) -> None:
    """Sample the adapter with py-spy (``--gil``: on-CPU Python only) while it pages;
    print the top functions by own and by inclusive time."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        print("\nprofile: py-spy not found (pip install py-spy)")
        return
    out = tmp / "py-spy.txt"
    cmd = [str(spy), "record", "--pid", str(client.pid), "--rate", "250", "--gil"]
    cmd += ["--full-filenames", "--duration", str(seconds), "--format", "raw", "-o", str(out)]
    with background(cmd, (tmp / "py-spy.log").open("wb")) as proc:
        time.sleep(1)  # py-spy attaches
        deadline, passes = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            client.run(rows)
            passes += 1
        proc.wait(seconds + 30)
    own: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for text in out.read_text().splitlines():
        stack, _, count = text.rpartition(" ")
        leaves = [f for f in stack.split(";") if " (" in f]
        frames = [_frame(f) for f in leaves]
        if frames:
            own[frames[-1]] += int(count)
            lines[_frame(leaves[-1], line=True)] += int(count)
            for frame in set(frames):
                inclusive[frame] += int(count)
    total = sum(own.values())
    if not total:
        print("\nprofile: no samples")
        return
    print(
        f"\nadapter process holding the GIL while paging {client.base} ({passes} passes): "
        f"{total} py-spy samples at 250/s over {seconds} s"
    )

    def show(counter: Counter[str], title: str, keep: Callable[[str], bool]) -> None:
        top = [(fn, n) for fn, n in counter.most_common() if keep(fn)][:15]
        print(sample_table(f"function ({title})", top, total))

    show(own, "own time", lambda fn: True)
    show(inclusive, "inclusive, strangler code", lambda fn: fn.startswith("strangler/"))
    show(lines, "own time by line, strangler code", lambda fn: fn.startswith("strangler/"))
    print(package_shares(own, total, lambda fn: fn.split("/", 1)[0].split(".py", 1)[0]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows, under a minute in all")
    parser.add_argument("--rows", type=int, help="table size (default 100000; quick 20000)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3; quick 2)")
    parser.add_argument(
        "--backend",
        choices=[*BACKENDS, "all"],
        default="all",
        help="postgresql (the main run), sqlite (a file), or all (default)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SECONDS",
        help="then sample the adapter with py-spy while it pages (the first backend)",
    )
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write bench/results/db_adapter.json (default: yes; --no-write to skip)",
    )
    args = parser.parse_args(argv)
    rows = args.rows or (20_000 if args.quick else 100_000)
    rounds = args.rounds or (2 if args.quick else 3)
    backends = list(BACKENDS) if args.backend == "all" else [args.backend]
    print(f"machine: {machine()}; code: {git_revision()}")
    print(
        f"{rows} rows, page size {PAGE}, {rounds} rounds; adapter, legacy, mapped: one keep-alive "
        f"http.client connection each, orjson; limit: SQLAlchemy Core + orjson in-process"
    )
    with exit_on_signals(), contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-db-")))
        try:
            urls: dict[str, str] = {}
            began = time.perf_counter()
            for backend in backends:
                if backend == "postgresql":
                    urls[backend] = stack.enter_context(postgres_database(rows))
                else:
                    urls[backend] = sqlite_database(tmp, rows)
            print(f"filled {', '.join(backends)} in {time.perf_counter() - began:.1f} s")
            sides: dict[str, dict[str, Limit | Client]] = {}
            for backend, url in urls.items():
                limit = Limit(url)
                stack.callback(limit.engine.dispose)
                sides[backend] = {"limit": limit}
            port, pid = start_server(stack, tmp, urls)
            for backend in backends:
                clients = {
                    "adapter": Client(port, backend, pid),
                    "python": Client(port, f"{backend}_python", pid),
                    "legacy": Client(port, backend, pid, LEGACY, "ORDER_NO"),
                    "mapped": Client(port, f"{backend}_modern", pid, "orders", "orderNumber"),
                }
                for side, client in clients.items():
                    stack.callback(client.close)
                    sides[backend][side] = client
            results = report(measure(sides, rows, rounds), backends)
        except Exception:
            for log in sorted(tmp.glob("*.log")):  # what the server said
                lines = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {log.name}, last lines:", *lines, sep="\n", file=sys.stderr)
            raise
        if args.write:
            print(f"\nwrote {write_results('db_adapter', results)}")
        if args.profile:
            adapter = sides[backends[0]]["adapter"]
            assert isinstance(adapter, Client)
            profile(adapter, rows, args.profile, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
