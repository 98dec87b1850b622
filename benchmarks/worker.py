"""One benchmark job in a fresh interpreter: `python -m benchmarks.worker JOB PARAMS RESULT`.

PARAMS and RESULT are JSON files. The parent (`benchmarks.run`) measures the process (wall
time, peak memory); the job measures its own phases.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

JOBS = {
    "backfill": "benchmarks.rates_jobs:backfill",
    "catchup_setup": "benchmarks.rates_jobs:catchup_setup",
    "catchup": "benchmarks.rates_jobs:catchup",
    "peer": "benchmarks.peer:backfill",
    "queries": "benchmarks.queries:compare",
    "news": "benchmarks.news:measure",
}
"""Job name -> `module:function`, imported only when run (each job imports what it measures)."""


def job(name: str) -> Callable[[dict], dict]:
    module, function = JOBS[name].split(":")
    return getattr(importlib.import_module(module), function)


def main(argv: list[str]) -> None:
    name, params_path, result_path = argv
    result = job(name)(json.loads(Path(params_path).read_text()))
    Path(result_path).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
