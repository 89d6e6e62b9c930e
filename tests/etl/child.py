"""Run one feature view in a process of its own: ``python -m tests.etl.child JOB.json``.

The job file holds ``spec`` (spec data), ``view`` and ``store``. The kill tests
start this and kill it; the memory test reads what it prints: the resident set
size when the run starts and the most it reached after any batch (read from
``/proc``: the process's high-water mark would mostly tell the imports' peak).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from strangler.etl.run import Progress, run_view
from strangler.spec.models import spec_model


def rss_kib() -> int:
    """The resident set size now, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    spec = spec_model().model_validate(job["spec"])
    samples = [rss_kib()]

    def sample(_: Progress) -> None:
        samples.append(rss_kib())

    report = run_view(spec, job["view"], store=job["store"], progress=sample)
    samples.append(rss_kib())
    print(json.dumps({"rows": report.rows, "start_kib": samples[0], "peak_kib": max(samples)}))


if __name__ == "__main__":
    main()
