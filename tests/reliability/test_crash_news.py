"""Crash safety of news ingestion: SIGKILL the real `ingest_news` at many points, then rerun.

The warehouse holds the 17 December snapshot of the InfoSHOS feed; the killed run reads the
13 January snapshot, the Atom feed and the HTML listing, and fetches every article page. The
checks are those of `test_crash_rates.py`: lock free at once, nothing unreadable, recovery to
exactly before or exactly after, and a rerun identical to a clean run.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pytest
from pytest_httpserver import HTTPServer

from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.maintenance import maintain
from tests.fakes.crash import KILLED, inspect_after_kill, run_flow, subprocess_env
from tests.fakes.news_site import FIXTURES, HTML, NewsSite, fixture
from tests.fakes.reliability import (
    duplicate_keys,
    leftovers,
    lock_is_free,
    lost_rows,
    partial_files,
    snapshot,
)
from tests.reliability.test_crash_rates import describe

pytestmark = pytest.mark.usefixtures("prefect_harness")

SNAPSHOTS = ("rss_en_2020-01-13.xml", "atom_en.xml", "news_list_en.html")


@pytest.fixture(scope="module")
def news_states(tmp_path_factory, prefect_harness):
    """The site, the warehouse before the run, and the content before and after a clean run."""
    from sco_etl.flows.news import ingest_news

    server = HTTPServer(threaded=True)
    server.start()
    site = NewsSite(server)
    article = fixture("article_en_moiseev_interview.html")
    ids = set()
    for name in ("rss_en_2019-12-17.xml", *SNAPSHOTS):
        ids |= set(re.findall(r"idn=(\d+)", (FIXTURES / name).read_text()))
    for number in ids:  # every item's article page exists: a rerun has nothing left to retry
        site.serve(f"/en/?idn={number}", article, HTML)
    old = site.serve("/rss.xml", site.local("rss_en_2019-12-17.xml"))
    feeds = [old, site.serve("/atom.xml", site.local("atom_en.xml"), "application/atom+xml"),
             site.serve("/en/", site.local("news_list_en.html"), HTML)]
    base = tmp_path_factory.mktemp("news-crash")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
        monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
        ingest_news(feeds=[old], fetch_articles=False, data_dir=str(base / "before"))
        site.serve("/rss.xml", site.local("rss_en_2020-01-13.xml"))
        shutil.copytree(base / "before", base / "clean")
        summary = ingest_news(feeds=feeds, fetch_articles=True, data_dir=str(base / "clean"))
    assert summary["articles"] >= 15
    yield {
        "root": base / "before", "feeds": feeds,
        "before": snapshot(Warehouse(base / "before")),
        "after": snapshot(Warehouse(base / "clean")),
    }
    server.stop()


def crash_and_rerun(states: dict, kills: list[str], tmp_path, pycache, monkeypatch,
                    reliability, suite: str) -> None:
    from sco_etl.flows.news import ingest_news

    root = tmp_path / "data"
    shutil.copytree(states["root"], root)
    kwargs = {"feeds": states["feeds"], "fetch_articles": True, "data_dir": str(root)}
    env = subprocess_env(pycache)
    seen = []
    for number, kill in enumerate(kills):
        result = run_flow("news", kwargs, env, kill, tmp_path / f"run{number}.log")
        assert result.returncode == KILLED, (kill, result.returncode, result.stderr[-3000:])
        after_kill = inspect_after_kill(root, states["before"], states["after"], tmp_path)
        assert after_kill.lock_free and after_kill.unreadable == 0
        assert after_kill.visible in ("before", "after"), after_kill
        assert after_kill.recovered == after_kill.visible, after_kill
        assert after_kill.orphans_after_maintenance == 0, after_kill
        assert after_kill.rows_lost == 0
        seen.append(after_kill)
    monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    ingest_news(**kwargs)
    warehouse = Warehouse(root)
    final = snapshot(warehouse)
    assert final == states["after"]
    assert duplicate_keys(warehouse) == {}
    maintain(warehouse, orphan_grace=dt.timedelta(0))
    assert snapshot(warehouse) == final
    assert leftovers(root) == {"tmp": [], "orphans": [], "unreadable": []}
    assert lock_is_free(root)
    first = seen[0]
    reliability.record(
        suite, " then ".join(kills), f"SIGKILL {describe(kills[0])}",
        f"left {first.orphans} uncommitted file(s), deleted by maintenance; a reader at once "
        f"saw '{first.visible}' exactly; rerun equals a clean run, no duplicate key",
        rows_lost=lost_rows(states["after"], final), partial_files=partial_files(root),
        kill_points=len(kills))


def test_news_run_killed_before_its_commit_then_rerun(news_states, tmp_path, pycache,
                                                      monkeypatch, reliability):
    crash_and_rerun(news_states, ["commit:1"], tmp_path, pycache, monkeypatch, reliability,
                    "crash: news ingestion (fast)")


SLOW_POINTS = ["http:2", "http:9", "begin:1", "upsert:1", "committed:1"]


@pytest.mark.slow
@pytest.mark.parametrize("kill", SLOW_POINTS)
def test_news_run_killed_then_rerun_equals_a_clean_run(news_states, kill, tmp_path, pycache,
                                                       monkeypatch, reliability):
    crash_and_rerun(news_states, [kill], tmp_path, pycache, monkeypatch, reliability,
                    "crash: news ingestion (slow)")
