"""List a table page by page in a process of its own:
``python -m tests.adapters.db.memory_child JOB.json``.

The job file holds ``spec`` (a database system's spec data), ``table``, ``limit``
and ``warm_rows``. Every page is answered as the REST route answers it (rows,
then the JSON encoder). Printed: the rows read, the resident set size once
``warm_rows`` rows were read (drivers and caches settled) and the most it
reached after any later page, in KiB, read from ``/proc``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import orjson

from strangler.adapters.db import DatabaseAdapter
from strangler.rest.encoding import dumps
from strangler.spec.database import DatabaseSystem


def rss_kib() -> int:
    """The resident set size now, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def walk(adapter: DatabaseAdapter, table: str, limit: int, warm_rows: int) -> dict[str, int]:
    info = adapter.tables[table]
    rows = warm = peak = 0
    cursor = None
    while True:
        given = [("limit", str(limit)), *([("cursor", cursor)] if cursor else [])]
        page = orjson.loads(dumps(await adapter.rows.page(info, adapter.rows._query(info, given))))
        rows += len(page["items"])
        if rows <= warm_rows:
            warm = rss_kib()
        else:
            peak = max(peak, rss_kib())
        cursor = page["next_cursor"]
        if cursor is None:
            return {"rows": rows, "warm_kib": warm, "peak_kib": peak}


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    adapter = DatabaseAdapter("mem", DatabaseSystem.model_validate(job["spec"]))
    try:
        result = asyncio.run(walk(adapter, job["table"], job["limit"], job["warm_rows"]))
    finally:
        adapter.runner.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
