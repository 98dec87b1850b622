"""The two profiles of the suite: the full one, and the quick one the test command runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATEST_JSON = RESULTS_DIR / "latest.json"
PERFORMANCE_MD = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"
FIRST_RATE_DATE = dt.date(1992, 7, 1)


@dataclass(frozen=True)
class Profile:
    """How much history to serve and how much work each section does.

    Attributes:
        name: `full` or `quick`.
        history_years: years of synthetic history the fake CBR serves; None for all of it.
        currencies: ISO codes to ingest; None for sco-etl's default (every SCO currency).
        peer_days: calendar days the peer fetches day by day; its figure for the whole
            history is scaled by request count.
        catchup_years: years of history stored before the catch-up runs (small, large).
        catchup_runs: catch-up repetitions per store (median reported).
        query_runs: timed repetitions per query (after one warm-up; median reported).
        news_sources: sources of the news workload (a tenth of them change each round).
        news_items: items per source.
        news_rounds: timed rounds of the news workload (median reported).
        cli: also time the plain `sco-etl rates` CLI, temporary Prefect server included.
        warm_up: one unmeasured backfill first (fills the server's cache and the OS's).
        interval_cost: one more loopback backfill with SCO_ETL_REQUEST_INTERVAL=0.
        catchup_every_latency: the catch-up at every latency, not only the first.
    """

    name: str
    history_years: int | None
    currencies: tuple[str, ...] | None
    peer_days: int
    catchup_years: tuple[int, int]
    catchup_runs: int
    query_runs: int
    news_sources: int
    news_items: int
    news_rounds: int
    cli: bool
    warm_up: bool = True
    interval_cost: bool = True
    catchup_every_latency: bool = True


FULL = Profile(
    name="full", history_years=None, currencies=None, peer_days=366,
    catchup_years=(1, 30), catchup_runs=3, query_runs=7, news_sources=40,
    news_items=50, news_rounds=3, cli=True,
)
QUICK = Profile(
    name="quick", history_years=2, currencies=("CNY", "KZT", "INR", "IRR"), peer_days=20,
    catchup_years=(1, 2), catchup_runs=1, query_runs=2, news_sources=10,
    news_items=10, news_rounds=1,
    cli=False, warm_up=False, interval_cost=False, catchup_every_latency=False,
)

TARGETS = {
    "backfill_requests_per_id": 3,
    "backfill_task_runs": 100,
    "backfill_speedup_at_50ms": 30.0,
    "backfill_peak_rss_mb": 600.0,
    "backfill_work_seconds_loopback": 5.0,
    "catchup_ratio": 1.3,
    "query_speedup": 3.0,
    "monthly_average_ms": 50.0,
}
"""The targets of issue 6 (on the 2-core build machine)."""

CLI_TARGETS = {
    "backfill_work_seconds_at_50ms": 4.0,
    "flow_speedup_at_50ms": 150.0,
    "cli_speedup_at_50ms": 35.0,
    "catchup_with_server_seconds": 3.0,
    "failed_run_lines": 6,
    # issue 19: Prefect's start-up paid once per working session
    "catchup_warm_seconds": 2.0,
    "catchup_warm_to_cold": 0.3,
    "catchup_first_of_day_seconds": 6.0,
    "catchup_new_requests": 3,
    "cli_backfill_speedup_at_50ms": 60.0,
    "backfill_tree_rss_mb": 450.0,
    "help_seconds": 0.5,
    "input_error_seconds": 1.0,
}
"""The targets of issues 11 and 19: a quick, quiet CLI and the pipeline near its floor."""

NEWS_TIMES_FLOOR = 1.5
"""Issue 19: a news run of the realistic workload within 1.5 × its politeness floor."""
