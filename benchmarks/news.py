"""Section 4: the news pipeline on the realistic workload of `benchmarks/news_workload.py`.

40 sources × 50 items (the quick profile: fewer), 90 % answering 304, the rest 5 new items
each and their article pages, run through `ingest_news` under the suite's running Prefect
server at the default request interval, against the politeness floor (the time the interval
alone imposes on the requests made). `benchmarks/news_bench.py` runs the same workload side
by side for two trees.
"""

from __future__ import annotations

import logging
import statistics
from pathlib import Path


def measure(params: dict) -> dict:
    """Job `news`: load the sources once, then time `rounds` rounds of the workload."""
    from benchmarks import news_workload as workload

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    site = workload.WorkloadSite(params.get("sources", workload.SOURCES),
                                 params.get("items", workload.ITEMS))
    server = workload.serve(site)
    try:
        figures = workload.run_rounds(site, Path(params["root"]) / "news",
                                      params.get("rounds", 3))
    finally:
        server.clear()
        server.stop()
    rounds = figures["rounds"]
    figures.update(
        status="measured", sources=site.sources, items=site.items,
        changed_sources=site.changed_per_round, median_seconds=statistics.median(
            r["seconds"] for r in rounds),
        floor_seconds=statistics.median(r["floor_seconds"] for r in rounds),
        requests=statistics.median(r["requests"] for r in rounds))
    figures["times_floor"] = figures["median_seconds"] / figures["floor_seconds"]
    return figures
