"""ETL into PostgreSQL: strangler's feature-view load against Airflow's GenericTransfer
and against PostgreSQL ``COPY`` (the limit), the same rows, in one run.

A fresh MariaDB database gets ``bench_rows``, 20 columns of order-like rows
(integer key; varchars; integers; decimals; doubles; a date; datetimes, one of
them the ``updated_at`` watermark, indexed; nullable text and numbers), made by MariaDB
itself from its ``seq_1_to_N`` sequence table; the same rows are copied into a
SQLite file. Each source is loaded into PostgreSQL by three loaders, each in a
child process of its own, each into a fresh PostgreSQL database:

* **ours**: ``strangler.etl.run_view`` for a feature view over the table (entity
  ``id``, event time ``updated_at``), MariaDB read through a raw ODBC string
  (``DRIVER={MariaDB Unicode}``), SQLite through its ``sqlite:///`` URL: chunks
  streamed from a server-side cursor, staged with COPY, upserted into the history
  table and the latest table;
* **GenericTransfer**: Airflow's operator (``apache-airflow-providers-common-sql``)
  run in ``.venv-airflow``, connections given as ``AIRFLOW_CONN_*`` variables, the
  source through the ODBC provider (MariaDB and SQLite3 ODBC drivers), the target
  through the PostgreSQL provider, with its default settings (every row read into
  memory, then inserted with ``insert_rows``' defaults);
* **COPY**: the rows read through the same driver as ours (pyodbc ``fetchmany``,
  or ``sqlite3``) and written with psycopg's ``COPY … FROM STDIN`` into a plain
  table, streamed chunk by chunk: the least work any loader must do.

Rows per second count from the loader's first query to its commit (interpreter
start and imports excluded); peak memory is the child's own peak resident set
(``VmHWM``, read by the child as it ends). Every load is checked: row count and
the sum of a column in the target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import Result, git_revision, machine, table, write_results

ROOT = Path(__file__).resolve().parent.parent
OURS_PYTHON = Path(sys.executable)
AIRFLOW_PYTHON = Path(os.environ.get("STRANGLER_AIRFLOW_PYTHON", ROOT / ".venv-airflow/bin/python"))
PG = "host=127.0.0.1 port=5432 user=postgres"
TABLE, CHUNK = "bench_rows", 10_000
PEER_TARGET, COPY_TARGET, RSS_TARGET = 10.0, 0.5, 1.2
SOURCES = ("mariadb", "sqlite")
LOADERS = ("copy", "ours", "generic")

COLUMNS = (  # name, MariaDB type, PostgreSQL type, SQL making it from seq
    ("id", "INT NOT NULL PRIMARY KEY", "integer PRIMARY KEY", "seq"),
    (
        "sku",
        "VARCHAR(16) NOT NULL",
        "varchar(16) NOT NULL",
        "CONCAT('SKU-', LPAD(seq % 99991, 6, '0'))",
    ),
    (
        "customer",
        "VARCHAR(40) NOT NULL",
        "varchar(40) NOT NULL",
        "CONCAT('Customer ', LPAD(seq % 5003, 5, '0'), ' Ltd')",
    ),
    (
        "status",
        "VARCHAR(12) NOT NULL",
        "varchar(12) NOT NULL",
        "ELT(1 + seq % 5, 'new', 'paid', 'shipped', 'delivered', 'cancelled')",
    ),
    ("qty", "INT NOT NULL", "integer NOT NULL", "1 + seq % 50"),
    ("price", "DECIMAL(12,2) NOT NULL", "numeric(12,2) NOT NULL", "(seq * 7919 % 100000) / 100"),
    ("discount", "DECIMAL(5,2) NOT NULL", "numeric(5,2) NOT NULL", "(seq % 30) / 2"),
    (
        "total",
        "DECIMAL(14,2) NOT NULL",
        "numeric(14,2) NOT NULL",
        "(seq * 7919 % 100000) / 100 * (1 + seq % 50)",
    ),
    ("weight", "DOUBLE NOT NULL", "double precision NOT NULL", "(seq % 97) * 0.37 + 0.5"),
    ("score", "DOUBLE", "double precision", "IF(seq % 9 = 0, NULL, (seq % 1000) / 7)"),
    ("paid", "SMALLINT NOT NULL", "smallint NOT NULL", "seq % 2"),
    (
        "order_date",
        "DATE NOT NULL",
        "date NOT NULL",
        "DATE('2020-01-01') + INTERVAL (seq % 1500) DAY",
    ),
    (
        "shipped_at",
        "DATETIME",
        "timestamp",
        "IF(seq % 4 = 0, NULL, TIMESTAMP('2020-01-02 08:00') + INTERVAL seq * 37 SECOND)",
    ),
    (
        "updated_at",
        "DATETIME NOT NULL",
        "timestamp NOT NULL",
        "TIMESTAMP('2020-01-01') + INTERVAL (seq * 31) SECOND",
    ),
    ("warehouse", "VARCHAR(8) NOT NULL", "varchar(8) NOT NULL", "CONCAT('WH', seq % 13)"),
    (
        "region",
        "VARCHAR(16) NOT NULL",
        "varchar(16) NOT NULL",
        "ELT(1 + seq % 4, 'north', 'south', 'east', 'west')",
    ),
    (
        "channel",
        "VARCHAR(12) NOT NULL",
        "varchar(12) NOT NULL",
        "ELT(1 + seq % 3, 'web', 'store', 'phone')",
    ),
    ("line_count", "INT NOT NULL", "integer NOT NULL", "1 + seq % 12"),
    ("currency", "CHAR(3) NOT NULL", "char(3) NOT NULL", "ELT(1 + seq % 3, 'EUR', 'USD', 'GBP')"),
    (
        "note",
        "VARCHAR(200)",
        "varchar(200)",
        "IF(seq % 3 = 0, NULL, CONCAT('gate ', seq % 40, ', ask for ', seq % 97))",
    ),
)
NAMES = ", ".join(c[0] for c in COLUMNS)
SQLITE_TYPES = {"DOUBLE": "REAL", "DOUBLE NOT NULL": "REAL NOT NULL"}
PG_DDL = f"CREATE TABLE {TABLE} ({', '.join(f'{c[0]} {c[2]}' for c in COLUMNS)})"


def mariadb_odbc(database: str) -> str:
    return (
        f"DRIVER={{MariaDB Unicode}};SERVER=127.0.0.1;PORT=3306;DATABASE={database};UID=root;PWD="
    )


# --- the data -------------------------------------------------------------------------------


@contextlib.contextmanager
def mariadb_database(rows: int) -> Iterator[str]:
    """A fresh MariaDB database holding ``rows`` rows (dropped on exit); its name."""
    import pyodbc

    name = f"strangler_bench_etl_{secrets.token_hex(4)}"
    admin = pyodbc.connect(mariadb_odbc(""), autocommit=True)
    try:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            admin.execute(f"USE {name}")
            admin.execute(f"CREATE TABLE {TABLE} ({', '.join(f'{c[0]} {c[1]}' for c in COLUMNS)})")
            made = ", ".join(c[3] for c in COLUMNS)
            admin.execute(f"INSERT INTO {TABLE} ({NAMES}) SELECT {made} FROM seq_1_to_{rows}")
            # the watermark is indexed, as incremental loads by watermark presuppose
            admin.execute(f"CREATE INDEX ix_{TABLE}_updated ON {TABLE} (updated_at, id)")
            admin.execute(f"ANALYZE TABLE {TABLE}")
            yield name
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
    finally:
        admin.close()


def sqlite_copy(database: str, path: Path) -> None:
    """The MariaDB table's rows, as they are, in a SQLite file."""
    import pyodbc

    conn = sqlite3.connect(path)
    types = ", ".join(f"{c[0]} {SQLITE_TYPES.get(c[1], c[1])}" for c in COLUMNS)
    conn.execute(f"CREATE TABLE {TABLE} ({types})")
    conn.execute(f"CREATE INDEX ix_{TABLE}_updated ON {TABLE} (updated_at, id)")
    source = pyodbc.connect(mariadb_odbc(database))
    insert = f"INSERT INTO {TABLE} ({NAMES}) VALUES ({', '.join('?' * len(COLUMNS))})"
    try:
        cursor = source.execute(f"SELECT {NAMES} FROM {TABLE} ORDER BY id")
        while chunk := cursor.fetchmany(CHUNK):
            conn.executemany(insert, [_sqlite_row(r) for r in chunk])
        conn.commit()
    finally:
        source.close()
        conn.close()


