"""Run the benchmark suite and print its table.

    .venv/bin/python -m benchmarks.run [--latency-ms 0,50] [--quick] [--output FILE]

Starts a CBR-compatible server over the synthetic full history (1992-07-01 to tomorrow) and a
Prefect server (temporary home, loopback port), then measures, at each added latency:
the full-history backfill of sco-etl and of the `cbrf` peer, and the daily catch-up with 1
and 30 years stored; then the queries, the news pipeline and the command line (a catch-up
with and without `sco-etl server`, a failed run with no network). Every measured run is a fresh
interpreter (`benchmarks.worker`), so memory figures are its own. Writes the figures as JSON
(default `benchmarks/results/latest.json`) and prints the table. `--quick` is the small
variant the test command runs (2 years, 4 currencies, no CLI run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report
from benchmarks.cli_bench import cli_section
from benchmarks.measure import LoadMonitor, machine
from benchmarks.sections import Suite, backfill_section, catchup_section
from benchmarks.servers import serve_cbr
from benchmarks.settings import FIRST_RATE_DATE, FULL, LATEST_JSON, PERFORMANCE_MD, QUICK, Profile
from benchmarks.targets import targets

log = logging.getLogger("benchmarks")


def build_history(profile: Profile):
    """The synthetic history the fake CBR serves, up to tomorrow (Moscow)."""
    from sco_etl.schemas.clock import moscow_tomorrow
    from tests.fakes.cbr_history import History

    last = moscow_tomorrow()
    first = FIRST_RATE_DATE
    if profile.history_years:
        first = last.replace(year=last.year - profile.history_years, day=1)
    history = History(last_date=last, first_date=first)
    history.values  # noqa: B018  (computed once, before anything is timed)
    return history


def run_suite(profile: Profile, latencies_ms: list[int], inline: bool = False,
              keep: Path | None = None) -> dict:
    """Every section at every latency; returns the figures (see `report.render`)."""
    started = time.perf_counter()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sco-bench-", dir=keep))
    figures: dict = {
        "profile": profile.name,
        "latencies_ms": latencies_ms,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "mode": "inline" if inline else "worker processes",
    }
    try:
        with LoadMonitor() as load:
            history = build_history(profile)
            figures["history"] = {"first": str(history.first_date), "last": str(history.last_date),
                                  "currency_ids": len(history.series)}
            suite = Suite(profile, work, inline)
            timer = _SectionTimer(figures)
            with serve_cbr(history) as (cbr, url), suite.started():
                timer.lap("start-up")
                if suite.prefect:
                    figures["prefect_server_startup_seconds"] = suite.prefect.startup_seconds
                figures["backfill"] = {}
                for n, ms in enumerate(latencies_ms):
                    figures["backfill"][str(ms)] = _guarded(
                        backfill_section, suite, cbr, url, history, ms, first=n == 0)
                    timer.lap(f"backfill {ms} ms")
                figures["catchup"] = _guarded(
                    catchup_section, suite, cbr, url, history, latencies_ms)
                timer.lap("catch-up")
                full_data = work / f"sco-{latencies_ms[0]}ms"
                log.info("queries")
                figures["queries"] = _guarded(
                    suite.job, "queries", {"data_dir": str(full_data),
                                           "runs": profile.query_runs})
                timer.lap("queries")
                log.info("news")
                figures["news"] = _guarded(
                    suite.job, "news", {"root": str(work / "news"),
                                        "sources": profile.news_sources,
                                        "items": profile.news_items,
                                        "rounds": profile.news_rounds})
                timer.lap("news")
                if profile.cli and not inline:
                    log.info("command line")
                    cbr.latency = 0
                    figures["cli"] = _guarded(cli_section, work, url, _small_store(figures),
                                              profile.catchup_runs)
                    timer.lap("command line")
        figures["load_average"] = load.summary()
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    figures["duration_seconds"] = time.perf_counter() - started
    figures["targets"] = targets(figures)
    return figures


def _small_store(figures: dict) -> dict:
    """The smaller store of the catch-up section, which the command-line catch-ups copy."""
    stores = figures["catchup"]["stores"]
    return stores[min(stores, key=int)]


def _guarded(section, *args, **kwargs) -> dict:
    """A section's figures, or the error that stopped it: one failure loses one section."""
    try:
        return section(*args, **kwargs)
    except Exception as error:
        log.exception("section failed")
        return {"error": f"{type(error).__name__}: {error}"}


class _SectionTimer:
    """Wall time of each part of the run, kept in the figures (`section_seconds`)."""

    def __init__(self, figures: dict) -> None:
        self.laps = figures.setdefault("section_seconds", {})
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", default="0,50",
                        help="added latency per CBR request, comma-separated (default 0,50)")
    parser.add_argument("--quick", action="store_true",
                        help="the small variant: 2 years, 4 currencies, no CLI run")
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON file to write (default benchmarks/results/latest.json; "
                             "benchmarks/results/quick.json with --quick)")
    parser.add_argument("--inline", action="store_true",
                        help="run the jobs in this process (what the test does); memory "
                             "figures are then this process's")
    parser.add_argument("--update-docs", action="store_true",
                        help="also write the table, the machine and the load into "
                             "docs/PERFORMANCE.md (its `Latest run` section)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the data directories and logs under this directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    profile = QUICK if args.quick else FULL
    latencies = [int(ms) for ms in args.latency_ms.split(",") if ms.strip()]
    figures = run_suite(profile, latencies, inline=args.inline, keep=args.keep)
    output = args.output or (LATEST_JSON if profile is FULL
                             else LATEST_JSON.with_name("quick.json"))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(figures, indent=1, default=str) + "\n")
    table = report.render(figures)
    print(table)
    print(f"\nwritten: {output}")
    if args.update_docs:
        report.update_docs(PERFORMANCE_MD, table, figures)
        print(f"updated: {PERFORMANCE_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
