"""Run one feature view in a process of its own: ``python -m tests.etl.child JOB.json``.

The job file holds ``spec`` (spec data), ``view`` and ``store``. The kill tests
start this and kill it; the memory test reads the peak RSS it prints.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from strangler.etl.run import run_view
from strangler.spec.models import spec_model


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    spec = spec_model().model_validate(job["spec"])
    report = run_view(spec, job["view"], store=job["store"])
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": report.rows, "peak_kib": peak_kib}))


if __name__ == "__main__":
    main()
