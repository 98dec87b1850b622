"""The benchmark suite's quick variant, so that it cannot rot (issue 6).

Figures are not judged here (performance is measured by `python -m benchmarks.run`, not by
timed tests): these tests check that every section runs and reports sane values.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from benchmarks import report
from benchmarks.measure import child_env, run_worker
from benchmarks.run import main, run_suite
from benchmarks.servers import serve_cbr
from benchmarks.settings import QUICK
from tests.fakes.cbr_history import History


@pytest.fixture(scope="module")
def figures(prefect_harness):
    return run_suite(QUICK, [0, 50], inline=True)


def test_backfill_section_has_both_latencies_and_the_peer(figures):
    for ms in ("0", "50"):
        section = figures["backfill"][ms]
        sco, peer = section["sco_etl"], section["peer"]
        # 4 codes -> 4 currency IDs, each asked with XML_dynamic; at most 3 requests per ID.
        assert sco["server"]["dynamic_ids"] == 4 and sco["requests"] <= 3 * 4
        assert sco["rows_written"] > 1000 and sco["state"] == "COMPLETED"
        assert 5 <= sco["task_runs"] <= 100
        assert 0 < sco["seconds"] < 600 and 0 < sco["peak_rss_mb"] < 4096
        assert peer["requests"] == QUICK.peer_days and peer["rows"] > 0
        assert peer["full_requests"] > 700 and peer["scaled_seconds"] > peer["seconds"]


def test_catchup_section_rewrites_only_the_current_year(figures):
    catchup = figures["catchup"]
    assert set(catchup["stores"]) == {"1", "2"}
    for store in catchup["latencies"]["0"].values():
        (run,) = store["runs"]
        assert run["rows_written"] > 0 and run["bytes_changed"] > 0
        assert run["rates_partitions_rewritten"] == catchup["expected_partitions"]


def test_queries_section_answers_alike_on_both_engines(figures):
    queries = figures["queries"]["queries"]
    assert set(queries) == {"monthly_average", "currency_series", "board_one_date",
                            "cross_rate_series"}
    for query in queries.values():
        assert query["duckdb_rows"] == query["pandas_rows"] > 0
        assert query["same_answer"]  # pandas is an independent implementation of each view
        assert query["duckdb_ms"] > 0 and query["pandas_ms"] > 0


def test_news_section_runs_the_realistic_workload(figures):
    news = figures["news"]
    assert news["status"] == "measured" and news["sources"] == QUICK.news_sources
    (round_,) = news["rounds"]
    # every source asked once, and the changed one's five new items' article pages
    assert round_["requests"] == QUICK.news_sources + 5
    assert round_["rows_written"] == 5 and round_["status"] == "completed"
    assert news["floor_seconds"] == pytest.approx((QUICK.news_sources + 5) * 0.1)
    assert news["times_floor"] > 1


def test_table_and_targets_cover_every_section(figures):
    text = report.render(figures)
    for heading in ("1. Full-history backfill", "2. Daily catch-up", "3. Queries", "4. News",
                    "Targets", "load average"):
        assert heading in text
    names = " ".join(t["target"] for t in figures["targets"])
    for part in ("requests per currency ID", "task runs", "peak RSS", "faster than the peer",
                 "own work", "cost ratio", "only changed partitions", "faster than pandas",
                 "monthly average"):
        assert part in names
    json.dumps(figures)  # what `benchmarks.run` writes


def test_peer_runs_in_a_worker_process(tmp_path):
    """The process-per-job path of the full suite, on a few days of the peer."""
    last = dt.date.today()
    # Forty days back: even across the New Year holidays some rates were set before.
    history = History(last_date=last, first_date=last - dt.timedelta(days=40))
    with serve_cbr(history) as (cbr, url):
        result = run_worker("peer", {
            "cbr_url": url, "start": str(last - dt.timedelta(days=2)), "end": str(last),
            "data_dir": str(tmp_path / "peer"), "currencies": ["CNY"],
        }, child_env(), tmp_path)
    assert result["requests"] == 3 == cbr.requests["XML_daily.asp"]
    assert result["process"]["peak_rss_mb"] > 0
    assert list((tmp_path / "peer" / "rates").glob("year=*/data.parquet"))


def test_command_line_help():
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