def _sqlite_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """Decimals as text (SQLite's NUMERIC keeps them exact enough), times in ISO form."""
    out = []
    for value in row:
        if hasattr(value, "isoformat"):
            value = value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
        elif type(value).__name__ == "Decimal":
            value = str(value)
        out.append(value)
    return tuple(out)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (dropped on exit); its name."""
    import psycopg

    name = f"strangler_bench_etl_{secrets.token_hex(4)}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the loaders, each in a child process ------------------------------------------------


def child_copy(source: str, where: str, target: str) -> int:
    """Read through pyodbc (MariaDB) or sqlite3 and COPY each chunk into a plain table."""
    import psycopg

    if source == "mariadb":
        import pyodbc

        conn: Any = pyodbc.connect(mariadb_odbc(where))
    else:
        conn = sqlite3.connect(where)
    count = 0
    with psycopg.connect(f"{PG} dbname={target}") as pg:
        pg.execute(PG_DDL)
        cursor = conn.cursor()
        cursor.execute(f"SELECT {NAMES} FROM {TABLE}")
        with pg.cursor() as cur, cur.copy(f"COPY {TABLE} ({NAMES}) FROM STDIN") as copy:
            while chunk := cursor.fetchmany(CHUNK):
                for row in chunk:
                    copy.write_row(row)
                count += len(chunk)
    conn.close()
    return count


def child_ours(source: str, where: str, target: str) -> int:
    """``strangler.etl.run_view`` of a view over the table into the target database."""
    from strangler.etl.run import run_view
    from strangler.spec import parse_spec

    if source == "mariadb":
        system = {"kind": "database", "odbc": mariadb_odbc(where), "tables": {TABLE: {}}}
    else:
        system = {"kind": "database", "url": f"sqlite:///{where}", "tables": {TABLE: {}}}
    spec = {
        "systems": {"src": system},
        "features": {
            "store": f"postgresql+psycopg://postgres@127.0.0.1:5432/{target}",
            "views": {
                TABLE: {
                    "source": {"from": f"src.{TABLE}", "chunk_rows": CHUNK},
                    "entity": "id",
                    "timestamp": "updated_at",
                }
            },
        },
    }
    report = run_view(parse_spec(json.dumps(spec), env={}), TABLE)
    return int(report.rows)


def child_generic(source: str, where: str, target: str) -> int:
    """Airflow's GenericTransfer with its default settings."""
    from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer

    driver = "MariaDB Unicode" if source == "mariadb" else "SQLite3"
    operator = GenericTransfer(
        task_id="transfer",
        sql=f"SELECT {NAMES} FROM {TABLE}",
        source_conn_id="bench_source",
        source_hook_params={"driver": driver},
        destination_conn_id="bench_target",
        destination_table=TABLE,
        preoperator=PG_DDL,
    )
    operator.execute(context={})  # type: ignore[arg-type]
    return -1  # counted in the target


