"""What a month of daily runs leaves in the lake, and what maintenance makes of it.

    .venv/bin/python -m benchmarks.lake [--days 30] [--output benchmarks/results/lake.json]

A year of rates is backfilled, then `days` daily catch-ups run one after the other (each a
real `ingest_rates` flow run for one new publication date against the CBR-compatible server),
then `maintain` runs twice: with the default 90-day retention (every snapshot is younger:
only merging can act) and with 0 days (what the lake converges to once the runs are older
than the retention). Files on disk, files the current snapshot lists, the catalog's size and
the time of a monthly-average query are measured at each step.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

MONTHLY_AVERAGE = ("SELECT cbr_id, char_code, date_trunc('month', rate_date) AS month, "
                   "avg(unit_rate) FROM rates GROUP BY ALL ORDER BY ALL")
CODES = ["CNY", "KZT", "INR", "UZS", "BYN", "KGS", "TJS", "PKR"]


def measure(warehouse) -> dict:
    from sco_etl.warehouse import run_query
    from sco_etl.warehouse.maintenance import lake_files

    with warehouse.reader() as connection:
        tables = connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'sco'").fetchall()
        listed = sum(connection.execute("SELECT count(*) FROM ducklake_list_files('sco', ?)",
                                        [name]).fetchone()[0] for (name,) in tables)
        snapshots = connection.execute("SELECT count(*) FROM sco.snapshots()").fetchone()[0]
    on_disk = lake_files(warehouse)
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        run_query(warehouse, MONTHLY_AVERAGE)
        timings.append((time.perf_counter() - started) * 1000)
    return {"files_on_disk": len(on_disk), "bytes_on_disk": sum(on_disk.values()),
            "files_listed": listed, "snapshots": snapshots,
            "catalog_bytes": warehouse.lake.sqlite_file.stat().st_size,
            "monthly_average_ms": statistics.median(timings)}


def run(days: int) -> dict:
    from prefect.testing.utilities import prefect_test_harness

    from benchmarks.servers import serve_cbr
    from sco_etl.flows.rates import ingest_rates
    from sco_etl.tasks.cbr.calendar import publication_dates
    from sco_etl.warehouse import Warehouse
    from sco_etl.warehouse.maintenance import maintain
    from tests.fakes.cbr_history import History

    os.environ.update(SCO_ETL_REQUEST_INTERVAL="0", PREFECT_LOGGING_LEVEL="WARNING",
                      PREFECT_SERVER_ANALYTICS_ENABLED="false")
    last = dt.date(2025, 12, 31)
    history = History(last_date=last, first_date=dt.date(2024, 1, 1))
    dates = [d for d in publication_dates(dt.date(2025, 1, 1), last)][-days:]
    figures: dict = {"days": days, "currencies": CODES}
    with tempfile.TemporaryDirectory() as work, serve_cbr(history) as (_, url), \
            prefect_test_harness(server_startup_timeout=90):
        data = Path(work) / "data"
        warehouse = Warehouse(data)
        started = time.perf_counter()
        ingest_rates(start=dt.date(2025, 1, 1), end=dates[0] - dt.timedelta(days=1),
                     currencies=CODES, data_dir=str(data), cbr_url=url)
        figures["backfill_seconds"] = time.perf_counter() - started
        figures["after_backfill"] = measure(warehouse)
        seconds = []
        for day in dates:
            started = time.perf_counter()
            ingest_rates(start=day, end=day, currencies=CODES, data_dir=str(data), cbr_url=url)
            seconds.append(time.perf_counter() - started)
        figures["daily_run_seconds_median"] = statistics.median(seconds)
        figures["after_daily_runs"] = measure(warehouse)
        for retention in (90, 0):
            started = time.perf_counter()
            done = maintain(warehouse, retention_days=retention, orphan_grace=dt.timedelta(0))
            figures[f"maintain_{retention}d_seconds"] = time.perf_counter() - started
            figures[f"maintain_{retention}d"] = {**measure(warehouse),
                                                 "snapshots_expired": done.snapshots_expired,
                                                 "files_deleted": done.files_deleted}
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/lake.json"))
    args = parser.parse_args(argv)
    figures = run(args.days)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=1, default=str) + "\n")
    print(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
