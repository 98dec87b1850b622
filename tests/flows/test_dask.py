"""Both flows on a Dask cluster of worker processes give the warehouse the default runner gives.

The cluster is a `distributed.LocalCluster` of two worker processes, reached by its address
the way a real cluster is (`DaskTaskRunner(address=...)`): the fetch shares run in those
processes, so everything they take and return crosses a process boundary by pickle.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import pickle

import pytest

from sco_etl.schemas import CURRENCIES, NEWS, RATES
from sco_etl.warehouse import Warehouse
from tests.fakes.news_site import HTML, NewsSite, fixture

pytestmark = pytest.mark.usefixtures("prefect_harness")

LINEAGE = {"loaded_at", "run_id", "first_seen_at", "last_seen_at", "updated_at",
           "article_fetched_at"}
"""Columns that say when and by which run a row was written, not what it holds."""


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                      dashboard_address=None) as local:
        yield local


def dask_runner(cluster):
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=cluster.scheduler_address)


@contextlib.contextmanager
def watching(cluster):
    """The tasks the cluster's workers ran meanwhile (Dask's task stream)."""
    from distributed import Client, get_task_stream

    with Client(cluster.scheduler_address) as client, get_task_stream(client) as stream:
        yield stream


def contents(warehouse: Warehouse, table, key: list[str]) -> list[dict]:
    rows = [{k: v for k, v in row.items() if k not in LINEAGE}
            for row in warehouse.read(table).to_pylist()]
    return sorted(rows, key=lambda row: tuple(str(row[k]) for k in key))


def test_rates_on_dask_equal_the_default_runner(cbr_env, tmp_path, cluster):
    from sco_etl.flows.rates import ingest_rates

    backfill = {"start": dt.date(2016, 6, 1), "end": dt.date(2016, 7, 31),
                "currencies": ["BYN", "CNY", "KZT", "INR"]}
    default = ingest_rates(**backfill, data_dir=str(tmp_path / "default"))
    with watching(cluster) as stream:
        on_dask = ingest_rates.with_options(task_runner=dask_runner(cluster))(
            **backfill, data_dir=str(tmp_path / "dask"))
    assert on_dask == default
    # 61 days of 5 IDs: one XML_dynamic request per ID, dealt into 4 shares on the workers.
    assert len(stream.data) == 4
    assert default["inserted"] > 150 and default["rejected"] == 0
    one, other = Warehouse(tmp_path / "default"), Warehouse(tmp_path / "dask")
    assert contents(other, RATES, ["rate_date", "cbr_id"]) == (
        contents(one, RATES, ["rate_date", "cbr_id"]))
    assert contents(other, CURRENCIES, ["cbr_id"]) == contents(one, CURRENCIES, ["cbr_id"])


def test_news_on_dask_equal_the_default_runner(httpserver, tmp_path, monkeypatch, cluster):
    from sco_etl.flows.news import ingest_news

    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    site = NewsSite(httpserver)
    feed = site.serve("/atom.xml", site.local("atom_en.xml"), "application/atom+xml")
    listing = site.serve("/en/", site.local("news_list_en.html"), HTML)
    site.serve("/en/?idn=9472", fixture("article_en_moiseev_interview.html"), HTML)
    run = {"feeds": [feed, listing], "fetch_articles": True, "article_workers": 3}
    default = ingest_news(**run, data_dir=str(tmp_path / "default"))
    with watching(cluster) as stream:
        on_dask = ingest_news.with_options(task_runner=dask_runner(cluster))(
            **run, data_dir=str(tmp_path / "dask"))
    # Requests made on a Dask worker are counted on the worker's copy of the run (tasks/run.py).
    assert {**on_dask, "requests": None} == {**default, "requests": None}
    assert len(stream.data) == 3  # the article pages, in three shares
    assert default["inserted"] >= 20 and default["articles"] >= 10
    one, other = Warehouse(tmp_path / "default"), Warehouse(tmp_path / "dask")
    stored = contents(one, NEWS, ["item_id"])
    assert contents(other, NEWS, ["item_id"]) == stored
    assert sum(1 for row in stored if row["body"]) >= 1


def test_every_task_takes_inputs_that_pickle(cbr_env, httpserver, tmp_path, monkeypatch):
    """Each task of both flows gets its arguments back from a pickle round trip, and works
    on those copies: no live object (session, lock, connection) crosses a task boundary."""
    from sco_etl.flows.news import ingest_news
    from sco_etl.flows.rates import ingest_rates
    from sco_etl.tasks.cbr import board
    from sco_etl.tasks.cbr import prefect_tasks as cbr
    from sco_etl.tasks.news import client, load, plan, rows, summary

    called = []
    for module in (cbr, board, client, plan, rows, load, summary):
        for task in vars(module).values():
            if hasattr(task, "fn") and hasattr(task, "submit"):
                monkeypatch.setattr(task, "fn", _through_pickle(task.fn, called))
    parameters = {"start": dt.date(2025, 3, 1), "end": dt.date(2025, 4, 3),
                  "currencies": ["CNY"], "data_dir": str(tmp_path / "rates")}
    assert pickle.loads(pickle.dumps(parameters)) == parameters
    ingest_rates(**parameters)
    site = NewsSite(httpserver)
    feed = site.serve("/rss_en.xml", site.local("rss_en_2019-12-17.xml"))
    ingest_news(feeds=[feed], fetch_articles=True, data_dir=str(tmp_path / "news"))
    assert {"plan_rates", "fetch_rates", "validate_rates", "write_rates", "publish_summary",
            "publish_board", "read_feed_state", "fetch_sources", "read_sources",
            "plan_articles", "fetch_articles", "join_rows", "validate_news", "write_news",
            "refresh_search_index"} <= set(called)


def _through_pickle(fn, called: list[str]):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        called.append(fn.__name__)
        args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
        return fn(*args, **kwargs)

    return run