def airflow_env(source: str, where: str, target: str, home: Path) -> dict[str, str]:
    """The Airflow connections as ``AIRFLOW_CONN_*`` variables (no metadata database)."""
    if source == "mariadb":
        src = {"conn_type": "odbc", "host": "127.0.0.1", "port": 3306, "login": "root",
               "password": "", "schema": where}  # fmt: skip
    else:
        src = {"conn_type": "odbc", "schema": where}
    dst = {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres",
           "password": "", "schema": target}  # fmt: skip
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_BENCH_SOURCE": json.dumps(src),
        "AIRFLOW_CONN_BENCH_TARGET": json.dumps(dst),
    }


def child(loader: str, source: str, where: str, target: str) -> None:
    """In the child: import, then load and time; one JSON line on stdout."""
    run = {"copy": child_copy, "ours": child_ours, "generic": child_generic}[loader]
    if loader == "generic":  # imports outside the clock, as for the others
        import airflow.providers.common.sql.operators.generic_transfer  # noqa: F401
    elif loader == "ours":
        import strangler.etl  # noqa: F401
    began = time.perf_counter()
    rows = run(source, where, target)
    seconds = time.perf_counter() - began
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_kb": peak_rss_kb()}), flush=True)


def peak_rss_kb() -> int:
    """This process's peak resident set since it started its program (``VmHWM``).

    Not ``ru_maxrss``: Linux carries that over from the forked copy of the parent
    across ``exec``, so a child of a large parent would report the parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


# --- the parent --------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    loader: str
    source: str
    rows: int
    seconds: float
    rss_mb: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def load(loader: str, source: str, where: str, rows: int, tmp: Path) -> Load:
    """Run one loader in a child process into a fresh PostgreSQL database; check the rows."""
    python = AIRFLOW_PYTHON if loader == "generic" else OURS_PYTHON
    with postgres_database() as target:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
        if loader == "generic":
            env |= airflow_env(source, where, target, tmp / "airflow")
        cmd = [str(python), __file__, "--child", loader, source, where, target]
        log = (tmp / f"{loader}-{source}-{rows}.log").open("wb")
        with log:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, env=env, check=False)
            out = proc.stdout
        if proc.returncode != 0:
            tail = (tmp / log.name).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{loader} from {source} exited {proc.returncode}:\n{tail}")
        result = json.loads(out.decode().strip().splitlines()[-1])
        check(loader, target, rows)
    return Load(loader, source, rows, result["seconds"], result["peak_kb"] / 1024)


def check(loader: str, target: str, rows: int) -> None:
    """The target holds every row once, with the same quantities."""
    import psycopg

    expected_qty = sum(1 + seq % 50 for seq in range(1, rows + 1))
    with psycopg.connect(f"{PG} dbname={target}") as pg:
        count, distinct, qty = pg.execute(
            f"SELECT count(*), count(DISTINCT id), sum(qty) FROM {TABLE}"
        ).fetchone()  # type: ignore[misc]
        if loader == "ours":  # and the latest table, one row per entity
            latest = pg.execute(f"SELECT count(*) FROM {TABLE}_latest").fetchone()
    if (count, distinct, qty) != (rows, rows, expected_qty):
        raise AssertionError(
            f"{loader}: {count} rows, {distinct} ids, sum(qty) {qty}; "
            f"{rows} rows and sum(qty) {expected_qty} expected"
        )
    if loader == "ours" and latest != (rows,):
        raise AssertionError(f"ours: {latest} rows in {TABLE}_latest, {rows} expected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 and 50,000 rows")
    parser.add_argument("--sizes", type=int, nargs="+", help="row counts (default 100k 1M)")
    parser.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    parser.add_argument("--loaders", nargs="+", choices=LOADERS, default=list(LOADERS))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = args.sizes or ([20_000, 50_000] if args.quick else [100_000, 1_000_000])
    print(f"machine: {machine()}; revision {git_revision()}; sizes {sizes}", flush=True)
    loads: list[Load] = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for rows in sizes:
            with mariadb_database(rows) as database:
                places = {"mariadb": database}
                if "sqlite" in args.sources:
                    places["sqlite"] = str(tmp / f"bench-{rows}.db")
                    sqlite_copy(database, Path(places["sqlite"]))
                for source in args.sources:
                    for loader in args.loaders:
                        done = load(loader, source, places[source], rows, tmp)
                        loads.append(done)
                        print(
                            f"{rows:>9,} rows from {source:<7} {loader:<8} "
                            f"{done.rows_per_s:>10,.0f} rows/s  {done.seconds:7.1f} s  "
                            f"peak RSS {done.rss_mb:7.1f} MB",
                            flush=True,
                        )
                if "sqlite" in places:
                    Path(places["sqlite"]).unlink()
    if set(args.loaders) != set(LOADERS):
        return
    results = summarise(loads, sizes, args.sources)
    print()
    print(ratio_table(results))
    if not args.no_write:
        print(f"wrote {write_results('etl', results)}")


def summarise(loads: list[Load], sizes: list[int], sources: Sequence[str]) -> list[Result]:
    by = {(x.loader, x.source, x.rows): x for x in loads}
    results: list[Result] = []
    for source in sources:
        for rows in sizes:
            ours = by["ours", source, rows]
            for peer, name, target in (("generic", "GenericTransfer", PEER_TARGET),
                                       ("copy", "COPY", COPY_TARGET)):  # fmt: skip
                results.append(
                    Result(f"rows/s {source} {rows:,}: strangler vs {name}", ours.rows_per_s,
                           "rows/s", by[peer, source, rows].rows_per_s, "higher", target)
                )  # fmt: skip
            results.append(
                Result(f"peak RSS {source} {rows:,}: strangler vs GenericTransfer", ours.rss_mb,
                       "MB", by["generic", source, rows].rss_mb, "lower")
            )  # fmt: skip
        low, high = min(sizes), max(sizes)
        if low != high:
            results.append(
                Result(f"peak RSS {source}: strangler at {high:,} vs at {low:,} rows",
                       by["ours", source, high].rss_mb, "MB", by["ours", source, low].rss_mb,
                       "lower", RSS_TARGET)
            )  # fmt: skip
            # the same growth for the operator (no target: what holding every row costs it)
            results.append(
                Result(f"peak RSS {source}: GenericTransfer at {high:,} vs at {low:,} rows",
                       by["generic", source, high].rss_mb, "MB",
                       by["generic", source, low].rss_mb, "lower")
            )  # fmt: skip
    return results


def ratio_table(results: Sequence[Result]) -> str:
    met = {True: "yes", False: "NO", None: "-"}
    rows = [
        (r.metric, f"{r.value:,.1f}", f"{r.peer:,.1f}" if r.peer else "-",
         f"{r.ratio:.2f}" if r.ratio else "-", r.goal(), met[r.met()])
        for r in results
    ]  # fmt: skip
    return table(["metric", "strangler", "peer", "ratio", "target", "met"], rows)


if __name__ == "__main__":
    sys.exit(main())
